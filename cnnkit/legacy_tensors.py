"""PyTorch's legacy typed constructors: ``FloatTensor``, ``DoubleTensor``, ``LongTensor``, ``IntTensor``,
``ShortTensor``, ``CharTensor``, ``ByteTensor``, ``BoolTensor``.

As in PyTorch they make a ``Tensor`` of their dtype, never an instance of themselves:

    FloatTensor()              an empty (0,) tensor
    FloatTensor(2, 3)          an uninitialized (2, 3) tensor (also FloatTensor(x.shape): a Size is a shape)
    FloatTensor([1, 2])        from data (a list, tuple, NumPy array or scalar sequence), converted
    FloatTensor(t)             t itself when t already has that dtype (else TypeError, as in PyTorch)

and ``isinstance(t, FloatTensor)`` is True for a float32 Tensor. ``t.type(FloatTensor)`` converts, and
``t.new(...)`` follows the same rules with t's dtype.
"""
from __future__ import annotations

import numpy as np

from .device import check_device
from .tensor import Size, Tensor

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "IntTensor", "LongTensor",
           "ShortTensor"]


class _TypedTensorMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def legacy_new(dtype, args: tuple, name: str, device=None) -> Tensor:
    """The legacy constructor's rules (module docstring) for a Tensor of ``dtype``; also ``Tensor.new``."""
    check_device(device, name)
    dtype = np.dtype(dtype)
    if not args:
        return Tensor._wrap(np.empty((0,), dtype))
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0].dtype != dtype:
            raise TypeError(f"{name}: expected a Tensor of dtype {dtype} (got {args[0].dtype}); convert "
                            f"it with .to() or .type()")
        return args[0]
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args) or \
            (len(args) == 1 and isinstance(args[0], Size)):
        shape = tuple(args[0]) if isinstance(args[0], Size) else tuple(int(a) for a in args)
        if any(s < 0 for s in shape):
            raise ValueError(f"{name}: sizes must be non-negative, got {shape}")
        return Tensor._wrap(np.empty(shape, dtype))
    if len(args) > 1:
        raise TypeError(f"{name}: expected sizes as ints, or one sequence of data, got {args!r}")
    data = args[0]
    if isinstance(data, (str, bytes, dict, set)) or np.isscalar(data):
        raise TypeError(f"{name}: new(): data must be a sequence (got {type(data).__name__})")
    return Tensor._wrap(np.array(data, dtype=dtype))


class _TypedTensor(metaclass=_TypedTensorMeta):
    dtype = None

    def __new__(cls, *args, device=None):
        return legacy_new(cls.dtype, args, cls.__name__, device)


def _typed(name: str, dtype) -> type:
    doc = f"A {dtype} Tensor (PyTorch's legacy ``torch.{name}`` constructor); see the module docstring."
    return _TypedTensorMeta(name, (_TypedTensor,), {"dtype": np.dtype(dtype), "legacy_dtype": np.dtype(dtype),
                                                    "__doc__": doc})


FloatTensor = _typed("FloatTensor", "float32")
DoubleTensor = _typed("DoubleTensor", "float64")
LongTensor = _typed("LongTensor", "int64")
IntTensor = _typed("IntTensor", "int32")
ShortTensor = _typed("ShortTensor", "int16")
CharTensor = _typed("CharTensor", "int8")
ByteTensor = _typed("ByteTensor", "uint8")
BoolTensor = _typed("BoolTensor", "bool")
