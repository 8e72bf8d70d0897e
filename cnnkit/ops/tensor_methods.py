"""Attach the ops to ``Tensor`` as operators and methods (``x + y``, ``x.sum(1)``, ``x.T``, ...).

``tensor.py`` cannot import the ops (they import it), so the ops bind
themselves to the class here, once, when ``cnnkit.ops`` is imported.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from . import activation as A
from . import compare as C
from . import elementwise as E
from . import linalg as L
from . import reduce as R
from . import shape as S
from .dtype import cast


def _swap(fn):
    return lambda self, other: fn(other, self)


def _to(self, *args, dtype=None, **kwargs):
    """``x.to(dtype)`` (devices are accepted and ignored: cnnkit runs on the CPU)."""
    for a in args:
        if not isinstance(a, str):
            dtype = a
    return self if dtype is None else cast(self, dtype)


def _size_method(fn):
    return lambda self, *sizes: fn(self, *sizes)


def _expand_as(self, other):
    return S.expand(self, other.shape)


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (S.getitem(self, i) for i in range(self.shape[0]))


_METHODS = {
    "__add__": E.add, "__radd__": _swap(E.add),
    "__sub__": E.sub, "__rsub__": _swap(E.sub),
    "__mul__": E.mul, "__rmul__": _swap(E.mul),
    "__truediv__": E.div, "__rtruediv__": _swap(E.div),
    "__pow__": E.pow, "__rpow__": _swap(E.pow),
    "__matmul__": L.matmul, "__rmatmul__": _swap(L.matmul),
    "__neg__": E.neg, "__pos__": lambda self: self, "__abs__": E.abs,
    "__eq__": C.eq, "__ne__": C.ne, "__lt__": C.lt, "__le__": C.le, "__gt__": C.gt, "__ge__": C.ge,
    "__and__": C.logical_and, "__or__": C.logical_or, "__xor__": C.logical_xor,
    "__invert__": C.logical_not,
    "__getitem__": S.getitem, "__iter__": _iter,
    "add": E.add, "sub": E.sub, "mul": E.mul, "div": E.div, "pow": E.pow, "neg": E.neg,
    "exp": E.exp, "log": E.log, "sqrt": E.sqrt, "abs": E.abs, "sign": E.sign,
    "clamp": E.clamp, "clip": E.clamp, "maximum": E.maximum, "minimum": E.minimum, "clone": E.clone,
    "eq": C.eq, "ne": C.ne, "lt": C.lt, "le": C.le, "gt": C.gt, "ge": C.ge,
    "isfinite": C.isfinite, "isnan": C.isnan,
    "matmul": L.matmul,
    "relu": A.relu, "sigmoid": A.sigmoid, "tanh": A.tanh, "softmax": A.softmax, "log_softmax": A.log_softmax,
    "sum": R.sum, "mean": R.mean, "var": R.var, "std": R.std, "max": R.max, "min": R.min,
    "amax": R.amax, "amin": R.amin, "argmax": R.argmax, "argmin": R.argmin,
    "reshape": _size_method(S.reshape), "view": _size_method(S.reshape),
    "flatten": S.flatten, "squeeze": S.squeeze, "unsqueeze": S.unsqueeze,
    "transpose": S.transpose, "permute": _size_method(S.permute), "t": S.t,
    "expand": _size_method(S.expand), "expand_as": _expand_as,
    "view_as": lambda self, other: S.reshape(self, other.shape),
    "reshape_as": lambda self, other: S.reshape(self, other.shape),
    "split": S.split, "chunk": S.chunk,
    "contiguous": lambda self: self,
    "to": _to, "type_as": lambda self, other: cast(self, other.dtype),
    "float": lambda self: cast(self, backend.float32), "double": lambda self: cast(self, backend.float64),
    "long": lambda self: cast(self, backend.int64), "int": lambda self: cast(self, backend.int32),
    "bool": lambda self: cast(self, backend.bool_),
}


def install() -> None:
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(lambda self: S.permute(self, tuple(reversed(range(self.ndim)))))
    Tensor.__hash__ = object.__hash__
