"""Checkpoint integrity: save records a SHA-256 per tensor, load verifies it (verify=False opts out), checkpoints
written before the digests existed still load."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnkit as ck
from cnnkit.io.checkpoint import CheckpointError, load, save

ARRAYS = {"w": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7, "b": np.arange(5, dtype=np.float64),
          "count": np.array(3, np.int64), "mask": np.array([True, False, True]), "u": np.arange(9, dtype=np.uint8)}


def _layout(path):
    """(start of the data section, {tensor path: (first byte, end)} in file offsets)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    start = 8 + n
    return start, {k[1:]: (start + v["data_offsets"][0], start + v["data_offsets"][1])
                   for k, v in header.items() if k != "__metadata__"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "c.safetensors"
    save({"model": {k: ck.tensor(v) for k, v in ARRAYS.items()}, "epoch": 2}, path)
    return path, path.read_bytes()


def test_digests_are_recorded_and_checked_on_a_clean_file(saved):
    path, data = saved
    (n,) = struct.unpack("<Q", data[:8])
    doc = json.loads(json.loads(data[8:8 + n])["__metadata__"]["cnnkit"])
    assert set(doc["sha256"]) == {f"/model/{k}" for k in ARRAYS}
    assert all(len(v) == 64 for v in doc["sha256"].values())
    out = load(path)
    for k, v in ARRAYS.items():
        np.testing.assert_array_equal(out["model"][k].numpy(), v)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_flipped_bit_in_any_tensor_is_detected_and_named(saved, tmp_path_factory, data):
    path, raw = saved
    _, spans = _layout(path)
    spans = {k: s for k, s in spans.items() if s[1] > s[0]}
    name = data.draw(st.sampled_from(sorted(spans)))
    pos = data.draw(st.integers(*spans[name]).filter(lambda p: p < spans[name][1]))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(raw)
    bad[pos] ^= 1 << bit
    target = tmp_path_factory.mktemp("flip") / "c.safetensors"
    target.write_bytes(bytes(bad))
    with pytest.raises(CheckpointError, match=f"tensor '{name}' do not match the SHA-256"):
        load(target)
    # the opt-out reads the damaged values as they are
    got = load(target, verify=False)["model"][name.split("/")[-1]].numpy()
    assert got.tobytes() != ARRAYS[name.split("/")[-1]].tobytes()


def _with_doc(raw: bytes, change) -> bytes:
    """The file with its cnnkit metadata document passed through ``change`` (the data section untouched)."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    doc = json.loads(header["__metadata__"]["cnnkit"])
    change(doc)
    header["__metadata__"]["cnnkit"] = json.dumps(doc)
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + raw[8 + n:]


def _flip_digest(doc):
    key = "/model/b"
    d = doc["sha256"][key]
    doc["sha256"][key] = ("1" if d[0] == "0" else "0") + d[1:]


@pytest.mark.parametrize("change, match", [
    (_flip_digest, "tensor '/model/b' do not match"),
    (lambda doc: doc["sha256"].pop("/model/w"), "tensor '/model/w' is stored without a recorded SHA-256"),
    (lambda doc: doc.update(sha256=["x"]), "table of SHA-256 digests is malformed"),
])
def test_tampered_digest_table_is_reported(saved, tmp_path, change, match):
    p = tmp_path / "t.safetensors"
    p.write_bytes(_with_doc(saved[1], change))
    with pytest.raises(CheckpointError, match=match):
        load(p)
    load(p, verify=False)  # the tensors themselves are intact


def test_checkpoints_without_digests_still_load_quietly(tmp_path, recwarn):
    """A file as cnnkit wrote it before recording digests: same format and version, no 'sha256' entry."""
    from safetensors.numpy import save as st_save

    doc = {"format": "cnnkit-checkpoint", "version": 1, "object": {"w": {"__tensor__": "/w"}, "epoch": 4}}
    p = tmp_path / "old.safetensors"
    p.write_bytes(st_save({"t/w": ARRAYS["w"]}, metadata={"cnnkit": json.dumps(doc)}))
    out = load(p)
    assert out["epoch"] == 4 and not recwarn.list
    np.testing.assert_array_equal(out["w"].numpy(), ARRAYS["w"])


def test_verify_must_be_a_bool(saved):
    with pytest.raises(TypeError, match="verify must be a bool"):
        load(saved[0], verify="no")
