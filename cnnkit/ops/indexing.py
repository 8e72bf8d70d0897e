"""Index-based ops: ``one_hot`` (class indices to indicator vectors), ``masked_fill`` (a constant where a mask is
true: y = value where mask else x;  dx = dy where the mask is false, 0 elsewhere)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._util import as_operand
from .elementwise import Where

__all__ = ["masked_fill", "one_hot"]


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each index (``num_classes=-1``: one
    more than the largest index)."""
    t = as_operand(tensor, "one_hot")
    if t.dtype != backend.int64:
        raise TypeError(f"one_hot: expected an int64 tensor of class indices, got dtype {t.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    idx = t._data
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must be non-negative, got {int(idx.min())}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(idx.max()) + 1
    elif num_classes < 0 or (idx.size and idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be smaller than num_classes ({num_classes}), got max "
                         f"{int(idx.max()) if idx.size else None}")
    return Tensor._wrap((idx[..., None] == np.arange(int(num_classes))).astype(np.int64))


def masked_fill(input, mask, value) -> Tensor:
    """``value`` where the bool ``mask`` (broadcast to the input's shape) is true, the input elsewhere."""
    x = as_operand(input, "masked_fill")
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        if np.broadcast_shapes(m.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {tuple(m.shape)} does not broadcast to the input's shape "
                         f"{tuple(x.shape)}") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {tuple(value.shape)}")
        value = value.item()
    fill = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    return Where(m)(fill, x)
