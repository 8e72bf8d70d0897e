"""Loss functions: softmax cross-entropy, negative log-likelihood, regression losses (MSE, L1, smooth L1,
Huber) and binary cross-entropy (on logits and on probabilities).

Each loss is one fused op with a hand-derived backward (PyTorch's semantics throughout, including the
order of rounding where PyTorch's result depends on it).

Softmax cross-entropy with class-index targets, for logits x of shape (N, C, d1, ...) and labels t:

    log p_ic = x_ic - logsumexp_c(x_i)          logsumexp = m + log Σ_c exp(x_ic - m),  m = max_c x_ic
    l_i      = -(1-ε) w_{t_i} log p_{i,t_i} - (ε/C) Σ_c w_c log p_ic          (0 where t_i = ignore_index)
    'mean'   = Σ_i l_i / Σ_{i not ignored} w_{t_i}                            (w ≡ 1 without a weight)
    ∂l_i/∂x_ic = ((1-ε) w_{t_i} + (ε/C) Σ_c' w_c') p_ic - (1-ε) w_{t_i} [c = t_i] - (ε/C) w_c

which is softmax(x) − onehot(t) without weight or smoothing. (A negative ε means no smoothing, as in
PyTorch.) NLL is the same without the log-softmax: l_i = −w_{t_i} x_{i,t_i}. With class-probability targets y:
l_i = -Σ_c w_c ỹ_ic log p_ic, ỹ = (1-ε) y + ε/C, 'mean' divides by the number of samples, and
∂l/∂x = p Σ_c w_c ỹ_c − w ỹ,  ∂l/∂y = −(1-ε) w log p.

Binary cross-entropy with logits (stable: log σ(x) = min(x, 0) − log(1 + e^{−|x|})), with
pos_weight p and lw = 1 + (p − 1) y:

    l = w [(1 − y) x − lw log σ(x)]          (= w [max(x, 0) − x y + log(1 + e^{−|x|})] for p = 1)
    ∂l/∂x = w [lw σ(x) − p y],   ∂l/∂y = −w [x + (p − 1) log σ(x)]
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from .._warn import warn
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, result_dtype, sum_to
from .dtype import cast
from .shape import reshape

REDUCTIONS = ("none", "mean", "sum")


# ===== helpers =====================================================================================

def check_reduction(reduction, name: str) -> None:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _tensor(x, name: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number, np.generic)) and not isinstance(x, (str, bytes)):
        return as_operand(x, name)
    raise TypeError(f"{name}: {what} must be a Tensor, got {type(x).__name__}")


def _floating(x: Tensor, name: str, what: str) -> None:
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{name}: {what} must be a floating point tensor, got dtype {x.dtype}")


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


# ===== cross-entropy and NLL with class-index targets ==============================================

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


# ===== cross-entropy with class-probability targets ================================================

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


# ===== regression losses ===========================================================================

class Regression(Function):
    """Element-wise regression loss f(d) of d = x − y, optionally weighted, then reduced.

    kind     f(d)                                              f'(d)
    'mse'    d²                                                2d
    'l1'     |d|                                               sign d  (0 at d = 0)
    'smooth' ½d²/β if |d| < β else |d| − ½β                    d/β if |d| < β else sign d
    'huber'  ½d² if |d| < δ else δ(|d| − ½δ)                   d if |d| < δ else δ sign d

    With a weight w: per-element loss f·w; 'mean' is Σ f w / Σ w (``mean_by_weight``, PyTorch's
    mse_loss/l1_loss) or the plain mean of f w (huber_loss). ∂x = f'(d) w r, ∂y = −∂x, and
    ∂w = f r, or (f − L)·gy / Σ w for the weight-normalised mean L.
    """

    def __init__(self, kind: str, reduction: str, param: float = 1.0, mean_by_weight: bool = True):
        self.kind, self.reduction, self.param, self.mean_by_weight = kind, reduction, param, mean_by_weight

    def _loss(self, d: np.ndarray) -> np.ndarray:
        k, b = self.kind, self.param
        if k == "mse":
            return d * d
        a = np.abs(d)
        if k == "l1":
            return a
        if k == "smooth":
            return np.where(a < b, 0.5 * d * d / b, a - 0.5 * b)
        return np.where(a < b, 0.5 * d * d, b * (a - 0.5 * b))

    def _slope(self, d: np.ndarray) -> np.ndarray:
        k, b = self.kind, self.param
        if k == "mse":
            return 2 * d
        if k == "l1":
            return np.sign(d)
        inner = d / b if k == "smooth" else d
        outer = np.sign(d) if k == "smooth" else b * np.sign(d)
        return np.where(np.abs(d) < b, inner, outer)

    def forward(self, x, y, w=None):
        self.shapes = (x.shape, y.shape, None if w is None else w.shape)
        self.d, self.w = x - y, w
        f = self._loss(self.d).astype(x.dtype, copy=False)
        self.f = f
        if w is None:
            self.denominator = f.size
            return _reduce(f, self.reduction)
        fw = f * w
        self.denominator = w.sum(dtype=w.dtype) if self.mean_by_weight else fw.size
        self.value = _reduce(fw, self.reduction, self.denominator)
        return self.value

    def backward(self, gy):
        if self.reduction == "mean" and self.w is None:
            r = gy / max(self.denominator, 1)
        else:
            r = _output_scale(gy, self.reduction, self.denominator)
        need = self.needs_input_grad
        gx = gt = gw = None
        if need[0] or need[1]:
            g = self._slope(self.d) * r
            if self.w is not None:
                g = g * self.w
            g = g.astype(gy.dtype, copy=False)
            gx = sum_to(g, self.shapes[0]) if need[0] else None
            gt = sum_to(-g, self.shapes[1]) if need[1] else None
        if self.w is None:
            return gx, gt
        if need[2]:
            gw = sum_to(np.broadcast_to(self.f * r, self.f.shape), self.shapes[2])
            if self.reduction == "mean" and self.mean_by_weight:
                gw = gw - self.value * r  # ∂(Σ f w / Σ w)/∂w_j = (Σ_{k→j} f_k − L) / Σ w
            gw = gw.astype(gy.dtype, copy=False)
        return gx, gt, gw


# ===== binary cross-entropy ========================================================================

class BCEWithLogits(Function):
    """Binary cross-entropy on logits (see the module docstring for the formula and its derivatives)."""

    def __init__(self, weight, pos_weight, reduction):
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction

    def forward(self, x, y):
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)  # e^{−|x|} ∈ (0, 1]
        log1p_e = np.log1p(e)
        softplus_neg = log1p_e - np.minimum(x, 0)  # −log σ(x) = log(1 + e^{−|x|}) + max(−x, 0), stable
        loss = 1 - y
        loss *= x
        if self.pos_weight is None:
            loss += softplus_neg
        else:
            lw = (self.pos_weight - 1) * y + 1
            loss += lw * softplus_neg
        if self.weight is not None:
            loss *= self.weight
        need_x, need_y = self.needs_input_grad
        self.size = x.size
        if need_x:  # σ(x) = 1 / (1 + e^{−x}); e^{−x} = inf for x ≪ 0 gives exactly 0, never nan
            sig = np.negative(x)
            with np.errstate(over="ignore"):
                np.exp(sig, out=sig)
            sig += 1
            np.reciprocal(sig, out=sig)
            self.sig, self.y = sig, y
        if need_y:
            self.x = x
            if self.pos_weight is not None:
                self.softplus_neg, self.softplus = softplus_neg, log1p_e + np.maximum(x, 0)
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction)

    def _scale(self, g, gy):
        """g · dL/dl · w (/ n for 'mean'), in PyTorch's order of rounding."""
        g *= gy
        if self.weight is not None:
            g *= self.weight
        if self.reduction == "mean":
            g /= np.asarray(self.size, g.dtype)
        return g

    def backward(self, gy):
        need_x, need_y = self.needs_input_grad
        gx = gt = None
        if need_x:  # σ(x) − y, or (p y + 1 − y) σ(x) − p y with pos_weight p
            if self.pos_weight is None:
                gx = self.sig - self.y
            else:
                py = self.pos_weight * self.y
                gx = (py + 1 - self.y) * self.sig - py
            gx = self._scale(gx, gy)
        if need_y:  # −x, or log σ(−x) − p log σ(x)
            if self.pos_weight is None:
                gt = -self.x
            else:
                gt = self.pos_weight * self.softplus_neg - self.softplus
            gt = self._scale(gt, gy)
        return gx, gt


class BCE(Function):
    """Binary cross-entropy on probabilities x ∈ [0, 1], logs clamped at −100 as in PyTorch:

    l = −w [y max(log x, −100) + (1 − y) max(log(1 − x), −100)]
    ∂l/∂x = w (x − y) / max(x (1 − x), 1e-12),   ∂l/∂y = w (log(1 − x) − log x) = −w logit(x)
    """

    def __init__(self, weight, reduction):
        self.weight, self.reduction = weight, reduction

    def forward(self, x, y):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = (y - 1) * log_1mx - y * log_x
        if self.weight is not None:
            loss = loss * self.weight
        self.x, self.y = x, y
        return _reduce(loss.astype(x.dtype, copy=False), self.reduction)

    def backward(self, gy):
        need_x, need_y = self.needs_input_grad
        x = self.x
        r = _output_scale(gy, self.reduction, x.size)
        if self.weight is not None:
            r = r * self.weight
        gx = gt = None
        if need_x:
            gx = ((x - self.y) / np.maximum(x * (1 - x), 1e-12) * r).astype(gy.dtype, copy=False)
        if need_y:
            with np.errstate(divide="ignore"):
                gt = ((np.log1p(-x) - np.log(x)) * r).astype(gy.dtype, copy=False)
        return gx, gt


# ===== argument checks =============================================================================

def legacy_reduction(size_average, reduce, reduction: str, name: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, mapped to ``reduction`` as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    warn(f"{name}: size_average and reduce are deprecated, use reduction='none'|'mean'|'sum'")
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def check_label_smoothing(label_smoothing, name: str) -> float:
    if not isinstance(label_smoothing, numbers.Real) or isinstance(label_smoothing, bool):
        raise TypeError(f"{name}: label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if label_smoothing > 1.0 or label_smoothing != label_smoothing:
        raise ValueError(f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    return max(float(label_smoothing), 0.0)  # PyTorch applies smoothing only when it is > 0


def check_ignore_index(ignore_index, name: str) -> int:
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
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
        return w.data.astype(dtype)
    return w.data


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
    t = target.data.reshape((1,) if input.ndim == 1 else target.shape)
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise ValueError(f"{name}: target contains class {int(t[bad].flat[0])}, expected values in [0, {c}) "
                         f"(or ignore_index={ignore_index})")
    return t


def _promote(name: str, *tensors) -> tuple:
    """The tensors cast to PyTorch's promoted floating dtype (a float beats an int; the wider float wins)."""
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = result_dtype(dt, t.dtype)
    if not backend.is_floating(dt):
        raise TypeError(f"{name}: expected floating point input or target, got dtypes "
                        f"{', '.join(str(t.dtype) for t in tensors)}")
    return tuple(cast(t, dt) for t in tensors) + (dt,)


def _broadcast_weight(w, shape: tuple, dtype, name: str, what: str):
    """A constant (non-differentiable) weight array that broadcasts to ``shape``, in ``dtype``."""
    if w is None:
        return None
    w = _tensor(w, name, what)
    _floating(w, name, what)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: {what} of shape {w.shape} does not broadcast to the input's shape {shape}")
    return w.data.astype(dtype, copy=False)


def _check_unit_interval(x: Tensor, name: str, what: str) -> None:
    a = x.data
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        raise ValueError(f"{name}: all elements of {what} should be between 0 and 1, found {float(a[bad].flat[0])}")


# ===== the public functions ========================================================================

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


def _regression(kind, input, target, reduction, param, weight, mean_by_weight, name) -> Tensor:
    check_reduction(reduction, name)
    input = _tensor(input, name, "input")
    target = _tensor(target, name, "target")
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"{name}: input of shape {input.shape} and target of shape {target.shape} do not "
                             f"broadcast") from None
        warn(f"{name}: using a target size {target.shape} that is different to the input size "
             f"{input.shape}; this will likely lead to incorrect results due to broadcasting")
    if weight is None:
        x, y, _ = _promote(name, input, target)
        return Regression(kind, reduction, param, mean_by_weight)(x, y)
    weight = _tensor(weight, name, "weight")
    if weight.shape != input.shape:
        raise ValueError(f"{name}: weight must have the input's shape {input.shape}, got {weight.shape}")
    x, y, w, _ = _promote(name, input, target, weight)
    return Regression(kind, reduction, param, mean_by_weight)(x, y, w)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error (x − y)², broadcasting input and target as PyTorch does (with its warning).

    ``weight`` (the input's shape) scales each element; 'mean' is then Σ w (x − y)² / Σ w.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    return _regression("mse", input, target, reduction, 1.0, weight, True, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """Mean absolute error |x − y| (gradient sign(x − y), 0 at x = y); weighted as :func:`mse_loss`."""
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    return _regression("l1", input, target, reduction, 1.0, weight, True, "l1_loss")


def check_positive(value, what: str, name: str, allow_zero: bool) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name}: {what} must be a float, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ValueError(f"{name}: {what} must be {'non-negative' if allow_zero else 'positive'}, got {value}")
    return float(value)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """½(x − y)²/β where |x − y| < β, else |x − y| − ½β (Fast R-CNN's loss); β = 0 is the L1 loss."""
    name = "smooth_l1_loss"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    beta = check_positive(beta, "beta", name, allow_zero=True)
    return _regression("smooth" if beta > 0 else "l1", input, target, reduction, beta, None, True, name)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ); with ``weight``, 'mean' is the mean of w·l."""
    name = "huber_loss"
    delta = check_positive(delta, "delta", name, allow_zero=False)
    return _regression("huber", input, target, reduction, delta, weight, False, name)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable op: max(x,0) − x·y + log(1 + e^{−|x|}).

    ``weight`` rescales each element's loss (broadcast to the input); ``pos_weight`` weighs the positive
    term (broadcast along the last dims, e.g. one entry per class). Neither receives a gradient.
    The result has the target's dtype, as in PyTorch.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    check_reduction(reduction, name)
    input = _tensor(input, name, "input")
    target = _tensor(target, name, "target")
    _floating(input, name, "input")
    _floating(target, name, "target")
    if target.shape != input.shape:
        raise ValueError(f"{name}: target size {target.shape} must be the same as input size {input.shape}")
    x, y, dt = _promote(name, input, target)
    w = _broadcast_weight(weight, x.shape, dt, name, "weight")
    pw = _broadcast_weight(pos_weight, x.shape, dt, name, "pos_weight")
    return cast(BCEWithLogits(w, pw, reduction)(x, y), target.dtype)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """−w [y log x + (1 − y) log(1 − x)] on probabilities x ∈ [0, 1] (each log clamped at −100).

    Prefer :func:`binary_cross_entropy_with_logits` on logits: it is stable where σ saturates.
    """
    name = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction, name)
    check_reduction(reduction, name)
    input = _tensor(input, name, "input")
    target = _tensor(target, name, "target")
    if target.shape != input.shape:
        raise ValueError(f"{name}: target size {target.shape} must be the same as input size {input.shape}")
    x, y, dt = _promote(name, input, target)
    _check_unit_interval(x, name, "input")
    _check_unit_interval(y, name, "target")
    w = _broadcast_weight(weight, x.shape, dt, name, "weight")
    return BCE(w, reduction)(x, y)


__all__ = ["CrossEntropy", "NLLLoss", "CrossEntropyProbs", "Regression", "BCEWithLogits", "BCE", "REDUCTIONS",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy_with_logits", "binary_cross_entropy"]
