"""Small helpers shared by the ops: operand conversion, dtype promotion, broadcasting, dims."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from .dtype import cast


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back to ``shape`` (the backward of NumPy broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


def result_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's promotion for two tensors: a float beats an int; otherwise the wider type."""
    fa, fb = backend.is_floating(a), backend.is_floating(b)
    if fa and not fb:
        return a
    if fb and not fa:
        return b
    return np.promote_types(a, b)


def is_scalar(v) -> bool:
    return isinstance(v, (int, float, bool, np.generic))


def as_operand(v, name: str) -> Tensor:
    if isinstance(v, Tensor):
        return v
    if isinstance(v, (np.ndarray, list, tuple)) or is_scalar(v):
        return Tensor._wrap(backend.to_array(v))
    raise TypeError(f"{name}: expected a Tensor, array or number, got {type(v).__name__}")


def float_operand(v, name: str) -> Tensor:
    """``v`` as a Tensor operand; a TypeError naming ``name`` unless its dtype is floating point."""
    x = as_operand(v, name)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{name}: expected a floating point tensor, got dtype {x.dtype}")
    return x


def binary_operands(a, b, name: str, float_result: bool = False):
    """Two tensors of one dtype for a binary op, following PyTorch's promotion.

    A Python number takes the dtype of the tensor it meets (``x_float32 * 0.5`` stays float32);
    an int tensor meeting a float number becomes the default float dtype. ``float_result`` makes the
    result floating (true division).
    """
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dt = result_dtype(a.dtype, b.dtype)
    else:
        t, other = (a, b) if isinstance(a, Tensor) else (b, a)
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
        if is_scalar(other):
            kind = np.asarray(other).dtype.kind
            if backend.is_floating(t.dtype) or (kind in "iu" and t.dtype.kind in "iu") or kind == "b":
                dt = t.dtype
            elif kind == "f":
                dt = backend.get_default_dtype()
            else:
                dt = np.promote_types(t.dtype, np.asarray(other).dtype)
            other = Tensor._wrap(np.asarray(other, dtype=dt))
        else:
            other = as_operand(other, name)
            dt = result_dtype(t.dtype, other.dtype)
        a, b = (t, other) if isinstance(a, Tensor) else (other, t)
    if float_result and not backend.is_floating(dt):
        dt = backend.get_default_dtype()
    if a.dtype != dt:
        a = cast(a, dt)
    if b.dtype != dt:
        b = cast(b, dt)
    return a, b


def check_broadcast(name: str, *shapes) -> None:
    """Raise ``ValueError`` naming ``name`` if ``shapes`` do not broadcast together."""
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{name}: shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast") from None


def normalize_dims(dim, ndim: int, name: str) -> tuple:
    """``dim`` (None, int or tuple, negatives allowed) as a sorted tuple of axes; None or () means all.

    A 0-d tensor accepts dim 0 or -1 (as in PyTorch) and has no axis to reduce: the result is then ().
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    axes = _checked_dims(dim, ndim, name)
    return tuple(sorted(axes)) if ndim else ()


def _checked_dims(dim, ndim: int, name: str) -> list:
    if isinstance(dim, (int, np.integer)):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
    else:
        raise TypeError(f"{name}: dim must be an int or a tuple of ints, got {dim!r}")
    out = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{name}: dim must be an int or a tuple of ints, got {dim!r}")
        lo = -max(ndim, 1)
        if not lo <= d < max(ndim, 1):
            raise IndexError(f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions "
                             f"(expected {lo} to {max(ndim, 1) - 1})")
        out.append(int(d) % max(ndim, 1) if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dim {dim!r} names the same dimension twice")
    return out


def normalize_dim(dim, ndim: int, name: str) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    return _checked_dims(dim, ndim, name)[0]
