"""SyncBatchNorm: batch normalization with the statistics of the global batch, the union of every rank's shard.

Per channel, over the M = Σ_r M_r values of all ranks (M_r = N_r · H · W on rank r), with a shift K equal on
every rank (the running mean, which every rank holds identically; 0 without running statistics) that keeps the
sums small so that the variance does not cancel:

    s₁ = Σ_r Σ (x − K),   s₂ = Σ_r Σ (x − K)²      one all-reduce of (s₁, s₂, M)
    μ = K + s₁/M,   σ² = s₂/M − (s₁/M)²,   x̂ = (x − μ)/√(σ² + ε),   y = γ x̂ + β

Backward, with the gradient sums of all ranks (one all-reduce of (Σ dy, Σ dy·(x − μ))):

    dx = γ/σ · (dy − Σ_all dy / M − x̂ · Σ_all dy·x̂ / M)

and dγ = Σ dy·x̂, dβ = Σ dy over the rank's own shard (the data-parallel wrapper averages those over the ranks,
as every parameter gradient). This is the gradient of the sum of all ranks' losses, which the averaging turns into
the gradient of their mean: with b samples per rank, training equals a single process with batch R·b.
The running statistics are updated with the global μ and the unbiased σ²·M/(M − 1). In evaluation mode the
layer is plain BatchNorm with the running statistics (no communication).
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..nn import BatchNorm1d, BatchNorm2d, Module
from ..nn import functional as F
from .group import init

__all__ = ["SyncBatchNorm"]


class _SyncBatchNormFunction(Function):
    """Inputs ``x`` (N, C, *), then ``weight`` and/or ``bias`` when given; see the module docstring."""

    def __init__(self, group, eps: float, shift: np.ndarray, has_weight: bool, has_bias: bool):
        self.group, self.eps, self.shift = group, eps, shift
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        c = x.shape[1]
        xk = x - self.shift.reshape(shape)
        sums = np.empty(2 * c + 1, dtype=np.float64)  # float64 whatever x's dtype: exact counts, sums of many ranks
        sums[:c] = xk.sum(axis=axes)
        sums[c:2 * c] = (xk * xk).sum(axis=axes)
        sums[2 * c] = x.size // c
        self.group.all_reduce(sums)
        m = int(round(float(sums[2 * c])))
        if m <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks, got {m}")
        d = sums[:c] / m
        var = np.maximum(sums[c:2 * c] / m - d * d, 0).astype(x.dtype)
        mean = (self.shift + d).astype(x.dtype)
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        self.count, self.batch_mean, self.batch_var = m, mean, var
        self.axes, self.shape, self.invstd = axes, shape, invstd
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        self.xhat = xhat
        self.w = params[0] if self.has_weight else None
        y = xhat if self.w is None else xhat * self.w.reshape(shape)
        if self.has_bias:
            y = y + params[-1].reshape(shape)
        return y

    def backward(self, gy):
        c = gy.shape[1]
        local = np.empty(2 * c, dtype=np.float64)
        local[:c] = gy.sum(axis=self.axes)
        local[c:] = (gy * self.xhat).sum(axis=self.axes)
        gw, gb = local[c:].astype(gy.dtype), local[:c].astype(gy.dtype)
        total = self.group.all_reduce(local).astype(gy.dtype)
        scale = self.invstd if self.w is None else self.invstd * self.w
        shape, m = self.shape, self.count
        gx = (gy - (total[:c] / m).reshape(shape) - self.xhat * (total[c:] / m).reshape(shape)) * scale.reshape(shape)
        out = (gx,) + ((gw,) if self.has_weight else ()) + ((gb,) if self.has_bias else ())
        return out if len(out) > 1 else gx


class SyncBatchNorm(BatchNorm2d):
    """``SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
    process_group=None)`` on (N, C, *) input; the parameters and buffers of BatchNorm (same state-dict keys)."""

    _ranks = (2, 3, 4, 5)
    _layout = "(N, C, *) with 2 to 5 dims"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    def forward(self, input):
        self._check_input_dim(input)
        if not self.training and self.running_mean is not None:
            return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                                self.eps)
        group = self.process_group if self.process_group is not None else init()
        dtype = input._data.dtype
        shift = self.running_mean._data.copy() if self.running_mean is not None else np.zeros(self.num_features, dtype)
        params = [p for p in (self.weight, self.bias) if p is not None]
        op = _SyncBatchNormFunction(group, float(self.eps), shift, self.weight is not None, self.bias is not None)
        y = op(input, *params)
        if self.track_running_stats and self.running_mean is not None:
            self.num_batches_tracked._data += 1
            factor = (1.0 / float(self.num_batches_tracked._data) if self.momentum is None
                      else float(self.momentum))
            m = op.count
            self.running_mean._data *= 1.0 - factor
            self.running_mean._data += factor * op.batch_mean
            self.running_var._data *= 1.0 - factor
            self.running_var._data += (factor * m / (m - 1)) * op.batch_var
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/BatchNorm2d replaced by a SyncBatchNorm holding the same parameters and
        buffers (the module itself if it is one); returns the converted module."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group)
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                setattr(sync, name, getattr(module, name))
            sync.train(module.training)
            return sync
        if isinstance(module, Module):
            for name, child in list(module.named_children()):
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    setattr(module, name, converted)
        return module
