"""Scattering along a dim, the adjoint of ``gather``: ``scatter`` (and ``scatter_``), ``scatter_add`` (and
``scatter_add_``), ``repeat_interleave``.

For dim 0 (and so on for the other dims), over every position (i, j, k) of ``index``:

    scatter:      out[index[i][j][k]][j][k] = src[i][j][k]      (or = value)
    scatter_add:  out[index[i][j][k]][j][k] += src[i][j][k]

out starts as a copy of ``input``. Gradients: scatter_add passes dy to input unchanged and gives
d src = gather(dy, dim, index); scatter does the same for src but zeroes dy where input was overwritten.
(PyTorch leaves the winner among repeated indices of ``scatter`` unspecified; so does cnnkit: NumPy's last write.)

repeat_interleave repeats each element ``repeats`` times along ``dim``; its gradient sums dy over the copies.
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, normalize_dim
from .inplace import changed, guard_inplace
from .shape import reshape

__all__ = ["repeat_interleave", "scatter", "scatter_", "scatter_add", "scatter_add_"]


def _plan(x_shape: tuple, dim: int, index, src_shape, name: str) -> tuple:
    """(the axis, the index grid for out[...], the block of src that is read) after torch's checks."""
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an int64 tensor, got dtype {idx.dtype}")
    ndim = len(x_shape)
    axis = normalize_dim(dim, max(ndim, 1), name)
    if idx.ndim != ndim:
        raise ValueError(f"{name}: index must have the input's {ndim} dims, got shape {tuple(idx.shape)}")
    if any(i > n for d, (i, n) in enumerate(zip(idx.shape, x_shape)) if d != axis):
        raise ValueError(f"{name}: index shape {tuple(idx.shape)} exceeds the input's {tuple(x_shape)} outside "
                         f"dim {dim}")
    if src_shape is not None and (len(src_shape) != ndim or any(i > n for i, n in zip(idx.shape, src_shape))):
        raise ValueError(f"{name}: index shape {tuple(idx.shape)} exceeds the shape of src {tuple(src_shape)}")
    n = x_shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{name}: index out of range for dimension {dim} of size {n}")
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx.astype(np.int64) % n if idx.size else idx.astype(np.int64)
    return tuple(grid), tuple(slice(0, k) for k in idx.shape)


class Scatter(Function):
    """out = input with out[grid] = src[block] (or += with ``add``); inputs (x, src) or (x,) with a value."""

    def __init__(self, grid, block, add: bool, value=None):
        self.grid, self.block, self.add, self.value = grid, block, add, value

    def forward(self, x, src=None):
        out = x.copy()
        self.src_shape = None if src is None else src.shape
        if src is None:
            out[self.grid] = self.value
        elif self.add:
            np.add.at(out, self.grid, src[self.block])
        else:
            out[self.grid] = src[self.block]
        return out

    def backward(self, gy):
        need = self.needs_input_grad
        gx = None
        if need[0]:
            gx = gy
            if not self.add:
                gx = gy.copy()
                gx[self.grid] = 0
        if len(need) == 1:
            return gx
        gsrc = None
        if need[1]:
            gsrc = np.zeros(self.src_shape, gy.dtype)
            gsrc[self.block] = gy[self.grid]
        return gx, gsrc


def _operands(input, src, value, name: str):
    x = as_operand(input, name)
    if src is not None and value is not None:
        raise TypeError(f"{name}: give src or value, not both")
    if src is None and value is None:
        raise TypeError(f"{name}: expected src (a Tensor) or value (a number)")
    if src is not None and not isinstance(src, Tensor):
        value, src = src, None  # scatter(dim, index, 2.0): a number in src's place is the value
    if src is not None and src.dtype != x.dtype:
        raise TypeError(f"{name}: expected src of the input's dtype {x.dtype}, got {src.dtype}")
    return x, src, value


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of ``input`` with ``src`` (or ``value``) written at ``index`` along ``dim`` (see the module doc);
    ``reduce='add'`` adds instead (``reduce='multiply'`` is refused)."""
    name = "scatter"
    if reduce not in (None, "add"):
        raise ValueError(f"{name}: reduce must be None or 'add', got {reduce!r}")
    x, src, value = _operands(input, src, value, name)
    grid, block = _plan(x.shape, dim, index, None if src is None else src.shape, name)
    op = Scatter(grid, block, reduce == "add", value)
    return op(x) if src is None else op(x, src)


def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices accumulate)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor, got {type(src).__name__}")
    return scatter(input, dim, index, src, reduce="add")


def scatter_(self, dim: int, index, src=None, *, value=None, reduce=None):
    """In place: ``scatter`` into self (``reduce`` None, 'add' or 'multiply')."""
    name = "scatter_"
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"{name}: reduce must be None, 'add' or 'multiply', got {reduce!r}")
    x, src, value = _operands(self, src, value, name)
    guard_inplace(self, name, (src,) if src is not None else ())
    grid, block = _plan(x.shape, dim, index, None if src is None else src.shape, name)
    new = value if src is None else src._data[block]
    if reduce == "add":
        np.add.at(self._data, grid, new)
    elif reduce == "multiply":
        np.multiply.at(self._data, grid, new)
    else:
        self._data[grid] = new
    changed(self)
    return self


def scatter_add_(self, dim: int, index, src):
    """In place: self[index along dim] += src."""
    return scatter_(self, dim, index, src, reduce="add")


class RepeatInterleave(Function):
    def __init__(self, repeats, axis):
        self.repeats, self.axis = repeats, axis

    def forward(self, x):
        self.n = x.shape[self.axis]
        return np.repeat(x, self.repeats, axis=self.axis)

    def backward(self, gy):
        owner = np.repeat(np.arange(self.n), self.repeats)
        g = np.moveaxis(gy, self.axis, 0)
        gx = np.zeros((self.n,) + g.shape[1:], gy.dtype)
        np.add.at(gx, owner, g)
        return np.moveaxis(gx, 0, self.axis)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element repeated ``repeats`` times along ``dim`` (None: of the flattened input); ``repeats`` an int or
    a 1-d tensor with one count per element. ``repeat_interleave(counts)`` alone gives arange's indices repeated."""
    name = "repeat_interleave"
    x = as_operand(input, name)
    if repeats is None:
        if x.ndim != 1 or x.dtype.kind not in "iu":
            raise TypeError(f"{name}: with one argument, expected a 1-d integer tensor of counts, got "
                            f"{x.dtype} of shape {tuple(x.shape)}")
        return Tensor._wrap(np.repeat(np.arange(x.shape[0], dtype=np.int64), x._data))
    if dim is None:
        x, axis = reshape(x, -1), 0
    else:
        axis = normalize_dim(dim, max(x.ndim, 1), name)
    if isinstance(repeats, Tensor):
        reps = repeats._data
        if reps.dtype.kind not in "iu":
            raise TypeError(f"{name}: repeats must be an integer tensor, got dtype {reps.dtype}")
        reps = reps.reshape(-1) if reps.size != 1 else int(reps.reshape(()))
    else:
        reps = repeats
    if isinstance(reps, np.ndarray):
        if reps.shape[0] != x.shape[axis]:
            raise ValueError(f"{name}: repeats must have {x.shape[axis]} values (one per element along dim), "
                             f"got {reps.shape[0]}")
        if np.any(reps < 0):
            raise ValueError(f"{name}: repeats must be non-negative")
    elif not isinstance(reps, (int, np.integer)) or reps < 0:
        raise ValueError(f"{name}: repeats must be a non-negative int or a tensor of them, got {repeats!r}")
    y = RepeatInterleave(reps, axis)(x)
    if output_size is not None and y.shape[axis] != output_size:
        raise ValueError(f"{name}: output_size {output_size} does not match the result's size {y.shape[axis]}")
    return y
