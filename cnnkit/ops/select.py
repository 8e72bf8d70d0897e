"""Selecting and rearranging elements: ``index_select``, ``gather``, ``narrow``, ``unbind``, ``flip``, ``roll``,
``repeat``. Each output element is one input element, so each backward scatters dy back to where the element came
from (adding where one input element was taken several times):

    index_select / gather:  dx[idx] += dy          flip / roll:  dx = dy flipped / rolled back
    repeat: dx = Σ over the tiles of dy            narrow / unbind: slices (see shape.getitem)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, normalize_dim
from .shape import getitem, reshape

__all__ = ["flip", "gather", "index_select", "narrow", "repeat", "roll", "unbind"]


def _index_array(index, name: str) -> np.ndarray:
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx.astype(np.int64, copy=False)


class IndexSelect(Function):
    def __init__(self, idx, axis):
        self.idx, self.axis = idx, axis

    def forward(self, x):
        self.in_shape = x.shape
        return np.take(x, self.idx, axis=self.axis)

    def backward(self, gy):
        gx = np.zeros(self.in_shape, gy.dtype)
        moved = np.moveaxis(gx, self.axis, 0)
        np.add.at(moved, self.idx, np.moveaxis(gy, self.axis, 0))
        return gx


class GatherAlong(Function):
    def __init__(self, idx, axis):
        self.idx, self.axis = idx, axis

    def forward(self, x):
        self.in_shape = x.shape
        sl = tuple(slice(0, n) for n in self.idx.shape)  # gather reads the leading block of the other dims
        self.sl = tuple(s if i != self.axis else slice(None) for i, s in enumerate(sl))
        return np.take_along_axis(x[self.sl], self.idx, axis=self.axis)

    def backward(self, gy):
        gx = np.zeros(self.in_shape, gy.dtype)
        block = np.zeros(gx[self.sl].shape, gy.dtype)
        grid = list(np.indices(self.idx.shape, sparse=True))
        grid[self.axis] = self.idx
        np.add.at(block, tuple(grid), gy)
        gx[self.sl] = block
        return gx


class Flip(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return np.flip(x, self.axes).copy()

    def backward(self, gy):
        return np.flip(gy, self.axes).copy()


class Roll(Function):
    def __init__(self, shifts, axes):
        self.shifts, self.axes = shifts, axes

    def forward(self, x):
        return np.roll(x, self.shifts, self.axes)

    def backward(self, gy):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return np.roll(gy, back, self.axes)


class Tile(Function):
    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        self.in_shape = x.shape
        return np.tile(x, self.reps)

    def backward(self, gy):
        # split each repeated dim k into (reps_k, n_k) and sum over the reps
        lead = len(self.reps) - len(self.in_shape)
        shape = (1,) * lead + self.in_shape
        g = gy.reshape([v for r, n in zip(self.reps, shape) for v in (r, n)])
        g = g.sum(axis=tuple(range(0, g.ndim, 2)))
        return g.reshape(self.in_shape)


def index_select(input, dim: int, index) -> Tensor:
    """The entries of ``input`` at the 1-d ``index`` along ``dim``."""
    x = as_operand(input, "index_select")
    axis = normalize_dim(dim, x.ndim, "index_select") if x.ndim else 0
    idx = _index_array(index, "index_select").reshape(-1)
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_select: index out of range for dimension {dim} of size {n}")
    if x.ndim == 0:
        return reshape(x, ()) if idx.size else x
    return IndexSelect(idx, axis)(x)


def gather(input, dim: int, index) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] for dim 0 (and so on): ``index`` has input's rank."""
    x = as_operand(input, "gather")
    idx = _index_array(index, "gather")
    axis = normalize_dim(dim, x.ndim, "gather")
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index must have the input's {x.ndim} dims, got shape {tuple(idx.shape)}")
    if any(i > n for d, (i, n) in enumerate(zip(idx.shape, x.shape)) if d != axis):
        raise ValueError(f"gather: index shape {tuple(idx.shape)} exceeds the input's {tuple(x.shape)} outside "
                         f"dim {dim}")
    n = x.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"gather: index out of range for dimension {dim} of size {n}")
    return GatherAlong(idx % n if idx.size else idx, axis)(x)


def narrow(input, dim: int, start: int, length: int) -> Tensor:
    x = as_operand(input, "narrow")
    axis = normalize_dim(dim, x.ndim, "narrow")
    n = x.shape[axis]
    start = int(start) + (n if start < 0 else 0)
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} do not fit dimension {dim} of size {n}")
    return getitem(x, (slice(None),) * axis + (slice(start, start + int(length)),))


def unbind(input, dim: int = 0) -> tuple:
    x = as_operand(input, "unbind")
    axis = normalize_dim(dim, x.ndim, "unbind")
    return tuple(getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis]))


def _dims(dims, ndim, name):
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    return tuple(normalize_dim(d, ndim, name) for d in dims)


def flip(input, dims) -> Tensor:
    x = as_operand(input, "flip")
    return Flip(_dims(dims, x.ndim, "flip"))(x)


def roll(input, shifts, dims=None) -> Tensor:
    x = as_operand(input, "roll")
    if dims is None:
        return reshape(Roll(int(shifts), 0)(reshape(x, -1)), x.shape)
    axes = _dims(dims, x.ndim, "roll")
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    return Roll(tuple(int(s) for s in shifts), axes)(x)


def repeat(input, *sizes) -> Tensor:
    """Tile the tensor ``sizes[k]`` times along dim k (``sizes`` may have more dims than the tensor)."""
    x = as_operand(input, "repeat")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    reps = tuple(int(s) for s in sizes)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: give at least {x.ndim} repeat counts for a {x.ndim}-d tensor, got {reps}")
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat: repeat counts must be non-negative, got {reps}")
    if not backend.is_floating(x.dtype):
        return Tensor._wrap(np.tile(x._data, reps))
    return Tile(reps)(x)
