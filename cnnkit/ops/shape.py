"""Shape ops: reshape/view, flatten, squeeze/unsqueeze, transpose/permute, expand,
cat/stack/split/chunk and indexing (padding is in ``pad.py``).

These move values without changing them, so each backward moves the gradient
back: reshape undoes the reshape, transpose applies the inverse permutation,
expand sums over the broadcast dims, cat slices, and indexing
scatters the gradient into zeros (adding up repeated indices).
"""
from __future__ import annotations

import builtins

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, normalize_dim, result_dtype, sum_to
from .dtype import cast


def _shape_arg(shape, name):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected ints or one tuple of ints, got {shape!r}") from None


class Reshape(Function):
    """y = x with a new shape (same elements in C order); dx = dy reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes reordered; dx = dy with the inverse order."""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return gy.transpose(np.argsort(self.axes))


class Expand(Function):
    """y = x broadcast to ``shape`` (a view); dx = dy summed over the broadcast dims."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.in_shape)


class Cat(Function):
    """y = the inputs joined along ``axis``; each dx is its slice of dy."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.bounds = np.cumsum([0] + [x.shape[self.axis] for x in xs])
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        index = [slice(None)] * gy.ndim
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            index[self.axis] = slice(self.bounds[i], self.bounds[i + 1])
            grads.append(gy[tuple(index)] if need else None)
        return tuple(grads)


class Split(Function):
    """(y1, y2, ...) = consecutive slices of x along ``axis``; dx = the dys joined again."""

    def __init__(self, sizes, axis):
        self.sizes, self.axis = sizes, axis

    def forward(self, x):
        bounds = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(x, bounds, axis=self.axis))

    def backward(self, *gys):
        return np.concatenate(gys, axis=self.axis)


class GetItem(Function):
    """y = x[index];  dx = zeros with dy scattered into the indexed places (repeats add up)."""

    def __init__(self, index, advanced: bool):
        self.index, self.advanced = index, advanced

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.index]

    def backward(self, gy):
        gx = np.zeros(self.in_shape, gy.dtype)
        if self.advanced:
            np.add.at(gx, self.index, gy)
        else:
            gx[self.index] = gy
        return gx


# ----- public functions -------------------------------------------------------------------------

def reshape(x, *shape) -> Tensor:
    """The same elements in a new shape; one size may be -1 (inferred)."""
    x = as_operand(x, "reshape")
    shape = _shape_arg(shape, "reshape")
    if shape.count(-1) > 1 or any(s < -1 for s in shape):
        raise ValueError(f"reshape: invalid shape {shape}")
    known = int(np.prod([s for s in shape if s != -1]))
    if (-1 in shape and (known == 0 or x._data.size % known)) or (-1 not in shape and known != x._data.size):
        raise ValueError(f"reshape: shape {shape} is invalid for a tensor of shape {x.shape} "
                         f"({x._data.size} elements)")
    if shape == x.shape:
        return x
    return Reshape(shape)(x)


view = reshape


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim`` .. ``end_dim`` into one."""
    x = as_operand(x, "flatten")
    if x.ndim == 0:
        return reshape(x, 1)
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return reshape(x, shape)


def squeeze(x, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or ``dim`` if it has size 1)."""
    x = as_operand(x, "squeeze")
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        axes = {normalize_dim(d, x.ndim, "squeeze") for d in dims}
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return reshape(x, shape)


def unsqueeze(x, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (negative counts from the end of the result)."""
    x = as_operand(x, "unsqueeze")
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def permute(x, *dims) -> Tensor:
    """Reorder the dims: ``permute(x, 0, 2, 3, 1)`` makes NCHW into NHWC."""
    x = as_operand(x, "permute")
    dims = _shape_arg(dims, "permute")
    axes = tuple(d % x.ndim if x.ndim else 0 for d in dims)
    if len(dims) != x.ndim or sorted(axes) != list(range(x.ndim)) or any(not -x.ndim <= d < x.ndim for d in dims):
        raise ValueError(f"permute: expected a permutation of {x.ndim} dims, got {dims}")
    if axes == tuple(range(x.ndim)):
        return x
    return Permute(axes)(x)


def transpose(x, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    x = as_operand(x, "transpose")
    a = normalize_dim(dim0, x.ndim, "transpose")
    b = normalize_dim(dim1, x.ndim, "transpose")
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


def t(x) -> Tensor:
    """Transpose of a matrix (a 0-d or 1-d tensor is returned as it is)."""
    x = as_operand(x, "t")
    if x.ndim > 2:
        raise ValueError(f"t: expected a tensor with at most 2 dims, got shape {x.shape}; use transpose or permute")
    return x if x.ndim < 2 else transpose(x, 0, 1)


def expand(x, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying; -1 keeps a dim's size."""
    x = as_operand(x, "expand")
    sizes = _shape_arg(sizes, "expand")
    if len(sizes) < x.ndim:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the number of dims "
                         f"({x.ndim}) of shape {x.shape}")
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
    for i in range(x.ndim):
        if x.shape[i] != 1 and x.shape[i] != shape[i + lead]:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes}: dim {i} has size {x.shape[i]}")
    if any(s < 0 for s in shape):
        raise ValueError(f"expand: invalid size -1 for a new leading dim in {sizes}")
    if shape == x.shape:
        return x
    return Expand(shape)(x)


def _same_rank_tensors(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or len(tensors) == 0:
        raise TypeError(f"{name}: expected a non-empty list or tuple of tensors")
    ts = [as_operand(t_, name) for t_ in tensors]
    dtypes = {t_.dtype for t_ in ts}
    if len(dtypes) > 1:
        dt = ts[0].dtype
        for t_ in ts[1:]:
            dt = result_dtype(dt, t_.dtype)
        ts = [cast(t_, dt) for t_ in ts]
    return ts


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (all other dims must match)."""
    ts = _same_rank_tensors(tensors, "cat")
    nd = ts[0].ndim
    if nd == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_dim(dim, nd, "cat")
    for i, t_ in enumerate(ts):
        if t_.ndim != nd or t_.shape[:axis] + t_.shape[axis + 1:] != ts[0].shape[:axis] + ts[0].shape[axis + 1:]:
            raise ValueError(f"cat: tensor {i} has shape {t_.shape}, which does not match {ts[0].shape} "
                             f"outside dim {axis}")
    return Cat(axis)(*ts)


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shape tensors along a new dim."""
    ts = _same_rank_tensors(tensors, "stack")
    for i, t_ in enumerate(ts):
        if t_.shape != ts[0].shape:
            raise ValueError(f"stack: expected every tensor to have shape {ts[0].shape}, tensor {i} has {t_.shape}")
    axis = normalize_dim(dim, ts[0].ndim + 1, "stack")
    return cat([unsqueeze(t_, axis) for t_ in ts], axis)


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into chunks of ``split_size`` (the last may be smaller) or of the listed sizes."""
    x = as_operand(x, "split")
    axis = normalize_dim(dim, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        if not sizes:
            sizes = [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sections {sizes} do not add up to the size {n} of dim {axis}")
    out = Split(sizes, axis)(x)
    return out if isinstance(out, tuple) else (out,)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if n is small)."""
    x = as_operand(x, "chunk")
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    size = -(-n // int(chunks)) if n else 1
    return split(x, builtins.max(size, 1), dim)


def _index_part(i, name):
    if isinstance(i, Tensor):
        i = i._data
    if isinstance(i, list):
        i = np.asarray(i)
    if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
        raise IndexError(f"{name}: index arrays must be integer or bool, got dtype {i.dtype}")
    return i


def getitem(x, index) -> Tensor:
    """``x[index]``: ints, slices (with steps), None, Ellipsis, bool masks and integer arrays."""
    x = as_operand(x, "getitem")
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(_index_part(i, "getitem") for i in parts)
    advanced = builtins.any(isinstance(i, np.ndarray) and i.dtype != np.bool_ for i in parts)
    has_mask = builtins.any(isinstance(i, np.ndarray) and i.dtype == np.bool_ for i in parts)
    # several index arrays (a mask among them) may select one place twice: scatter with add.at
    n_arrays = builtins.sum(isinstance(p, np.ndarray) for p in parts)
    try:
        return GetItem(parts, advanced or (has_mask and n_arrays > 1))(x)
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} does not fit a tensor of shape {x.shape}: {e}") from None


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-d tensors: with ``indexing='ij'`` output k has shape (n_1, ..., n_K) and varies along
    dim k; ``'xy'`` swaps the first two dims (NumPy/Matlab order). Each grid is its tensor expanded, so gradients
    flow back summed over the other dims."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [as_operand(t, "meshgrid") for t in tensors]
    if not ts:
        raise ValueError("meshgrid: expected at least one tensor")
    if builtins.any(t.ndim > 1 for t in ts):
        raise ValueError(f"meshgrid: expected 0-d or 1-d tensors, got shapes {[tuple(t.shape) for t in ts]}")
    if len({t.dtype for t in ts}) > 1:
        raise TypeError(f"meshgrid: expected tensors of one dtype, got {sorted(str(t.dtype) for t in ts)}")
    ts = [reshape(t, -1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    grids = []
    for k, t in enumerate(ts):
        view = [1] * len(ts)
        view[k] = shape[k]
        grids.append(expand(reshape(t, *view), *shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)
