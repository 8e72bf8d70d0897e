"""ck.io.load_torch: torch.save files written here, read back without torch; hostile files refused unrun."""
from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.io import TorchFileError, convert_torch, load_torch
from cnnkit.io.torch_file import read_torch
from tests.models.torch_reference import ref_resnet18

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
          torch.int8, torch.uint8, torch.bool]


def _expected(t: torch.Tensor) -> np.ndarray:
    return (t.float() if t.dtype == torch.bfloat16 else t).detach().contiguous().numpy()


def _sample(dtype, shape=(3, 5)) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g).to(dtype)
    return torch.randint(0 if dtype == torch.uint8 else -100, 100, shape, generator=g).to(dtype)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_dtype_reads_the_bytes_torch_wrote(tmp_path, dtype, legacy):
    t = _sample(dtype)
    path = tmp_path / "t.pt"
    torch.save({"x": t, "scalar": t[0, 0].clone()}, path, _use_new_zipfile_serialization=not legacy)
    sd = load_torch(path)
    assert set(sd) == {"x", "scalar"}
    for k, ref in (("x", t), ("scalar", t[0, 0])):
        got = sd[k]
        assert isinstance(got, ck.Tensor)
        want = _expected(ref)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got._data, want)


def test_bfloat16_becomes_float32_exactly(tmp_path):
    t = torch.tensor([1.0, -2.5, 3.140625, 1e30, -1e-30, float("inf")], dtype=torch.bfloat16)
    torch.save({"b": t}, tmp_path / "b.pt")
    got = load_torch(tmp_path / "b.pt")["b"]._data
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, t.float().numpy())


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_and_shared_storages(tmp_path, legacy):
    base = torch.arange(60, dtype=torch.float32).reshape(5, 12)
    sd = OrderedDict(base=base, strided=base[1:, ::3], transposed=base.t(), row=base[3], offset=base.view(-1)[7:19],
                     alias=base, expanded=base[0:1, :4].expand(6, 4))
    path = tmp_path / "v.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    got = load_torch(path)
    for k, v in sd.items():
        np.testing.assert_array_equal(got[k]._data, v.contiguous().numpy(), err_msg=k)
        assert got[k]._data.flags.c_contiguous and got[k]._data.flags.writeable
    assert got["alias"]._data is got["base"]._data   # one tensor object stored twice stays one (as torch.load)
    got["base"]._data[0, 0] = -1                     # views of it are arrays of their own
    assert got["transposed"]._data[0, 0] == 0 and got["strided"]._data[0, 0] == 12


def test_big_endian_byteorder_record(tmp_path):
    sd = {"f": _sample(torch.float32), "d": _sample(torch.float64), "i": _sample(torch.int64),
          "h": _sample(torch.float16), "bf": _sample(torch.bfloat16), "b": _sample(torch.bool)}
    little = tmp_path / "little.pt"
    torch.save(sd, little)
    big = tmp_path / "big.pt"
    with zipfile.ZipFile(little) as zin, zipfile.ZipFile(big, "w") as zout:   # rewrite as a big-endian machine
        pkl = next(n for n in zin.namelist() if n.endswith("/data.pkl"))
        root = pkl[:-len("data.pkl")]
        storages = {}   # storage key -> itemsize, from the tensors' dtypes
        for name in zin.namelist():
            data = zin.read(name)
            if name == root + "byteorder":
                data = b"big"
            elif name.startswith(root + "data/"):
                storages[name] = data
                continue
            zout.writestr(name, data)
        # the storages in the order torch numbers them: the dict's order
        for (name, data), t in zip(sorted(storages.items(), key=lambda kv: int(kv[0].rsplit("/", 1)[1])),
                                   sd.values(), strict=True):
            size = t.element_size()
            zout.writestr(name, np.frombuffer(data, f"<u{size}" if size > 1 else "u1").byteswap().tobytes())
    got = load_torch(big)
    for k, v in sd.items():
        np.testing.assert_array_equal(got[k]._data, _expected(v), err_msg=k)


def _randomized_ref_resnet18(num_classes=10):
    ref = ref_resnet18(num_classes)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, b in ref.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
        for name, p in ref.named_parameters():
            if name.endswith(".weight") and p.ndim == 1:    # BN scale near 1
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
    return ref.eval()


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_resnet18_state_dict_gives_torchs_logits(tmp_path, legacy):
    ref = _randomized_ref_resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    model = ck.models.resnet18(num_classes=10)
    model.load_state_dict(load_torch(path))
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():   # the oracle: torch in float64 on the same float32 weights and input
        want = ref.double()(torch.from_numpy(x).double()).numpy()
    with ck.no_grad():
        got = model(ck.tensor(x))._data
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_nested_state_dict_and_key(tmp_path):
    ref = _randomized_ref_resnet18()
    path = tmp_path / "train.pth"
    torch.save({"epoch": 7, "state_dict": ref.state_dict(), "model": {"ema": ref.state_dict()},
                "optimizer": {"lr": 0.1}}, path)
    with pytest.raises(TorchFileError, match=r"key=.*'epoch', 'state_dict', 'model', 'optimizer'"):
        load_torch(path)
    model = ck.models.resnet18(num_classes=10)
    model.load_state_dict(load_torch(path, key="state_dict"))
    model.load_state_dict(load_torch(path, key="model.ema"))
    with pytest.raises(TorchFileError, match=r"no entry 'weights'.*'epoch', 'state_dict'"):
        load_torch(path, key="weights")
    with pytest.raises(TorchFileError, match="does not hold a state dict; it holds a int"):
        load_torch(path, key="epoch")


def test_convert_torch_writes_a_cnnkit_checkpoint(tmp_path):
    ref = _randomized_ref_resnet18()
    src = tmp_path / "in.pth"
    torch.save({"model": ref.state_dict()}, src)
    out = tmp_path / "out.safetensors"
    n = convert_torch(src, out, key="model")
    assert n == len(ref.state_dict())
    back = ck.load(out)
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(back[k]._data, v.numpy(), err_msg=k)
    model = ck.models.resnet18(num_classes=10)
    model.load_state_dict(back)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporary left


# ----- hostile and broken files ------------------------------------------------------------------------------

class _Payload:
    """Pickles as a call of ``fn(*args)``: what an attacker puts into a checkpoint."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _marker_payloads(marker):
    cmd = f"touch {marker}"
    return {
        "os.system": _Payload(os.system, cmd),
        "builtins.eval": _Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        "builtins.exec": _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.call": _Payload(subprocess.call, ["touch", str(marker)]),
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.exec", "subprocess.call"])
def test_code_in_the_pickle_is_refused_and_never_runs(tmp_path, kind, legacy):
    marker = tmp_path / "pwned"
    payload = _marker_payloads(marker)[kind]
    nested = {"weight": torch.ones(2), "meta": [1, {"deep": (payload,)}]}   # the payload nested in containers
    path = tmp_path / "evil.pth"
    torch.save(nested, path, _use_new_zipfile_serialization=not legacy)
    module, name = {"os.system": ("posix", "system"), "builtins.eval": ("builtins", "eval"),
                    "builtins.exec": ("builtins", "exec"), "subprocess.call": ("subprocess", "call")}[kind]
    with pytest.raises(TorchFileError, match=rf"global '{module}\.{name}'.*refused \(nothing was run\)"):
        load_torch(path)
    assert not marker.exists()


def _zip_checkpoint(path, pkl: bytes, members: dict | None = None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for k, v in (members or {}).items():
            z.writestr(f"archive/data/{k}", v)


def test_a_live_payload_without_storages_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    pkl = pickle.dumps({"a": [_Payload(os.system, f"touch {marker}")]}, protocol=2)
    pickle.loads(pkl)                     # the payload is live: plain pickle runs it
    assert marker.exists()
    marker.unlink()
    _zip_checkpoint(tmp_path / "e.pth", pkl)
    with pytest.raises(TorchFileError, match=r"global 'posix\.system'"):
        load_torch(tmp_path / "e.pth")
    assert not marker.exists()


def test_reduce_of_an_allowed_non_function_and_other_globals_refused(tmp_path):
    # getattr would let a pickle reach anything; a storage type marker is not callable
    for obj, match in ((_Payload(getattr, "os", "system"), r"'builtins\.getattr'"),
                       (_Payload(torch.FloatStorage, 3), "not a readable checkpoint pickle"),
                       (_Payload(np.ones, 3), r"'numpy\.(_core\.numeric\.)?ones'"),
                       (_Payload(torch.nn.Linear, 2, 2), r"'torch\.nn\.modules\.linear\.Linear'")):
        _zip_checkpoint(tmp_path / "e.pth", pickle.dumps({"x": obj}, protocol=2))
        with pytest.raises(TorchFileError, match=match):
            load_torch(tmp_path / "e.pth")


class _StoragePickler(pickle.Pickler):
    """Writes torch's persistent ids for ``_FakeStorage`` (so that sizes can be forged)."""

    def persistent_id(self, obj):
        if isinstance(obj, _FakeStorage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


class _FakeStorage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


def _forged(path, numel, size, stride, offset=0, data=b"\0" * 16):
    rebuild = torch._utils._rebuild_tensor_v2
    obj = {"w": _Payload(rebuild, _FakeStorage("0", numel), offset, size, stride, False, OrderedDict())}
    buf = io.BytesIO()
    _StoragePickler(buf, protocol=2).dump(obj)
    _zip_checkpoint(path, buf.getvalue(), {"0": data})


def test_forged_sizes_are_refused_without_allocating(tmp_path):
    p = tmp_path / "f.pth"
    _forged(p, 4, (2, 2), (2, 1))
    np.testing.assert_array_equal(load_torch(p)["w"]._data, np.zeros((2, 2), np.float32))   # the forger works
    _forged(p, 10**15, (4,), (1,))
    with pytest.raises(TorchFileError, match=r"declares 1000000000000000 elements .* member holds 16 bytes"):
        load_torch(p)
    _forged(p, 4, (3, 2), (2, 1))
    with pytest.raises(TorchFileError, match="reaches element 5 of a storage of 4 elements"):
        load_torch(p)
    _forged(p, 4, (10**6, 10**6), (0, 0))
    with pytest.raises(TorchFileError, match="is refused"):
        load_torch(p)
    _forged(p, 4, (2, -1), (1, 1))
    with pytest.raises(TorchFileError, match="non-negative ints"):
        load_torch(p)
    _forged(p, 4, (2,), (1,), offset=3)
    with pytest.raises(TorchFileError, match="reaches element 4"):
        load_torch(p)


def test_truncated_and_foreign_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(1000)}, good)
    data = good.read_bytes()
    cut = tmp_path / "cut.pth"
    for n in (len(data) // 2, len(data) - 30, 100):
        cut.write_bytes(data[:n])
        with pytest.raises(TorchFileError, match="truncated|corrupt"):
            load_torch(cut)
    legacy = tmp_path / "legacy.pth"
    torch.save({"w": torch.ones(1000)}, legacy, _use_new_zipfile_serialization=False)
    ldata = legacy.read_bytes()
    for n in (len(ldata) - 10, len(ldata) - 4000, 20):
        cut.write_bytes(ldata[:n])
        with pytest.raises(TorchFileError, match="truncated|corrupt"):
            load_torch(cut)
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(TorchFileError, match="not a PyTorch checkpoint"):
        load_torch(tmp_path / "text.pth")
    with pytest.raises(TorchFileError, match="no file"):
        load_torch(tmp_path / "missing.pth")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(TorchFileError, match="not a torch.save checkpoint"):
        load_torch(tmp_path / "other.zip")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(TorchFileError, match="not a torch.save checkpoint"):
        load_torch(plain)


def test_a_missing_storage_member(tmp_path):
    p = tmp_path / "m.pth"
    _forged(p, 4, (4,), (1,))
    with zipfile.ZipFile(p) as z:
        pkl = z.read("archive/data.pkl")
    _zip_checkpoint(p, pkl)
    with pytest.raises(TorchFileError, match="storage '0' has no member"):
        load_torch(p)


def test_load_torch_needs_only_numpy(tmp_path):
    """In a fresh interpreter where torch, onnx, onnxruntime and safetensors cannot be imported, ``import cnnkit``
    and ``load_torch`` work, and the only third-party package they import is NumPy."""
    torch.save({"w": torch.arange(3.0)}, tmp_path / "w.pth")
    code = ("import sys\n"
            "for name in ('torch', 'onnx', 'onnxruntime', 'safetensors'):\n"
            "    sys.modules[name] = None\n"                       # any import of them now fails
            "import cnnkit as ck\n"
            f"print(ck.io.load_torch({str(tmp_path / 'w.pth')!r})['w'].data.tolist())\n"
            "loaded = {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
            "print(' '.join(sorted(m for m in loaded - set(sys.stdlib_module_names) if not m.startswith('_'))))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    values, packages = out.stdout.strip().splitlines()
    assert values == "[0.0, 1.0, 2.0]"
    assert set(packages.split()) - {"cython_runtime"} == {"cnnkit", "numpy"}   # (NumPy's Cython registers that)


def test_read_torch_keeps_plain_values(tmp_path):
    torch.save({"epoch": 3, "lr": 0.5, "name": "x", "flags": [True, None], "t": (1, 2)}, tmp_path / "p.pt")
    assert read_torch(tmp_path / "p.pt") == {"epoch": 3, "lr": 0.5, "name": "x", "flags": [True, None],
                                             "t": (1, 2)}


def test_a_forged_memo_index_is_refused_before_unpickling(tmp_path):
    # LONG_BINPUT 2**31 would make the unpickler allocate a memo table of 2**32 entries
    pkl = b"\x80\x02}r\x00\x00\x00\x80."    # PROTO 2, EMPTY_DICT, LONG_BINPUT 2**31, STOP
    _zip_checkpoint(tmp_path / "m.pth", pkl)
    with pytest.raises(TorchFileError, match="memo index 2147483648"):
        read_torch(tmp_path / "m.pth")


def test_a_zip_member_declaring_more_bytes_than_the_file(tmp_path):
    p = tmp_path / "z.pth"
    torch.save({"w": torch.ones(4)}, p)
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    # patch the uncompressed size in the central directory entry of that member
    start = 0
    while True:
        cd = data.find(b"PK\x01\x02", start)
        name_len = int.from_bytes(data[cd + 28:cd + 30], "little")
        if data[cd + 46:cd + 46 + name_len].decode() == info.filename:
            break
        start = cd + 4
    data[cd + 20:cd + 24] = (2**31).to_bytes(4, "little")   # compressed size
    data[cd + 24:cd + 28] = (2**31).to_bytes(4, "little")   # uncompressed size
    p.write_bytes(bytes(data))
    with pytest.raises(TorchFileError, match=r"truncated or corrupt: member '.*/data/0' declares 2147483648 bytes"):
        load_torch(p)


def test_the_pre_1_0_tar_format_is_named(tmp_path):
    import tarfile

    p = tmp_path / "old.tar"
    with tarfile.open(p, "w") as tar:
        for name in ("sys_info", "pickle", "storages", "tensors"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"\x80\x02N."))
    with pytest.raises(TorchFileError, match="pre-1.0 tar format, which is not supported"):
        load_torch(p)
