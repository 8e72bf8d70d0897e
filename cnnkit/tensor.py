"""Tensor: an n-d array that remembers how it was computed, and the functions that create tensors.

A ``Tensor`` wraps a NumPy array (the slot ``._data``; ``.numpy()`` hands it out). When an op (a ``Function``, see
``function.py``) is applied to tensors that require gradients while grad mode
is on (``autograd/grad_mode.py``), the output keeps a reference to that
function (``.creator``, PyTorch's ``grad_fn``) and the function keeps its
inputs: together they form the computation graph. ``Tensor.backward()`` walks
it (``autograd/backward.py``).

Arithmetic operators and methods such as ``sum`` or ``reshape`` are the ops of
``cnnkit/ops``; ``cnnkit/ops/tensor_methods.py`` attaches them to this class.
The creation functions (``tensor``, ``zeros``, ``ones``, ``randn``, ``arange``, ...)
are in ``creation.py``.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import backend
from .autograd.backward import register_post_accumulate_grad_hook, run_backward, use_tensor_class
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .device import CPU, check_device

__all__ = ["Size", "Tensor",
           # grad mode lives in autograd/grad_mode.py; these names stay importable from here for older import sites
           "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class Size(tuple):
    """A tensor's shape (PyTorch's ``torch.Size``): a tuple of ints, returned by ``.shape`` and ``.size()``.

    It prints like a plain tuple, ``(2, 3)``, so error messages read the same as before.
    """

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    """An n-dimensional array with an optional gradient.

    Attributes:
        _data: the ``numpy.ndarray`` holding the values (internal; ``.numpy()`` is the public way to it).
        data: PyTorch's ``.data``: a detached Tensor sharing ``_data`` (and ``t.data = other`` replaces it).
        grad: a ``Tensor`` with the accumulated gradient, or ``None``.
        requires_grad: whether ops on this tensor are recorded for backward.
        creator: the ``Function`` that produced this tensor (``None`` for leaves).

    ``_version`` counts the in-place changes of the data (a one-element list, shared with ``detach()`` but not with
    ``.data``): an op that records this tensor for backward notes the count, and backward refuses to run if it
    changed since.
    """

    __slots__ = ("_data", "grad", "requires_grad", "creator", "generation", "_output_index",
                 "_retains_grad", "_version", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad: bool = False):
        self._data = data if isinstance(data, np.ndarray) else backend.to_array(data)
        self.grad = None
        self.creator = None
        self.generation = 0
        self._output_index = 0
        self._retains_grad = False
        self._version = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Fast constructor for op outputs (no copy, no checks; a NumPy scalar becomes a 0-d array)."""
        t = cls.__new__(cls)
        t._data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t.grad = None
        t.requires_grad = False
        t.creator = None
        t.generation = 0
        t._output_index = 0
        t._retains_grad = False
        t._version = [0]
        return t

    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: a new Tensor sharing this one's array, cut from the graph (no creator, no
        ``requires_grad``), with its own version counter, so that in-place changes made through it
        (``p.data.sub_(...)``) are not seen by autograd's "modified by an inplace operation" check.
        ``.numpy()`` gives the array."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        """``t.data = other``: ``t`` now holds ``other``'s array (shared, not copied), whatever its shape and dtype,
        as in torch; an ndarray is taken as it is too. Autograd's version count is left as it was."""
        if isinstance(value, Tensor):
            array = value._data
        elif isinstance(value, np.ndarray):
            array = value
        else:
            raise TypeError(f"Tensor.data: expected a Tensor (or numpy.ndarray), got {type(value).__name__}")
        if self.requires_grad and not backend.is_floating(array.dtype):
            raise RuntimeError(f"Tensor.data: a tensor that requires gradients must hold floating point data, "
                               f"got dtype {array.dtype}")
        self._data = array

    # ----- array-like properties ---------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def device(self):
        """Always ``device(type='cpu')``: cnnkit runs on the CPU."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def cpu(self) -> Tensor:
        """The tensor itself (it is already on the CPU)."""
        return self

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        """Refused: cnnkit runs on the CPU only."""
        check_device("cuda" if device is None else device if not isinstance(device, int) else f"cuda:{device}",
                     "Tensor.cuda")
        return self

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: int | None = None):
        """The shape (PyTorch's ``size()``), or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python scalar, "
                             f"got shape {self._data.shape}")
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The values as a ``numpy.ndarray`` (shares memory, no graph)."""
        return self._data

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self._data.size} elements is ambiguous")
        return bool(self._data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be an index, got {self._data.dtype}")
        return int(self.item())

    # ----- autograd -------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not backend.is_floating(self._data.dtype):
            raise RuntimeError(f"requires_grad: only floating point tensors can require gradients, "
                               f"got dtype {self._data.dtype}")
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
        """A new leaf tensor sharing the data (and its in-place version count), cut from the graph."""
        t = Tensor._wrap(self._data)
        t._version = self._version
        return t

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is d(loss)/d(self); it may be omitted for a one-element tensor (it is then 1).
        """
        run_backward(self, gradient, retain_graph)

    # ----- printing -------------------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self._data.dtype not in (backend.get_default_dtype(), backend.int64, backend.bool_):
            extras.append(f"dtype={self._data.dtype}")
        if self.creator is not None:
            extras.append(f"grad_fn=<{type(self.creator).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


use_tensor_class(Tensor)  # the backward walk creates gradients of this class
