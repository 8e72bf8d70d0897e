"""Checking analytic gradients against finite differences (``ck.autograd.gradcheck``).

For a function f and a loss L = Σ_k <v_k, f_k(x)> with fixed random cotangents v_k,
backprop gives ∂L/∂x. Central differences give the same quantity numerically:

    ∂L/∂x_i ≈ (L(x + ε e_i) - L(x - ε e_i)) / 2ε          (error O(ε²))

Small inputs with small outputs are checked on the whole Jacobian (one
backward per output element, two evaluations per input element); larger
ones element by element on a random cotangent; inputs too large for that are
checked along random directions d: <∂L/∂x, d> ≈ (L(x + εd) - L(x - εd)) / 2ε
(Chainer's directional check). Everything runs in float64.
"""
from __future__ import annotations

import functools

import numpy as np

from ..kernels import written
from .backward import run_backward, tensor_class
from .grad_mode import no_grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences."""


def _unravel(k: int, shape: tuple) -> tuple:
    """The multi-index of flat position ``k`` in an array of ``shape``, as plain ints."""
    return tuple(int(j) for j in np.unravel_index(k, shape))


def _as_outputs(out) -> list:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, tensor_class()) and np.issubdtype(o.dtype, np.floating)]


def _scalar_loss(fn, inputs, vs) -> float:
    with no_grad():
        outs = _as_outputs(fn(*inputs))
    return float(sum(np.vdot(v, o._data) for v, o in zip(vs, outs)))


def _output_vector(fn, inputs) -> np.ndarray:
    with no_grad():
        outs = _as_outputs(fn(*inputs))
    return np.concatenate([o._data.reshape(-1) for o in outs]) if outs else np.zeros(0)


def _analytic(fn, inputs, checked, vs) -> list:
    for i in checked:
        inputs[i].grad = None
    outs = _as_outputs(fn(*inputs))
    for v, o in zip(vs, outs):
        if o.requires_grad:
            run_backward(o, v, retain_graph=True)
    return [inputs[i].grad._data.copy() if inputs[i].grad is not None else np.zeros_like(inputs[i]._data)
            for i in checked]


def _fail(kind, i, idx, analytic, numerical, atol, rtol, extra=""):
    where = idx if isinstance(idx, str) else f"worst element {idx}"
    raise GradcheckError(
        f"gradcheck: {kind} gradient of input {i} disagrees with finite differences{extra}: {where}: "
        f"analytic {analytic:.10g} vs numerical {numerical:.10g} "
        f"(|diff| {abs(analytic - numerical):.3g} > atol {atol} + rtol {rtol} * |numerical|)")


def _compare(kind, i, analytic, numerical, atol, rtol, index_of, extra=""):
    excess = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
    if not np.all(np.isfinite(analytic)) and np.all(np.isfinite(numerical)):
        k = int(np.argmax(~np.isfinite(analytic)))
        _fail(kind, i, index_of(k), float(analytic.flat[k]), float(numerical.flat[k]), atol, rtol, extra)
    if np.any(excess > 0):
        k = int(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)))
        _fail(kind, i, index_of(k), float(analytic.flat[k]), float(numerical.flat[k]), atol, rtol, extra)


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, *,
              full_jacobian_max: int = 256, elementwise_max: int = 4096, directions: int = 3,
              seed: int = 0) -> bool:
    """Check the gradients of ``fn(*inputs)`` w.r.t. every input with ``requires_grad``; True or GradcheckError.

    Inputs that require grad must be float64. ``fn`` must be deterministic (seed any randomness inside it).
    """
    inputs = [inputs] if isinstance(inputs, tensor_class()) else list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, tensor_class()) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} must be float64 for finite differences, got {inputs[i].dtype}")
    rng = np.random.default_rng(seed)
    with no_grad():
        outs = _as_outputs(fn(*inputs))
    if not outs:
        raise ValueError("gradcheck: fn returned no floating point tensor")
    n_out = sum(o._data.size for o in outs)
    saved_grads = [inputs[i].grad for i in checked]
    try:
        for pos, i in enumerate(checked):
            x = inputs[i]
            if x._data.size == 0:
                continue  # nothing to differentiate
            flat = x._data.reshape(-1)
            if not np.shares_memory(flat, x._data):
                raise ValueError(f"gradcheck: input {i} must be a contiguous array")
            index_of = functools.partial(_unravel, shape=x.shape)
            if x._data.size <= full_jacobian_max and n_out <= full_jacobian_max:
                _check_full_jacobian(fn, inputs, i, flat, outs, eps, atol, rtol, index_of)
            elif x._data.size <= elementwise_max:
                vs = [rng.standard_normal(o.shape) for o in outs]
                analytic = _analytic(fn, inputs, checked, vs)[pos].reshape(-1)
                numerical = np.empty_like(analytic)
                for k in range(flat.size):
                    numerical[k] = _central(lambda: _scalar_loss(fn, inputs, vs), flat, k, eps)
                _compare("vector-Jacobian", i, analytic, numerical, atol, rtol, index_of)
            else:
                vs = [rng.standard_normal(o.shape) for o in outs]
                analytic = _analytic(fn, inputs, checked, vs)[pos]
                for d in range(directions):
                    direction = rng.standard_normal(x.shape)
                    direction /= np.linalg.norm(direction) or 1.0
                    orig = x._data.copy()
                    x._data += eps * direction
                    written(x._data)           # the kernels' packed copy of a weight is stale now
                    plus = _scalar_loss(fn, inputs, vs)
                    x._data[...] = orig - eps * direction
                    written(x._data)
                    minus = _scalar_loss(fn, inputs, vs)
                    x._data[...] = orig
                    written(x._data)
                    num = (plus - minus) / (2 * eps)
                    ana = float(np.vdot(analytic, direction))
                    _compare("directional", i, np.array([ana]), np.array([num]), atol, rtol,
                             lambda k, d=d: f"along random direction {d}")
    finally:
        for i, g in zip(checked, saved_grads):
            inputs[i].grad = g
    return True


def _central(evaluate, flat, k, eps) -> float:
    orig = flat[k]
    flat[k] = orig + eps
    written(flat)
    plus = evaluate()
    flat[k] = orig - eps
    written(flat)
    minus = evaluate()
    flat[k] = orig
    written(flat)
    return (plus - minus) / (2 * eps)


def _check_full_jacobian(fn, inputs, i, flat, outs, eps, atol, rtol, index_of):
    x = inputs[i]
    n_out = sum(o._data.size for o in outs)
    numerical = np.empty((n_out, flat.size))
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        written(flat)
        plus = _output_vector(fn, inputs)
        flat[k] = orig - eps
        written(flat)
        minus = _output_vector(fn, inputs)
        flat[k] = orig
        written(flat)
        numerical[:, k] = (plus - minus) / (2 * eps)
    analytic = np.empty_like(numerical)
    sizes = np.cumsum([0] + [o._data.size for o in outs])
    for r in range(n_out):
        vs = [np.zeros(o.shape) for o in outs]
        j = int(np.searchsorted(sizes, r, side="right") - 1)
        vs[j].reshape(-1)[r - sizes[j]] = 1.0
        x.grad = None
        outputs = _as_outputs(fn(*inputs))
        for v, o in zip(vs, outputs):
            if o.requires_grad:
                run_backward(o, v, retain_graph=True)
        analytic[r] = x.grad._data.reshape(-1) if x.grad is not None else 0.0
    excess = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
    bad = ~np.isfinite(analytic) & np.isfinite(numerical)
    if np.any(excess > 0) or np.any(bad):
        r, k = np.unravel_index(int(np.argmax(np.where(bad, np.inf, np.nan_to_num(excess, nan=np.inf)))),
                                excess.shape)
        _fail("Jacobian", i, index_of(k), float(analytic[r, k]), float(numerical[r, k]), atol, rtol,
              extra=f" (output element {r})")
