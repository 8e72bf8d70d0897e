"""A pickle reader for PyTorch checkpoints that runs no code: the restricted unpickler behind ``load_torch``.

A ``torch.save`` file is a pickle in which every tensor is a call
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and every storage
is a *persistent id* ``("storage", torch.FloatStorage, key, location, numel)`` that the reader resolves to
raw bytes. A normal unpickler imports and calls whatever the pickle names (``os.system``, ``builtins.eval``…).
This one resolves a name only from a fixed table of its own stand-ins:

    torch._utils._rebuild_tensor_v2 / _rebuild_parameter[_with_state], torch._tensor._rebuild_from_type_v2
                                        -> functions here that build NumPy arrays
    torch.FloatStorage, … BoolStorage   -> storage-type markers (their NumPy dtype)
    torch.float32, … (dtype objects)    -> the NumPy dtype (bfloat16 -> float32)
    collections.OrderedDict             -> collections.OrderedDict

Any other global is refused with a ``TorchFileError`` naming it before anything is called. A tensor
element [i_0, …, i_k] lives at storage index offset + Σ i_j·stride_j; the view is checked against the
storage size, taken with ``as_strided`` and copied into a fresh contiguous array.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
import pickletools
from typing import NamedTuple

import numpy as np


class TorchFileError(ValueError):
    """A PyTorch checkpoint that is corrupt, truncated, unsupported, or asks to run code."""


class StorageType(NamedTuple):
    """Stand-in for ``torch.FloatStorage`` & co.: the element type of a storage (immutable, not callable)."""
    name: str
    dtype: str     # NumPy dtype string, little-endian; "bfloat16" is decoded by hand


class TorchDtype(NamedTuple):
    """Stand-in for a pickled ``torch.float32`` & co. (a dtype stored as a value in a checkpoint)."""
    name: str


_STORAGES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}
_DTYPES = {
    "float32": "FloatStorage", "float": "FloatStorage", "float64": "DoubleStorage", "double": "DoubleStorage",
    "float16": "HalfStorage", "half": "HalfStorage", "bfloat16": "BFloat16Storage", "int64": "LongStorage",
    "long": "LongStorage", "int32": "IntStorage", "int": "IntStorage", "int16": "ShortStorage",
    "short": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage",
}


def itemsize(kind: StorageType) -> int:
    return 2 if kind.dtype == "bfloat16" else np.dtype(kind.dtype).itemsize


class Storage:
    """The raw bytes of one storage and its element type; ``values`` is the decoded 1-d array (cached)."""

    def __init__(self, kind: StorageType, raw, numel: int, big_endian: bool, where: str):
        self.kind, self.raw, self.numel, self.big_endian, self.where = kind, raw, numel, big_endian, where
        self._values = None

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the decoded values (native byte order; bfloat16 decodes to float32)."""
        return np.dtype(np.float32 if self.kind.dtype == "bfloat16" else self.kind.dtype).newbyteorder("=")

    def values(self) -> np.ndarray:
        if self._values is None:
            order = ">" if self.big_endian else "<"
            if self.kind.dtype == "bfloat16":       # the upper half of a float32: shift it into place
                half = np.frombuffer(self.raw, np.dtype(order + "u2"), self.numel)
                self._values = (half.astype(np.uint32) << 16).view(np.float32)
            else:
                dt = np.dtype(self.kind.dtype)
                if dt.itemsize > 1:
                    dt = dt.newbyteorder(order)
                self._values = np.frombuffer(self.raw, dt, self.numel).astype(dt.newbyteorder("="), copy=False)
        return self._values


def _int_tuple(v, what: str, where: str) -> tuple:
    if not isinstance(v, (tuple, list)) or not all(type(i) is int and i >= 0 for i in v):
        raise TorchFileError(f"load_torch: {where}: tensor {what} must be a tuple of non-negative ints, got {v!r}")
    return tuple(v)


# a tensor may hold at most this many times the elements of its storage (stride-0 broadcasts), or 2**20
_MAX_EXPANSION = 16


def rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> np.ndarray:
    """``_rebuild_tensor_v2``: the view (offset, size, stride) of ``storage`` as a contiguous array."""
    if not isinstance(storage, Storage):
        raise TorchFileError(f"load_torch: a tensor is rebuilt from a {type(storage).__name__}, not a storage")
    where = storage.where
    size = _int_tuple(size, "size", where)
    stride = _int_tuple(stride, "stride", where)
    if len(size) != len(stride) or type(storage_offset) is not int or storage_offset < 0:
        raise TorchFileError(f"load_torch: {where}: bad tensor view: offset {storage_offset!r}, size {size}, "
                             f"stride {stride}")
    numel = 1
    for s in size:
        numel *= s
    if numel == 0:
        return np.empty(size, storage.dtype)
    last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))
    if last >= storage.numel:
        raise TorchFileError(f"load_torch: {where}: a tensor of size {size}, stride {stride} at offset "
                             f"{storage_offset} reaches element {last} of a storage of {storage.numel} elements")
    if numel > max(_MAX_EXPANSION * storage.numel, 1 << 20):
        raise TorchFileError(f"load_torch: {where}: a tensor of size {size} ({numel} elements) on a storage of "
                             f"{storage.numel} elements is refused (more than {_MAX_EXPANSION}× its storage)")
    if storage.raw is None:      # a storage without bytes (the legacy format's first pass): checks only
        return None
    values = storage.values()
    item = values.itemsize
    view = np.lib.stride_tricks.as_strided(values[storage_offset:], size, tuple(st * item for st in stride),
                                           writeable=False)
    return np.array(view, order="C")


def rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None) -> np.ndarray:
    """``_rebuild_parameter`` / ``_rebuild_parameter_with_state``: a parameter is its data here."""
    if data is not None and not isinstance(data, np.ndarray):   # (None: the legacy format's first pass)
        raise TorchFileError(f"load_torch: a parameter is rebuilt from a {type(data).__name__}, not a tensor")
    return data


class _TypeMarker(NamedTuple):
    name: str


def rebuild_from_type(func, new_type, args, state=None):
    """``_rebuild_from_type_v2`` (a tensor of a subclass such as Parameter): the plain tensor."""
    if func not in (rebuild_tensor, rebuild_parameter) or not isinstance(new_type, _TypeMarker):
        raise TorchFileError(f"load_torch: _rebuild_from_type_v2 of {func!r} / {new_type!r} is refused")
    if not isinstance(args, tuple):
        raise TorchFileError("load_torch: _rebuild_from_type_v2 expects an argument tuple")
    return func(*args)


def _allowed() -> dict:
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type,
        ("torch", "Tensor"): _TypeMarker("Tensor"),
        ("torch._tensor", "Tensor"): _TypeMarker("Tensor"),
        ("torch.nn.parameter", "Parameter"): _TypeMarker("Parameter"),
    }
    for name, dt in _STORAGES.items():
        table[("torch", name)] = StorageType(name, dt)
    for name in _DTYPES:
        table[("torch", name)] = TorchDtype(name)
    return table


ALLOWED = _allowed()


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals from ``ALLOWED`` only and storages through ``storage_for(persistent_id)``."""

    def __init__(self, data: bytes, storage_for, where: str):
        super().__init__(io.BytesIO(data))
        self._storage_for, self._where = storage_for, where

    def find_class(self, module, name):
        # protocol 2 writes Python 2 names (__builtin__.eval): name them as Python 3 does
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise TorchFileError(f"load_torch: {self._where} refers to the global '{module}.{name}', which a "
                                 f"checkpoint of tensors never needs; refused (nothing was run)") from None

    def persistent_load(self, pid):
        return self._storage_for(pid)


def _check_memo(data: bytes, where: str) -> None:
    """Refuse memo indices beyond the pickle's length before unpickling: the C unpickler grows its memo
    table to twice the largest index it is given, so one forged PUT could ask for gigabytes."""
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and int(arg) > len(data):
                raise TorchFileError(f"load_torch: {where}: the pickle stores a value at memo index {arg}, more "
                                     f"than its {len(data)} bytes can hold; refused as corrupt")
            if op.name == "STOP":
                return
    except TorchFileError:
        raise
    except Exception as e:
        raise TorchFileError(f"load_torch: {where} is not a readable checkpoint pickle "
                             f"({type(e).__name__}: {e})") from None


def unpickle(data: bytes, storage_for, where: str):
    """Run the restricted unpickler; any failure becomes a ``TorchFileError`` naming ``where``."""
    _check_memo(data, where)
    try:
        return RestrictedUnpickler(data, storage_for, where).load()
    except TorchFileError:
        raise
    except RecursionError:
        raise TorchFileError(f"load_torch: {where} nests too deeply to be a checkpoint") from None
    except MemoryError:
        raise TorchFileError(f"load_torch: {where} declares more data than fits in memory") from None
    except Exception as e:   # corrupt or hostile opcodes: REDUCE of a non-callable, bad BUILD, truncation …
        raise TorchFileError(f"load_torch: {where} is not a readable checkpoint pickle "
                             f"({type(e).__name__}: {e})") from None


def storage_id(pid, where: str) -> tuple:
    """(kind, key, numel, view) of a persistent id ('storage', type, key, location, numel[, view])."""
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")):
        raise TorchFileError(f"load_torch: {where}: unsupported persistent id {pid!r} (expected a storage)")
    kind, key, numel = pid[1], pid[2], pid[4]
    if isinstance(kind, TorchDtype):   # torch.UntypedStorage-era ids name the dtype
        kind = ALLOWED[("torch", _DTYPES[kind.name])]
    if not isinstance(kind, StorageType):
        raise TorchFileError(f"load_torch: {where}: a storage of type {kind!r} is not supported")
    if isinstance(key, bytes):
        key = key.decode("ascii", "replace")
    if not isinstance(key, str) or type(numel) is not int or numel < 0:
        raise TorchFileError(f"load_torch: {where}: bad storage id {pid!r}")
    view = pid[5] if len(pid) == 6 else None
    return kind, key, numel, view
