"""Tensor: an n-d array that remembers how it was computed, and reverse-mode autograd.

A ``Tensor`` wraps a NumPy array (``.data``). When an op (a ``Function``, see
``function.py``) is applied to tensors that require gradients, the output keeps
a reference to that function (``.creator``, PyTorch's ``grad_fn``) and the
function keeps its inputs: together they form the computation graph.

``backward()`` walks that graph in reverse topological order without
recursion: every function carries a *generation* (one more than the newest of
its inputs), and a max-heap on the generation guarantees that all consumers of
a tensor have delivered their gradients before its creator is visited. A
tensor used several times receives the sum of its gradients (multivariate
chain rule). After the walk the graph is freed unless ``retain_graph=True``.

Arithmetic operators and methods such as ``sum`` or ``reshape`` are the ops of
``cnnkit/ops``; ``cnnkit/ops/tensor_methods.py`` attaches them to this class.
"""
from __future__ import annotations

import heapq
import itertools
import weakref
from contextlib import contextmanager

import numpy as np

from . import backend
from .random import get_generator

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph for backward."""
    return _grad_enabled


@contextmanager
def set_grad_enabled(mode: bool):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager: ops inside it record no graph (inference, optimizer updates)."""
    return set_grad_enabled(False)


def enable_grad():
    """Context manager: record the graph even inside ``no_grad``."""
    return set_grad_enabled(True)


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
    def _wrap(cls, array: np.ndarray) -> "Tensor":
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

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
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

    def detach(self) -> "Tensor":
        """A new leaf tensor sharing the data, cut from the graph."""
        return Tensor._wrap(self.data)

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is d(loss)/d(self); it may be omitted for a one-element tensor (it is then 1).
        """
        run_backward(self, gradient, retain_graph)

    # ----- in-place helpers (no graph: for init and optimizers) -----------------------------
    def _check_inplace(self, name: str) -> None:
        if _grad_enabled and self.requires_grad:
            raise RuntimeError(f"{name}: a tensor that requires grad cannot be changed in place while the "
                               f"graph is recorded; wrap the update in `with ck.no_grad():`")

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src) -> "Tensor":
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


# ===== the backward walk ===========================================================================

def _accumulate_leaf(x: Tensor, g: np.ndarray, handed_out: set, borrowed: set) -> None:
    """Add ``g`` into ``x.grad``. A leaf's gradient array is never shared with another tensor.

    A gradient taken without a copy (``borrowed``) may still be waiting as another function's output
    gradient in this walk, so the first accumulation into it makes a new array instead of adding in place.
    """
    if g.dtype != x.data.dtype:
        g = g.astype(x.data.dtype)
    if x.grad is None:
        if g.base is not None or id(g) in handed_out or not g.flags.writeable:
            g = g.copy(order="K")  # keep the memory layout (a channels-last gradient stays a plain memcpy)
        else:
            borrowed.add(id(g))
        handed_out.add(id(g))
        x.grad = Tensor._wrap(g)
    elif id(x.grad.data) in borrowed:
        x.grad.data = x.grad.data + g
    else:
        np.add(x.grad.data, g, out=x.grad.data, casting="unsafe")


def run_backward(root: Tensor, gradient=None, retain_graph: bool = False) -> None:
    if not isinstance(root, Tensor):
        raise TypeError(f"backward: expected a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph to walk; create the "
                           "inputs with requires_grad=True (and not inside ck.no_grad()) before computing it")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward: a gradient can be implied only for a one-element output, got shape "
                               f"{root.data.shape}; pass backward(gradient) of that shape")
        seed = np.ones_like(root.data)
    else:
        seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if seed.shape != root.data.shape:
            raise ValueError(f"backward: gradient shape {seed.shape} does not match the tensor's shape "
                             f"{root.data.shape}")
        seed = seed.astype(root.data.dtype, copy=False)  # never stored as a leaf's grad: see handed_out
    handed_out = {id(seed)}
    borrowed = set()
    f = root.creator
    if f is None:
        _accumulate_leaf(root, seed, handed_out, borrowed)
        return
    if f.inputs is None:
        _raise_freed(f)
    f._out_grads[root._output_index] = seed
    counter = itertools.count()
    heap = [(-f.generation, next(counter), f)]
    queued = {id(f)}
    while heap:
        f = heapq.heappop(heap)[2]
        if f.inputs is None:
            _raise_freed(f)
        gys = f._out_grads
        for i, gy in enumerate(gys):
            if gy is None:
                shape, dtype = f._out_meta[i]
                gys[i] = np.zeros(shape, dtype)
        if f._retained:
            for i, ref in f._retained.items():
                t = ref()
                if t is not None:
                    if t.grad is None:
                        t.grad = Tensor._wrap(gys[i].copy())
                    else:  # retained gradients accumulate over backward calls, like a leaf's
                        np.add(t.grad.data, gys[i], out=t.grad.data, casting="unsafe")
        gxs = f.backward(*gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        f._out_grads = [None] * len(gys)
        for x, gx in zip(f.inputs, gxs):
            if gx is None or not x.requires_grad:
                continue
            if gx.shape != x.data.shape:
                raise RuntimeError(f"{type(f).__name__}.backward returned a gradient of shape {gx.shape} for an "
                                   f"input of shape {x.data.shape} (a bug in that op)")
            c = x.creator
            if c is None:
                _accumulate_leaf(x, gx, handed_out, borrowed)
                continue
            if c.inputs is None:
                _raise_freed(c)
            if gx.dtype != x.data.dtype:
                gx = gx.astype(x.data.dtype)
            i = x._output_index
            cur = c._out_grads[i]
            c._out_grads[i] = gx if cur is None else cur + gx
            if id(c) not in queued:
                queued.add(id(c))
                heapq.heappush(heap, (-c.generation, next(counter), c))
        if not retain_graph:
            f.release()


def _raise_freed(f) -> None:
    raise RuntimeError(f"backward: the graph through {type(f).__name__} was already freed by an earlier "
                       f"backward(); pass retain_graph=True to the first backward() to walk it twice")


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
