"""Gradient utilities: norm and value clipping, the L1 penalty, flattening parameters to a vector.

    loss = criterion(model(x), y) + 1e-4 * ck.nn.utils.l1_penalty(model.parameters())
    loss.backward()
    ck.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
    optimizer.step()
"""
from __future__ import annotations

import math
import types

import numpy as np

from .. import backend
from .._warn import warn
from ..ops import validate
from ..ops.elementwise import abs as _abs
from ..ops.inplace import changed
from ..ops.reduce import sum as _sum
from ..ops.shape import cat, reshape
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "l1_penalty", "parameters_to_vector",
           "vector_to_parameters"]


class NonFiniteNormError(ValueError, RuntimeError):
    """The total gradient norm is NaN or infinite (``clip_grad_norm_(..., error_if_nonfinite=True)``)."""


def _tensor_list(parameters, name: str) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, (dict, str, bytes)) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"{name}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}")
    is_generator = isinstance(parameters, types.GeneratorType)
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameters must be Tensors, got a {type(p).__name__}")
    if is_generator and not params:
        warn(f"{name}: `parameters` is an empty generator, nothing to do")
    return params


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """||x||_p over all elements, as a 0-d array of x's dtype (p = inf: max |x|, -inf: min |x|, 0: count)."""
    flat = x.reshape(-1)
    if flat.size == 0:
        return np.zeros((), x.dtype)
    if p == 2.0:
        return np.sqrt(np.dot(flat, flat)).astype(x.dtype, copy=False)
    a = np.abs(flat)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0.0:
        return np.asarray(np.count_nonzero(a), x.dtype)
    if p == 1.0:
        return a.sum()
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The p-norm of all the given tensors together: the norm of the vector of their norms.

    ``total = || (||t_1||_p, ..., ||t_n||_p) ||_p`` (equal to the norm of all elements concatenated).
    Returns a 0-d Tensor (``tensor(0.)`` when there is nothing).
    """
    tensors = _tensor_list(tensors, "get_total_norm")
    p = validate.number(norm_type, "norm_type", "get_total_norm")
    total = _total_norm(tensors, p)
    if error_if_nonfinite and not np.isfinite(total._data):
        raise NonFiniteNormError(f"get_total_norm: the total norm of order {p} is non-finite ({float(total._data)}); "
                                 f"set error_if_nonfinite=False to get it anyway")
    return total


def _total_norm(tensors: list, p: float) -> Tensor:
    """|| (||t_1||_p, ..., ||t_n||_p) ||_p as a 0-d Tensor (0 in the default dtype for no tensors)."""
    if not tensors:
        return Tensor(np.zeros((), backend.get_default_dtype()))
    norms = [_vector_norm(t._data, p) for t in tensors]
    dtype = np.result_type(*[n.dtype for n in norms])
    total = _vector_norm(np.stack([np.asarray(n, dtype) for n in norms]), p)
    return Tensor._wrap(np.asarray(total, dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    r"""Rescale the gradients in place so that their total ``norm_type``-norm is at most ``max_norm``.

    ``total`` is the norm of all gradients together (see :func:`get_total_norm`); every gradient is
    multiplied by ``min(1, max_norm / (total + 1e-6))`` (PyTorch's formula). Parameters without a
    gradient are ignored. Returns ``total`` (before clipping) as a 0-d Tensor.
    """
    name = "clip_grad_norm_"
    params = _tensor_list(parameters, name)
    max_norm = validate.number(max_norm, "max_norm", name)
    if max_norm < 0 or max_norm != max_norm:
        raise ValueError(f"{name}: max_norm must be >= 0, got {max_norm}")
    order = validate.number(norm_type, "norm_type", name)
    grads = [p.grad for p in params if p.grad is not None]
    total = _total_norm(grads, order)
    if error_if_nonfinite and not np.isfinite(total._data):
        raise NonFiniteNormError(f"{name}: the total norm of order {order} of the gradients is non-finite "
                                 f"({float(total._data)}), so it cannot be clipped; set error_if_nonfinite=False to "
                                 f"scale the gradients by it anyway")
    if not grads:
        return total
    coef = total._data.dtype.type(max_norm) / (total._data + total._data.dtype.type(1e-6))
    coef = np.minimum(coef, total._data.dtype.type(1.0))
    for g in grads:
        g._data *= coef.astype(g._data.dtype, copy=False)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``."""
    name = "clip_grad_value_"
    params = _tensor_list(parameters, name)
    c = validate.number(clip_value, "clip_value", name)
    if c < 0 or c != c:
        raise ValueError(f"{name}: clip_value must be >= 0, got {clip_value}")
    for p in params:
        if p.grad is not None:
            np.clip(p.grad._data, -c, c, out=p.grad._data)


def l1_penalty(parameters) -> Tensor:
    r"""The L1 norm of the parameters, :math:`\sum_i \sum_j |w_{ij}|`, as a differentiable scalar.

    Add ``lambda * l1_penalty(model.parameters())`` to the loss for L1 regularization (sparse
    weights); its gradient is ``lambda * sign(w)`` (0 at 0). For L2 use the optimizers' ``weight_decay``.
    """
    params = _tensor_list(parameters, "l1_penalty")
    if not params:
        return Tensor(np.zeros((), backend.get_default_dtype()))
    total = None
    for p in params:
        if not backend.is_floating(p._data.dtype):
            raise TypeError(f"l1_penalty: parameters must be floating point, got dtype {p._data.dtype}")
        term = _sum(_abs(p))
        total = term if total is None else total + term
    return total


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable)."""
    params = _tensor_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([reshape(p, -1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the vector ``vec`` into the parameters (in place, no graph)."""
    name = "vector_to_parameters"
    if not isinstance(vec, Tensor):
        raise TypeError(f"{name}: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d vector, got shape {tuple(vec.shape)}")
    params = _tensor_list(parameters, name)
    n = sum(p._data.size for p in params)
    if n != vec._data.size:
        raise ValueError(f"{name}: the vector has {vec._data.size} elements, the parameters have {n}")
    start = 0
    for p in params:
        size = p._data.size
        p._data[...] = vec._data[start:start + size].reshape(p._data.shape)
        changed(p)
        start += size
