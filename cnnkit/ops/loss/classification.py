"""Classification losses with a softmax over axis 1: cross-entropy (class-index or class-probability targets)
and the negative log-likelihood.

Softmax cross-entropy with class-index targets, for logits x of shape (N, C, d1, ...) and labels t:

    log p_ic = x_ic - logsumexp_c(x_i)          logsumexp = m + log Σ_c exp(x_ic - m),  m = max_c x_ic
    l_i      = -(1-ε) w_{t_i} log p_{i,t_i} - (ε/C) Σ_c w_c log p_ic          (0 where t_i = ignore_index)
    'mean'   = Σ_i l_i / Σ_{i not ignored} w_{t_i}                            (w ≡ 1 without a weight)
    ∂l_i/∂x_ic = ((1-ε) w_{t_i} + (ε/C) Σ_c' w_c') p_ic - (1-ε) w_{t_i} [c = t_i] - (ε/C) w_c

which is softmax(x) − onehot(t) without weight or smoothing. (A negative ε means no smoothing, as in
PyTorch.) NLL is the same without the log-softmax: l_i = −w_{t_i} x_{i,t_i}. With class-probability targets y:
l_i = -Σ_c w_c ỹ_ic log p_ic, ỹ = (1-ε) y + ε/C, 'mean' divides by the number of samples, and
∂l/∂x = p Σ_c w_c ỹ_c − w ỹ,  ∂l/∂y = −(1-ε) w log p.
"""
from __future__ import annotations

import numpy as np

from ... import backend
from ...function import Function
from ...tensor import Tensor
from .. import validate
from ..shape import reshape
from .reduction import _floating, _output_scale, _promote, _reduce, _tensor, check_reduction, legacy_reduction


def _log_softmax_axis1(x: np.ndarray) -> np.ndarray:
    """log softmax over axis 1 by the stable log-sum-exp: z = x − max_c x, log p = z − log Σ_c exp(z).

    No exponent exceeds 0, so logits of ±1e4 are safe. (softmax p = exp(log p), as PyTorch's backward uses.)
    """
    z = x - x.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def _class_shape(ndim: int, c: int) -> tuple:
    """Shape that broadcasts a per-class vector along axis 1 of an (N, C, d1, ...) array."""
    return (1, c) + (1,) * (ndim - 2)


class _IndexTargets:
    """Shared bookkeeping for class-index losses: valid mask, safe labels, per-sample weights."""

    def _prepare(self, x: np.ndarray):
        t = self.target
        self.valid = t != self.ignore_index
        self.idx = np.where(self.valid, t, 0).astype(np.intp, copy=False)[:, None]  # (N, 1, d1, ...)
        if self.weight is None:
            self.wt = self.valid.astype(x.dtype)
        else:
            self.wt = np.where(self.valid, self.weight[self.idx[:, 0]], 0).astype(x.dtype, copy=False)
        self.denominator = self.wt.sum(dtype=x.dtype) if self.reduction == "mean" else None


class CrossEntropy(_IndexTargets, Function):
    """Fused log-softmax + NLL over axis 1 with class-index targets (see the module docstring).

    Backward, with r = dL/dl_i: the gradient reaching log p is γ = −r ((1-ε) w_t onehot(t) + (ε/C) w),
    and through log-softmax g = γ − p Σ_c γ_c; without smoothing that is r w_t (p − onehot(t)).
    """

    def __init__(self, target, weight, ignore_index, reduction, label_smoothing):
        self.target, self.weight, self.ignore_index = target, weight, ignore_index
        self.reduction, self.eps = reduction, label_smoothing

    def forward(self, x):
        self._prepare(x)
        c = x.shape[1]
        eps = self.eps
        logp = _log_softmax_axis1(x)
        loss = np.where(self.valid, -(self.wt * np.take_along_axis(logp, self.idx, axis=1)[:, 0]), 0)
        if eps > 0:
            if self.weight is None:
                smooth = -logp.sum(axis=1)  # −Σ_c log p_c
            else:
                smooth = -np.tensordot(logp, self.weight, axes=([1], [0]))  # −Σ_c w_c log p_c, (N, d1, ...)
            loss = (1 - eps) * loss + (eps / c) * np.where(self.valid, smooth, 0)
        if self.needs_input_grad[0]:
            self.logp = logp
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction, self.denominator)

    def backward(self, gy):
        eps, logp = self.eps, self.logp
        c = logp.shape[1]
        # dL/dl_i for each term, rounded in PyTorch's order: (gy·(1−ε)) / Σw and (gy·ε/C) / Σw for 'mean'
        r_nll = _output_scale(gy * (1 - eps) if eps > 0 else gy, self.reduction, self.denominator)
        with np.errstate(invalid="ignore"):  # 'mean' with every target ignored: inf · 0, masked below
            hit = np.where(self.valid, r_nll * self.wt, 0).astype(gy.dtype, copy=False)[:, None]  # −γ at t
        p = np.exp(logp)
        if eps == 0:  # γ = −hit·onehot(t), Σ_c γ_c = −hit: g = p·hit − hit·onehot(t)
            g = p
            g *= hit
            np.put_along_axis(g, self.idx, np.take_along_axis(g, self.idx, axis=1) - hit, axis=1)
            return g
        r_smooth = _output_scale(gy * (eps / c), self.reduction, self.denominator)
        r_smooth = np.where(self.valid, r_smooth, 0).astype(gy.dtype, copy=False)[:, None]
        w = np.ones(c, gy.dtype) if self.weight is None else self.weight
        g = -r_smooth * w.reshape(_class_shape(logp.ndim, c))  # γ = −(ε/C) r w − hit·onehot(t) ...
        np.put_along_axis(g, self.idx, np.take_along_axis(g, self.idx, axis=1) - hit, axis=1)
        p *= g.sum(axis=1, keepdims=True)
        g -= p  # ... then through log-softmax: γ − p Σ_c γ_c
        return g


class NLLLoss(_IndexTargets, Function):
    """l_i = −w_{t_i} x_{i,t_i} (0 where ignored); backward scatters −r_i w_{t_i} to position t_i."""

    def __init__(self, target, weight, ignore_index, reduction):
        self.target, self.weight, self.ignore_index, self.reduction = target, weight, ignore_index, reduction

    def forward(self, x):
        self._prepare(x)
        self.x_shape, self.x_dtype = x.shape, x.dtype
        picked = np.take_along_axis(x, self.idx, axis=1)[:, 0]
        loss = np.where(self.valid, -(self.wt * picked), 0).astype(x.dtype, copy=False)
        return _reduce(loss, self.reduction, self.denominator)

    def backward(self, gy):
        r = np.where(self.valid, _output_scale(gy, self.reduction, self.denominator), 0)
        g = np.zeros(self.x_shape, self.x_dtype)
        with np.errstate(invalid="ignore"):
            picked = np.where(self.valid, -(r * self.wt), 0).astype(self.x_dtype, copy=False)
        np.put_along_axis(g, self.idx, picked[:, None], axis=1)
        return g


class CrossEntropyProbs(Function):
    """l_i = −Σ_c w_c ỹ_ic log p_ic with ỹ = (1-ε) y + ε/C; 'mean' divides by the number of samples."""

    def __init__(self, weight, reduction, label_smoothing):
        self.weight, self.reduction, self.eps = weight, reduction, label_smoothing

    def forward(self, x, y):
        c = x.shape[1]
        logp = _log_softmax_axis1(x)
        yt = y * (1 - self.eps) + self.eps / c if self.eps > 0 else y
        if self.weight is not None:
            self.w = self.weight.reshape(_class_shape(x.ndim, c))
            yt = yt * self.w
        loss = -(logp * yt).sum(axis=1)
        self.denominator = x.size // c if self.reduction == "mean" else None
        self.logp, self.q = logp, yt
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction, self.denominator)

    def backward(self, gy):
        r = _output_scale(gy, self.reduction, self.denominator)
        r = np.expand_dims(r, 1) if r.ndim else r
        gx = gy_t = None
        if self.needs_input_grad[0]:  # γ = −q r reaches log p; through log-softmax g = γ − p Σ_c γ_c
            gx = self.q * (-r)
            gx -= np.exp(self.logp) * gx.sum(axis=1, keepdims=True)
        if self.needs_input_grad[1]:
            gy_t = self.logp * (-(1 - self.eps) * r)
            if self.weight is not None:
                gy_t *= self.w
        return gx, gy_t


def check_label_smoothing(label_smoothing, name: str) -> float:
    if not validate.is_real(label_smoothing):
        raise TypeError(f"{name}: label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if label_smoothing > 1.0 or label_smoothing != label_smoothing:
        raise ValueError(f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    return max(float(label_smoothing), 0.0)  # PyTorch applies smoothing only when it is > 0


def check_ignore_index(ignore_index, name: str) -> int:
    if not validate.is_int(ignore_index):
        raise TypeError(f"{name}: ignore_index must be an int, got {type(ignore_index).__name__}")
    return int(ignore_index)


def _check_logits(input, name: str) -> Tensor:
    input = _tensor(input, name, "input")
    _floating(input, name, "input")
    if input.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (C,) or (N, C, d1, ...), got a 0-d tensor")
    return input


def _class_weight(weight, c: int, dtype, name: str, strict_dtype: bool):
    """The (C,) class-weight array (or None), checked for length and dtype."""
    if weight is None:
        return None
    w = _tensor(weight, name, "weight")
    if w.ndim != 1 or w.shape[0] != c:
        raise ValueError(f"{name}: weight must be a 1-d tensor with one entry per class ({c}), "
                         f"got shape {w.shape}")
    _floating(w, name, "weight")
    if w.dtype != dtype:
        if strict_dtype:
            raise TypeError(f"{name}: weight must have the input's dtype {dtype}, got {w.dtype}")
        return w._data.astype(dtype)
    return w._data


def _index_target(input: Tensor, target: Tensor, ignore_index: int, name: str) -> np.ndarray:
    """Check class-index targets against (C,) or (N, C, d1, ...) input; return them as (N, d1, ...)."""
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index target must be an integer tensor (int64), got dtype "
                        f"{target.dtype}; class-probability targets need a float target of the input's shape "
                        f"{input.shape}")
    expected = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        layout = "()" if input.ndim == 1 else "(N, d1, ...)" if input.ndim > 2 else "(N,)"
        raise ValueError(f"{name}: expected target of shape {layout} = {expected} for input of shape "
                         f"{input.shape}, got {target.shape}")
    t = target._data.reshape((1,) if input.ndim == 1 else target.shape)
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise ValueError(f"{name}: target contains class {int(t[bad].flat[0])}, expected values in [0, {c}) "
                         f"(or ignore_index={ignore_index})")
    return t


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between logits ``input`` and ``target`` (PyTorch's ``F.cross_entropy``).

    input: (C,) or (N, C, d1, ...) logits. target: class indices of shape () / (N, d1, ...) (int64), or
    class probabilities of the input's shape (float). ``weight``: (C,) class weights; 'mean' divides by
    the total weight of the non-ignored targets (by the number of samples for probability targets).
    ``label_smoothing`` ε mixes the target with the uniform distribution: (1-ε)·target + ε/C.
    Output: per-sample losses (N, d1, ...) for reduction='none', else a 0-d tensor.
    """
    name = "cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    check_reduction(reduction, name)
    ignore_index = check_ignore_index(ignore_index, name)
    eps = check_label_smoothing(label_smoothing, name)
    input = _check_logits(input, name)
    target = _tensor(target, name, "target")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    if target.shape == input.shape and target.dtype.kind != "b":
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, eps, c, name)
    t = _index_target(input, target, ignore_index, name)
    w = _class_weight(weight, c, input.dtype, name, strict_dtype=True)
    x = reshape(input, (1, c)) if input.ndim == 1 else input
    out = CrossEntropy(t, w, ignore_index, reduction, eps)(x)
    return reshape(out, ()) if input.ndim == 1 and reduction == "none" else out


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, eps, c, name) -> Tensor:
    if not backend.is_floating(target.dtype):
        raise TypeError(f"{name}: a target of the input's shape {input.shape} holds class probabilities and "
                        f"must be floating point, got dtype {target.dtype}")
    if ignore_index >= 0:
        raise ValueError(f"{name}: ignore_index is not supported for class-probability (float) targets, "
                         f"got ignore_index={ignore_index}")
    x, y, dt = _promote(name, input, target)
    w = _class_weight(weight, c, dt, name, strict_dtype=False)
    if input.ndim == 1:
        x, y = reshape(x, (1, c)), reshape(y, (1, c))
    out = CrossEntropyProbs(w, reduction, eps)(x, y)
    return reshape(out, ()) if input.ndim == 1 and reduction == "none" else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``.

    input: (C,) or (N, C, d1, ...) log-probabilities; target: () or (N, d1, ...) integer class indices.
    l_i = −weight[t_i]·input[i, t_i] (0 where t_i == ignore_index); 'mean' divides by Σ weight[t_i] over
    the non-ignored targets.
    """
    name = "nll_loss"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    check_reduction(reduction, name)
    ignore_index = check_ignore_index(ignore_index, name)
    input = _check_logits(input, name)
    target = _tensor(target, name, "target")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    t = _index_target(input, target, ignore_index, name)
    w = _class_weight(weight, c, input.dtype, name, strict_dtype=True)
    x = reshape(input, (1, c)) if input.ndim == 1 else input
    out = NLLLoss(t, w, ignore_index, reduction)(x)
    return reshape(out, ()) if input.ndim == 1 and reduction == "none" else out
