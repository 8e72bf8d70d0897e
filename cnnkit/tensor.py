"""Tensor: an n-d array that remembers how it was computed, and the functions that create tensors.

A ``Tensor`` wraps a NumPy array (``.data``). When an op (a ``Function``, see
``function.py``) is applied to tensors that require gradients while grad mode
is on (``autograd/grad_mode.py``), the output keeps a reference to that
function (``.creator``, PyTorch's ``grad_fn``) and the function keeps its
inputs: together they form the computation graph. ``Tensor.backward()`` walks
it (``autograd/backward.py``).

Arithmetic operators and methods such as ``sum`` or ``reshape`` are the ops of
``cnnkit/ops``; ``cnnkit/ops/tensor_methods.py`` attaches them to this class.
The creation functions (``tensor``, ``zeros``, ``ones``, ``randn``, ``arange``, ...)
follow the class.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import backend
from .autograd.backward import register_post_accumulate_grad_hook, run_backward, use_tensor_class
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.grad_mode import enabled as _grad_enabled
from .random import get_generator

__all__ = ["Tensor", "arange", "as_tensor", "empty", "from_numpy", "full", "full_like", "ones", "ones_like", "rand",
           "rand_like", "randint", "randn", "randn_like", "tensor", "zeros", "zeros_like",
           # grad mode lives in autograd/grad_mode.py; these names stay importable from here for older import sites
           "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class Tensor:
    """An n-dimensional array with an optional gradient.

    Attributes:
        data: the ``numpy.ndarray`` holding the values.
        grad: a ``Tensor`` with the accumulated gradient, or ``None``.
        requires_grad: whether ops on this tensor are recorded for backward.
        creator: the ``Function`` that produced this tensor (``None`` for leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "generation", "_output_index",
                 "_retains_grad", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad: bool = False):
        self.data = data if isinstance(data, np.ndarray) else backend.to_array(data)
        self.grad = None
        self.creator = None
        self.generation = 0
        self._output_index = 0
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Fast constructor for op outputs (no copy, no checks; a NumPy scalar becomes a 0-d array)."""
        t = cls.__new__(cls)
        t.data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t.grad = None
        t.requires_grad = False
        t.creator = None
        t.generation = 0
        t._output_index = 0
        t._retains_grad = False
        return t

    # ----- array-like properties ---------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        """The shape (PyTorch's ``size()``), or the length of one dimension."""
        if dim is None:
            return self.data.shape
        return self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python scalar, "
                             f"got shape {self.data.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The values as a ``numpy.ndarray`` (shares memory, no graph)."""
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be an index, got {self.data.dtype}")
        return int(self.item())

    # ----- autograd -------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not backend.is_floating(self.data.dtype):
            raise RuntimeError(f"requires_grad: only floating point tensors can require gradients, "
                               f"got dtype {self.data.dtype}")
        if not requires_grad and self.creator is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retains_grad = True
        if self.creator is not None:
            self.creator._retained[self._output_index] = weakref.ref(self)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` after each accumulation into this leaf's ``.grad`` during backward; returns a handle
        with ``remove()`` (see ``autograd/backward.py``)."""
        return register_post_accumulate_grad_hook(self, hook)

    def detach(self) -> Tensor:
        """A new leaf tensor sharing the data, cut from the graph."""
        return Tensor._wrap(self.data)

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is d(loss)/d(self); it may be omitted for a one-element tensor (it is then 1).
        """
        run_backward(self, gradient, retain_graph)

    # ----- in-place helpers (no graph: for init and optimizers) -----------------------------
    def _check_inplace(self, name: str) -> None:
        if _grad_enabled.get() and self.requires_grad:
            raise RuntimeError(f"{name}: a tensor that requires grad cannot be changed in place while the "
                               f"graph is recorded; wrap the update in `with ck.no_grad():`")

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src) -> Tensor:
        self._check_inplace("copy_")
        arr = src.data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.copyto(self.data, np.broadcast_to(arr, self.data.shape), casting="unsafe")
        except ValueError:
            raise ValueError(f"copy_: cannot copy shape {arr.shape} into shape {self.data.shape}") from None
        return self

    # ----- printing -------------------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype not in (backend.get_default_dtype(), backend.int64, backend.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self.creator is not None:
            extras.append(f"grad_fn=<{type(self.creator).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


use_tensor_class(Tensor)  # the backward walk creates gradients of this class


# ===== creation functions ==========================================================================

def _size_args(size, name: str) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        shape = tuple(int(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected sizes as ints or one tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}: sizes must be non-negative, got {shape}")
    return shape


def _float_dtype(dtype, name: str) -> np.dtype:
    d = backend.as_dtype(dtype) or backend.get_default_dtype()
    return d


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (list, scalar, ndarray or Tensor).

    Python floats become float32 (the default dtype); NumPy arrays keep their dtype; ints become int64.
    """
    if isinstance(data, Tensor):
        data = data.data
    arr = backend.to_array(data, dtype)
    if arr is data or (isinstance(data, np.ndarray) and np.shares_memory(arr, data)):
        arr = arr.copy()
    return _finish(arr, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` itself if it is already a Tensor of that dtype, else a tensor made from it (no copy if possible)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == backend.as_dtype(dtype)):
        return data
    if isinstance(data, Tensor):
        data = data.data
    return Tensor._wrap(backend.to_array(data, dtype))


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(_size_args(size, "zeros"), _float_dtype(dtype, "zeros")), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(_size_args(size, "ones"), _float_dtype(dtype, "ones")), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(_size_args(size, "empty"), _float_dtype(dtype, "empty")), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = backend.to_array(fill_value).dtype
    return _finish(np.full(_size_args((size,), "full"), fill_value, backend.as_dtype(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(t.shape, backend.as_dtype(dtype) or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(t.shape, backend.as_dtype(dtype) or t.dtype), requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.full(t.shape, fill_value, backend.as_dtype(dtype) or t.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive); int64 for int arguments, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = backend.int64 if is_int else backend.get_default_dtype()
    return _finish(np.arange(start, end, step).astype(backend.as_dtype(dtype)), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) from the project-wide generator."""
    d = _float_dtype(dtype, "rand")
    return _finish(get_generator().random(_size_args(size, "rand")).astype(d, copy=False), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the project-wide generator."""
    d = _float_dtype(dtype, "randn")
    return _finish(get_generator().standard_normal(_size_args(size, "randn")).astype(d, copy=False),
                   requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    """Integers uniform on [low, high) (int64)."""
    if high is None:
        low, high = 0, low
    return Tensor._wrap(get_generator().integers(low, high, size=_size_args((size,), "randint"))
                        .astype(backend.as_dtype(dtype) or backend.int64))


def rand_like(t: Tensor, dtype=None) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype)


def randn_like(t: Tensor, dtype=None) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype)
