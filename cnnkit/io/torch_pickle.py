"""A pickle reader for PyTorch checkpoints that runs no code: the restricted unpickler behind ``load_torch``.

A ``torch.save`` file is a pickle in which every tensor is a call
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and every storage
is a *persistent id* ``("storage", torch.FloatStorage, key, location, numel)`` that the reader resolves to
raw bytes. A normal unpickler imports and calls whatever the pickle names (``os.system``, ``builtins.eval``…).
This one (run by the interpreter of :mod:`cnnkit.io.pickle_vm`, which imports and calls nothing by itself)
resolves a name only from a fixed table of its own stand-ins:

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

import collections
from typing import NamedTuple

import numpy as np

from .pickle_vm import UnpickleError, evaluate


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


CALLABLES = (collections.OrderedDict, rebuild_tensor, rebuild_parameter, rebuild_from_type)


def find_class(where: str):
    """The ``find_class`` of a checkpoint: a stand-in from ``ALLOWED``, or a refusal naming the global."""
    def find(module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise TorchFileError(f"load_torch: {where} refers to the global '{module}.{name}', which a "
                                 f"checkpoint of tensors never needs; refused (nothing was run)") from None
    return find


def unpickle(data, storage_for, where: str, start: int = 0):
    """Run the pickle at ``data[start:]`` in :mod:`~cnnkit.io.pickle_vm` with the stand-ins of ``ALLOWED``
    and storages from ``storage_for(persistent_id)``; returns (value, end). Any failure becomes a
    ``TorchFileError`` naming ``where``."""
    try:
        return evaluate(data, find_class(where), storage_for, CALLABLES, start)
    except TorchFileError:
        raise
    except MemoryError:
        raise TorchFileError(f"load_torch: {where} declares more data than fits in memory") from None
    except (UnpickleError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            UnicodeDecodeError) as e:   # malformed or hostile opcodes, truncation
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
