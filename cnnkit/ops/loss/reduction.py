"""What every loss shares: the reduction of per-element losses and the checks of its inputs.

reduction 'none' keeps the per-element losses l, 'sum' is Σ l, 'mean' is Σ l / D with D the number of
elements or, for weighted losses, the total weight; PyTorch's deprecated ``size_average``/``reduce`` flags map
onto it. Inputs may be Tensors or array-likes; losses compute in PyTorch's promoted floating dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import backend
from ..._warn import warn
from ...tensor import Tensor
from .._util import as_operand, result_dtype
from ..dtype import cast

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction, name: str) -> None:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def legacy_reduction(size_average, reduce, reduction: str, name: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, mapped to ``reduction`` as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    warn(f"{name}: size_average and reduce are deprecated, use reduction='none'|'mean'|'sum'")
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def _reduce(loss: np.ndarray, reduction: str, denominator=None) -> np.ndarray:
    """Apply the reduction to per-element losses, keeping the dtype (a 0-d array for 'mean'/'sum')."""
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(total, dtype=loss.dtype)
    n = loss.size if denominator is None else denominator
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / np.asarray(n, dtype=loss.dtype), dtype=loss.dtype)


def _output_scale(gy: np.ndarray, reduction: str, denominator) -> np.ndarray:
    """dL/d(per-element loss): gy itself for 'none', gy (or gy / denominator for 'mean') otherwise."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return gy / np.asarray(denominator, dtype=gy.dtype)
    return gy


def _tensor(x, name: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number, np.generic)) and not isinstance(x, (str, bytes)):
        return as_operand(x, name)
    raise TypeError(f"{name}: {what} must be a Tensor, got {type(x).__name__}")


def _floating(x: Tensor, name: str, what: str) -> None:
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{name}: {what} must be a floating point tensor, got dtype {x.dtype}")


def _promote(name: str, *tensors) -> tuple:
    """The tensors cast to PyTorch's promoted floating dtype (a float beats an int; the wider float wins)."""
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = result_dtype(dt, t.dtype)
    if not backend.is_floating(dt):
        raise TypeError(f"{name}: expected floating point input or target, got dtypes "
                        f"{', '.join(str(t.dtype) for t in tensors)}")
    return tuple(cast(t, dt) for t in tensors) + (dt,)
