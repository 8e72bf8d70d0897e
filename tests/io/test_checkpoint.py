import json
import os
import struct

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn
from cnnkit.io.checkpoint import CheckpointError, load, save


def _nest():
    return {
        "model": {"conv1.weight": ck.randn(6, 1, 5, 5), "bn.num_batches_tracked": ck.tensor(7),
                  "fc.bias": ck.tensor(np.arange(4, dtype=np.float64))},
        "optimizer": {"state": {0: {"momentum_buffer": np.ones(3, np.float32)}, 1: {}},
                      "param_groups": [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "params": [0, 1]}]},
        "epoch": 3, "best": float("inf"), "name": "run/a%b", "shape": (2, 3), "none": None,
        "rng": ck.get_rng_state(), "mask": np.array([True, False]), "scalar": np.float32(1.5),
    }


def _same(a, b):
    if isinstance(a, ck.Tensor) or isinstance(a, np.ndarray):
        a_arr = a._data if isinstance(a, ck.Tensor) else a
        assert isinstance(b, ck.Tensor)
        assert b.dtype == a_arr.dtype and b.shape == a_arr.shape
        np.testing.assert_array_equal(b._data, a_arr)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.generic):
        assert b == a.item()
    else:
        assert a == b and type(a) is type(b)


def test_round_trip_keeps_structure_dtypes_and_values(tmp_path):
    obj = _nest()
    save(obj, tmp_path / "ck.safetensors")
    _same(obj, load(tmp_path / "ck.safetensors"))


def test_top_level_tensor_and_plain_state_dict(tmp_path):
    t = ck.randn(3, 4, dtype=ck.float64)
    save(t, tmp_path / "t.st")
    _same(t, load(tmp_path / "t.st"))
    sd = {"a": ck.zeros(2), "b.c": ck.ones(1, 2)}
    save(sd, tmp_path / "sd.st")
    _same(sd, load(tmp_path / "sd.st"))


def test_non_contiguous_arrays_are_stored_correctly(tmp_path):
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    views = {"T": base.transpose(2, 0, 1), "step": base[:, ::2, 1::2], "neg": base[::-1]}
    save(views, tmp_path / "v.st")
    back = load(tmp_path / "v.st")
    for k, v in views.items():
        np.testing.assert_array_equal(back[k]._data, v)


def test_keys_that_look_like_paths_or_markers_survive(tmp_path):
    obj = {"a/b": ck.ones(1), "a%2Fb": ck.zeros(1), "__tensor__": 5, "": "empty"}
    save(obj, tmp_path / "k.st")
    back = load(tmp_path / "k.st")
    assert back["a/b"].item() == 1 and back["a%2Fb"].item() == 0 and back["__tensor__"] == 5 and back[""] == "empty"


def test_module_state_dict_round_trip(tmp_path):
    class Net(ck.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = ck.nn.Parameter(ck.randn(4, 3))
            self.register_buffer("count", ck.tensor(0))

    a, b = Net(), Net()
    a.count._data[...] = 9
    save(a.state_dict(), tmp_path / "m.st")
    b.load_state_dict(load(tmp_path / "m.st"))
    np.testing.assert_array_equal(a.w._data, b.w._data)
    assert b.count.item() == 9 and b.count.dtype == np.int64


def test_unsupported_values_raise_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot store a set"):
        save({"x": {1, 2}}, tmp_path / "bad.st")
    with pytest.raises(TypeError, match="dtype"):
        save({"x": np.array(["a"])}, tmp_path / "bad.st")
    assert not (tmp_path / "bad.st").exists()


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "ck.st"
    save({"v": ck.ones(3)}, target)
    before = target.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save({"v": ck.zeros(3)}, target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.st"], "temporary file left behind"


@pytest.mark.parametrize("cut", [0, 5, 8, 20, -1, -7])
def test_truncated_file_raises_checkpoint_error_naming_it(tmp_path, cut):
    path = tmp_path / "ck.st"
    save(_nest(), path)
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(CheckpointError, match="ck.st"):
        load(path)


def test_garbage_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="junk.bin"):
        load(junk)
    from safetensors.numpy import save_file
    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(plain))
    with pytest.raises(CheckpointError, match="not a cnnkit checkpoint"):
        load(plain)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load(tmp_path / "missing.st")
    with pytest.raises(CheckpointError, match="directory"):
        load(tmp_path)


def _rewrite_metadata(path, edit):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    edit(header)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


def test_corrupt_metadata_is_reported(tmp_path):
    path = tmp_path / "ck.st"
    save({"w": ck.ones(2)}, path)

    def drop_reference(h):
        doc = json.loads(h["__metadata__"]["cnnkit"])
        doc["object"]["w"] = {"__tensor__": "/nope"}
        h["__metadata__"]["cnnkit"] = json.dumps(doc)

    _rewrite_metadata(path, drop_reference)
    with pytest.raises(CheckpointError, match="referenced but not stored"):
        load(path)
    save({"w": ck.ones(2)}, path)
    _rewrite_metadata(path, lambda h: h["__metadata__"].update(cnnkit="{not json"))
    with pytest.raises(CheckpointError, match="not a cnnkit checkpoint"):
        load(path)
    save({"w": ck.ones(2)}, path)

    def future_version(h):
        doc = json.loads(h["__metadata__"]["cnnkit"])
        doc["version"] = 99
        h["__metadata__"]["cnnkit"] = json.dumps(doc)

    _rewrite_metadata(path, future_version)
    with pytest.raises(CheckpointError, match="version 99"):
        load(path)
    save({"w": ck.ones(2)}, path)

    def bad_offsets(h):
        key = next(k for k in h if k != "__metadata__")
        h[key]["data_offsets"] = [0, 10 ** 9]

    _rewrite_metadata(path, bad_offsets)
    with pytest.raises(CheckpointError, match="outside the file"):
        load(path)
