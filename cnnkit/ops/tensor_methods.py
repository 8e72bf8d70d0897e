"""Attach the ops to ``Tensor`` as operators and methods (``x + y``, ``x.sum(1)``, ``x.T``, ...).

``tensor.py`` cannot import the ops (they import it), so the ops bind
themselves to the class here, once, when ``cnnkit.ops`` is imported.
"""
from __future__ import annotations

import numpy as np

from .. import backend, creation
from .._compat import absent_error
from ..device import check_device, device
from ..legacy_tensors import legacy_new
from ..tensor import Tensor
from . import activation as A
from . import compare as C
from . import elementwise as E
from . import indexing as I
from . import linalg as L
from . import reduce as R
from . import scatter as SC
from . import select as X
from . import shape as S
from . import sort as O
from . import trig as T
from . import unary as U
from .dtype import cast
from .inplace import INPLACE_METHODS, setitem


def _swap(fn):
    return lambda self, other: fn(other, self)


def _to(self, *args, dtype=None, device=None, non_blocking: bool = False, copy: bool = False,
        memory_format=None):
    """``x.to(dtype)``, ``x.to(device)``, ``x.to(device, dtype)``, ``x.to(other)``: the CPU is the only device
    (any other raises); ``copy=True`` returns a copy even when nothing changes."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, _device)) or (isinstance(a, int) and not isinstance(a, bool)):
            device = a
        else:
            dtype = a
    check_device(device, "Tensor.to")
    out = self if dtype is None else cast(self, dtype)
    return E.clone(out) if copy and out is self else out


_device = device

TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int64": "LongTensor",
              "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
              "bool": "BoolTensor"}


def _type(self, dtype=None, non_blocking: bool = False):
    """``x.type()``: the type name (``'torch.FloatTensor'``, as PyTorch names it); ``x.type(dtype)`` or
    ``x.type('torch.LongTensor')``: ``x`` converted."""
    if dtype is None:
        return "torch." + TYPE_NAMES[str(self.dtype)]
    dtype = getattr(dtype, "legacy_dtype", dtype)  # a legacy class: x.type(ck.FloatTensor)
    if isinstance(dtype, str):
        name = dtype.rpartition(".")[2]
        if ".cuda." in dtype:
            check_device("cuda", "Tensor.type")
        found = [k for k, v in TYPE_NAMES.items() if v == name]
        if not found:
            raise ValueError(f"Tensor.type: unknown type name {dtype!r}; expected one of "
                             f"{', '.join('torch.' + v for v in TYPE_NAMES.values())} or a dtype")
        dtype = found[0]
    return cast(self, dtype)


def _new(fill):
    def method(self, size, *more, dtype=None, device=None, requires_grad: bool = False, **extras):
        return fill(self, size, *more, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad,
                    **extras)
    return method


def _new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False, **extras):
    return creation.full(size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad,
                         **extras)


def _new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False):
    return creation.tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _all(self, dim=None, keepdim: bool = False):
    return Tensor._wrap(np.asarray(np.all(self._data, axis=dim, keepdims=keepdim)))


def _any(self, dim=None, keepdim: bool = False):
    return Tensor._wrap(np.asarray(np.any(self._data, axis=dim, keepdims=keepdim)))


def _stride(self, dim=None):
    """The step in elements between neighbours along each dim (of the NumPy array's byte strides)."""
    steps = tuple(s // self._data.itemsize for s in self._data.strides)
    if dim is None:
        return steps
    return steps[dim]


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
    "__getitem__": S.getitem, "__setitem__": setitem, "__iter__": _iter,
    "__floordiv__": E.floor_divide, "__rfloordiv__": _swap(E.floor_divide),
    "add": E.add, "sub": E.sub, "mul": E.mul, "div": E.div, "pow": E.pow, "neg": E.neg,
    "sin": T.sin, "cos": T.cos, "tan": T.tan, "sinh": T.sinh, "cosh": T.cosh,
    "topk": O.topk, "sort": O.sort, "argsort": O.argsort, "masked_fill": I.masked_fill,
    "index_select": X.index_select, "gather": X.gather, "narrow": X.narrow, "unbind": X.unbind,
    "flip": lambda self, *dims: X.flip(self, dims[0] if len(dims) == 1 else dims), "roll": X.roll,
    "repeat": X.repeat, "square": U.square, "reciprocal": U.reciprocal, "rsqrt": U.rsqrt, "log1p": U.log1p,
    "expm1": U.expm1, "floor": U.floor, "ceil": U.ceil, "round": U.round, "trunc": U.trunc, "cumsum": U.cumsum,
    "prod": U.prod, "asin": T.asin, "acos": T.acos, "atan": T.atan, "arcsin": T.asin, "arccos": T.acos,
    "arctan": T.atan, "dot": L.dot, "mv": L.mv, "trace": L.trace, "dist": U.dist, "unique": O.unique,
    "scatter": SC.scatter, "scatter_": SC.scatter_, "scatter_add": SC.scatter_add, "scatter_add_": SC.scatter_add_,
    "repeat_interleave": SC.repeat_interleave, "stride": _stride,
    "multinomial": lambda self, num_samples, replacement=False, *, generator=None: creation.multinomial(
        self, num_samples, replacement, generator=generator),
    "new": lambda self, *args, device=None: legacy_new(self.dtype, args, "Tensor.new", device),
    "logsumexp": U.logsumexp, "norm": U.norm,
    "is_floating_point": lambda self: backend.is_floating(self.dtype),
    "bmm": L.bmm, "mm": L.mm, "type": _type, "all": _all, "any": _any,
    "new_zeros": _new(lambda self, *a, **k: creation.zeros(*a, **k)),
    "new_ones": _new(lambda self, *a, **k: creation.ones(*a, **k)),
    "new_empty": _new(lambda self, *a, **k: creation.empty(*a, **k)),
    "new_full": _new_full, "new_tensor": _new_tensor,
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


def _missing(self, name):
    raise absent_error(f"torch.Tensor.{name}", "'Tensor' object")


def install() -> None:
    for name, fn in {**_METHODS, **INPLACE_METHODS}.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(lambda self: S.permute(self, tuple(reversed(range(self.ndim)))))
    Tensor.__hash__ = object.__hash__
    Tensor.__getattr__ = _missing  # only reached for names the class lacks: says why a torch name is absent
