"""``ck.io.load_torch``: PyTorch checkpoints (``.pth``/``.pt``) read without torch and without running code.

Two file formats exist:

zip (``torch.save`` since 1.6)
    ``<root>/data.pkl`` (the pickled object), ``<root>/data/<key>`` (one member of raw bytes per storage),
    ``<root>/byteorder`` (``little`` or ``big``; missing means little).
legacy (``_use_new_zipfile_serialization=False``)
    five pickles in a row: magic number, protocol version 1001, system info (its ``little_endian`` is the
    byte order), the object, the list of storage keys; then, for each key in that order, the element
    count as an 8-byte integer followed by the storage's bytes.

The pickles are run by the interpreter of :mod:`cnnkit.io.pickle_vm` (never by Python's unpickler) with the
stand-ins of :mod:`cnnkit.io.torch_pickle`: only tensor/storage rebuilding, ``OrderedDict`` and plain
containers and numbers are admitted. Every size is checked against the bytes actually present before
anything is allocated. (The pre-1.0 tar format is refused by name.)

    model = ck.models.resnet18()
    model.load_state_dict(ck.io.load_torch("resnet18-f37072fd.pth"))
    ck.io.convert_torch("checkpoint.pth", "checkpoint.safetensors", key="state_dict")
"""
from __future__ import annotations

import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from .pickle_vm import UnpickleError, evaluate
from .torch_pickle import Storage, TorchFileError, itemsize, storage_id, unpickle

__all__ = ["load_torch", "convert_torch", "read_torch", "TorchFileError"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_DEFLATE_RATIO = 1032   # DEFLATE cannot expand data more than this: a larger declared size is a lie


# ----- zip format --------------------------------------------------------------------------------------------

def _member_size(info: zipfile.ZipInfo, archive_size: int, where: str) -> int:
    if info.compress_type == zipfile.ZIP_STORED and info.file_size > archive_size:
        raise TorchFileError(f"load_torch: {where} is truncated or corrupt: member '{info.filename}' declares "
                             f"{info.file_size} bytes, the file has {archive_size}")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1):
        raise TorchFileError(f"load_torch: {where}: member '{info.filename}' declares {info.file_size} bytes from "
                             f"{info.compress_size} compressed bytes; refused as corrupt")
    return info.file_size


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int, where: str) -> bytes:
    _member_size(info, archive_size, where)
    try:
        data = zf.read(info)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError) as e:
        raise TorchFileError(f"load_torch: {where} is truncated or corrupt: member '{info.filename}': {e}") from None
    if len(data) != info.file_size:
        raise TorchFileError(f"load_torch: {where} is truncated: member '{info.filename}' has {len(data)} of its "
                             f"{info.file_size} bytes")
    return data


def _read_zip(path: Path, where: str):
    size = path.stat().st_size
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise TorchFileError(f"load_torch: {where} is a truncated or corrupt zip archive ({e})") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        pkls = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise TorchFileError(f"load_torch: {where} is a zip archive but not a torch.save checkpoint "
                                 f"(expected one '<name>/data.pkl', found {len(pkls)}); TorchScript archives "
                                 f"(torch.jit.save) are not supported")
        root = pkls[0][:-len("data.pkl")]
        order = b"little"
        if root + "byteorder" in infos:
            order = _read_member(zf, infos[root + "byteorder"], size, where).strip()
            if order not in (b"little", b"big"):
                raise TorchFileError(f"load_torch: {where}: unknown byte order {order!r}")
        big = order == b"big"
        storages: dict = {}

        def storage_for(pid):
            kind, key, numel, _ = storage_id(pid, where)
            if key in storages:
                st = storages[key]
                if st.kind != kind:
                    raise TorchFileError(f"load_torch: {where}: storage '{key}' is read as {st.kind.name} and "
                                         f"as {kind.name}")
                return st
            info = infos.get(f"{root}data/{key}")
            if info is None:
                raise TorchFileError(f"load_torch: {where} is truncated or corrupt: storage '{key}' has no member "
                                     f"'{root}data/{key}'")
            need = numel * itemsize(kind)
            have = _member_size(info, size, where)
            if need > have:
                raise TorchFileError(f"load_torch: {where}: storage '{key}' declares {numel} elements ({need} bytes) "
                                     f"but its member holds {have} bytes")
            st = storages[key] = Storage(kind, _read_member(zf, info, size, where), numel, big, where)
            return st

        return unpickle(_read_member(zf, infos[pkls[0]], size, where), storage_for, where)[0]


# ----- legacy format -----------------------------------------------------------------------------------------

def _plain(data: bytes, pos: int, where: str, what: str):
    """One pickle of plain values (no globals, no storages) starting at ``pos``; (value, end position)."""
    def refuse(module, name):
        raise TorchFileError(f"load_torch: {where}: the {what} refers to the global '{module}.{name}'; refused")

    try:
        return evaluate(data, refuse, None, (), pos)
    except TorchFileError:
        raise
    except (UnpickleError, ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        raise TorchFileError(f"load_torch: {where} is truncated or corrupt: cannot read the {what} "
                             f"({type(e).__name__}: {e})") from None


def _read_legacy(data: bytes, where: str):
    magic, pos = _plain(data, 0, where, "magic number")
    if magic != _LEGACY_MAGIC:
        raise TorchFileError(f"load_torch: {where} is a pickle but not a torch.save checkpoint (no magic number)")
    protocol, pos = _plain(data, pos, where, "protocol version")
    if protocol != _LEGACY_PROTOCOL:
        raise TorchFileError(f"load_torch: {where}: legacy protocol version {protocol!r} is not supported "
                             f"(expected {_LEGACY_PROTOCOL})")
    info, pos = _plain(data, pos, where, "system info")
    big = isinstance(info, dict) and info.get("little_endian") is False
    # the object pickle names each storage's type and size: a dry run (it builds only markers and checks
    # the globals) reads those and finds the pickle's end; then the key list and the bytes
    obj_start = pos
    declared: dict = {}

    def declare(pid):
        kind, key, numel, view = storage_id(pid, where)
        if view is not None:
            raise TorchFileError(f"load_torch: {where}: legacy storage views are not supported")
        if declared.setdefault(key, (kind, numel)) != (kind, numel):
            raise TorchFileError(f"load_torch: {where}: storage '{key}' is declared twice, differently")
        return Storage(kind, None, numel, big, where)   # no bytes: the dry run rebuilds no tensor

    _, obj_end = unpickle(data, declare, where, start=obj_start)
    keys, pos = _plain(data, obj_end, where, "storage key list")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise TorchFileError(f"load_torch: {where}: the storage key list is corrupt")
    storages: dict = {}
    order = ">" if big else "<"
    for key in keys:
        if key not in declared:
            raise TorchFileError(f"load_torch: {where}: storage '{key}' is listed but never used")
        kind, numel = declared[key]
        if pos + 8 > len(data):
            raise TorchFileError(f"load_torch: {where} is truncated: storage '{key}' is missing")
        (count,) = struct.unpack(order + "q", data[pos:pos + 8])
        nbytes = count * itemsize(kind)
        if count != numel or pos + 8 + nbytes > len(data):
            raise TorchFileError(f"load_torch: {where} is truncated or corrupt: storage '{key}' declares {numel} "
                                 f"elements, its record says {count} with {len(data) - pos - 8} bytes left")
        storages[key] = Storage(kind, memoryview(data)[pos + 8:pos + 8 + nbytes], numel, big, where)
        pos += 8 + nbytes
    missing = set(declared) - set(storages)
    if missing:
        raise TorchFileError(f"load_torch: {where} is corrupt: storages {sorted(missing)} have no data")
    return unpickle(data, lambda pid: storages[storage_id(pid, where)[1]], where, start=obj_start)[0]


# ----- public functions --------------------------------------------------------------------------------------

def read_torch(path):
    """The whole object of a ``torch.save`` file with tensors as NumPy arrays (dicts, lists, numbers kept)."""
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise TorchFileError(f"load_torch: no file at {where}")
    if path.is_dir():
        raise TorchFileError(f"load_torch: {where} is a directory, not a checkpoint")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        return _read_zip(path, where)
    if head[:1] == b"\x80":
        return _read_legacy(path.read_bytes(), where)
    if tarfile.is_tarfile(path):
        raise TorchFileError(f"load_torch: {where} is in PyTorch's pre-1.0 tar format, which is not supported; "
                             f"re-save it with a current torch.save")
    raise TorchFileError(f"load_torch: {where} is not a PyTorch checkpoint (neither a torch.save zip archive nor "
                         f"the legacy pickle format); first bytes {head!r}")


def _describe(obj) -> str:
    if isinstance(obj, dict):
        keys = list(obj)
        shown = ", ".join(repr(k) for k in keys[:12]) + (", …" if len(keys) > 12 else "")
        return f"a dict with keys [{shown}]"
    return f"a {type(obj).__name__}"


def load_torch(path, key: str | None = None) -> dict:
    """The state dict in a PyTorch checkpoint as ``{name: Tensor}``, ready for ``model.load_state_dict``.

    ``key`` picks a nested state dict (``"state_dict"``, ``"model"``, or a dotted path such as
    ``"model.ema"``) when the file holds a training checkpoint rather than a bare state dict.
    Dtypes are kept, except bfloat16, which becomes float32. Raises ``TorchFileError`` (a ``ValueError``)
    when the file is corrupt or asks to run code.
    """
    obj = read_torch(path)
    where = str(path)
    if key is not None:
        for part in key.split("."):
            if not isinstance(obj, dict) or part not in obj:
                raise TorchFileError(f"load_torch: {where} has no entry '{part}' (key={key!r}); it holds "
                                     f"{_describe(obj)}")
            obj = obj[part]
    if not isinstance(obj, dict) or not obj:
        raise TorchFileError(f"load_torch: {where} does not hold a state dict; it holds {_describe(obj)}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, np.ndarray)]
    if bad:
        hint = "" if key is not None else " (pass key=… to pick a nested state dict)"
        raise TorchFileError(f"load_torch: {where} is not a flat name -> tensor mapping{hint}: entries "
                             f"{bad[:8]!r} are not tensors; it holds {_describe(obj)}")
    return {k: Tensor._wrap(v) for k, v in obj.items()}


def convert_torch(in_path, out_path, key: str | None = None) -> int:
    """Read a PyTorch checkpoint with :func:`load_torch` and write it as a cnnkit (safetensors) checkpoint
    atomically; returns the number of tensors written. Load the result with ``ck.load``."""
    from .checkpoint import save

    state = load_torch(in_path, key=key)
    save(state, out_path)
    return len(state)
