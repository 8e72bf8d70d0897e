"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LocalResponseNorm``, and the per-sample ``LayerNorm``,
``GroupNorm``, ``InstanceNorm1d``/``InstanceNorm2d`` (PyTorch's API; formulas in ``cnnkit/ops/group_norm.py``).

BatchNorm normalizes every channel with the statistics of the mini-batch while training,
y = γ (x − μ_B)/√(σ²_B + ε) + β, and keeps running estimates of the mean and the (unbiased) variance
for evaluation: r ← (1 − momentum)·r + momentum·s, or with ``momentum=None`` the cumulative average
r ← r + (s − r)/t at the t-th batch (``num_batches_tracked``). The formulas and the backward pass are in
``cnnkit/ops/norm.py``.

Parameters and buffers follow PyTorch's names and shapes, so ``state_dict`` keys match:
``weight`` (C,), ``bias`` (C,), ``running_mean`` (C,), ``running_var`` (C,), ``num_batches_tracked`` (int64 scalar).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..device import check_device
from ..ops import validate
from ..ops.group_norm import group_norm, instance_norm, layer_norm, normalized_shape_tuple
from ..ops.lrn import check_lrn_args, local_response_norm
from ..ops.norm import batch_norm
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


class _BatchNorm(Module):
    """The shared body of BatchNorm1d and BatchNorm2d; subclasses name the accepted input ranks."""

    _ranks: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        fn = type(self).__name__
        check_device(device, fn)
        self.num_features = validate.positive_int(num_features, "num_features", fn)
        if validate.number(eps, "eps", fn) < 0:
            raise ValueError(f"{fn}: eps must be non-negative, got {eps!r}")
        if momentum is not None and not validate.is_real(momentum):
            raise TypeError(f"{fn}: momentum must be a number or None, got {momentum!r}")
        self.eps = eps
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = validate.floating_dtype(dtype, fn)
        if self.affine:
            self.weight = Parameter(np.empty(self.num_features, dtype))
            if bias:
                self.bias = Parameter(np.empty(self.num_features, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=backend.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean ← 0, running_var ← 1, num_batches_tracked ← 0 (when the statistics are tracked)."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, γ ← 1 and β ← 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _check_input_dim(self, input) -> None:
        """The layer's own checks (rank, channels, dtype); ``Module.__call__`` names the layer in the error."""
        if not isinstance(input, Tensor):
            raise TypeError(f"expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in self._ranks:
            raise ValueError(f"expected {self._layout} input, got shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"expected input with {self.num_features} channels, got shape "
                             f"{tuple(input.shape)}")
        state = self.weight if self.weight is not None else self.running_mean
        if state is not None and input.dtype != state.dtype and backend.is_floating(input.dtype):
            raise TypeError(f"the input has dtype {input.dtype} but the layer is {state.dtype}; convert "
                            f"one of them (e.g. layer.double() or x.float())")

    def forward(self, input) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        count = self.training and self.track_running_stats and self.num_batches_tracked is not None
        if count and self.momentum is None:  # cumulative moving average over the batches so far
            factor = 1.0 / float(self.num_batches_tracked._data + 1)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        pass_stats = not self.training or self.track_running_stats
        y = batch_norm(input, self.running_mean if pass_stats else None, self.running_var if pass_stats else None,
                       self.weight, self.bias, use_batch_stats, factor, self.eps)
        if count:  # counted after the call succeeded: a rejected input does not count as a batch
            self.num_batches_tracked._data += 1
        return y


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input; statistics over N (and L) per channel.

    ``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)``
    """

    _ranks = (2, 3)
    _layout = "2-d (N, C) or 3-d (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input; statistics over N, H and W per channel.

    ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True)``
    """

    _ranks = (4,)
    _layout = "4-d (N, C, H, W)"


class LocalResponseNorm(Module):
    """Local response normalization across channels (AlexNet's LRN, PyTorch's semantics).

    y_c = x_c / (k + (α/n) Σ_{c'} x_{c'}²)^β over the n = ``size`` channels c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋.
    Input (N, C, *) with at least 3 dims; output of the same shape.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        check_lrn_args(size, alpha, beta, k, "LocalResponseNorm")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def forward(self, input) -> Tensor:
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)


def _affine_parameters(module: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """``weight`` (ones) and ``bias`` (zeros) of ``shape``, or registered as None."""
    if affine:
        module.weight = Parameter(np.ones(shape, dtype))
        if bias:
            module.bias = Parameter(np.zeros(shape, dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _eps(eps, fn: str):
    if validate.number(eps, "eps", fn) < 0:
        raise ValueError(f"{fn}: eps must be non-negative, got {eps!r}")
    return eps


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dims of each sample (formulas in
    ``cnnkit/ops/group_norm.py``): ``weight`` (ones) and ``bias`` (zeros) of that shape when
    ``elementwise_affine``.

    ``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None)``
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        fn = "LayerNorm"
        check_device(device, fn)
        self.normalized_shape = normalized_shape_tuple(normalized_shape, fn)
        self.eps = _eps(eps, fn)
        self.elementwise_affine = bool(elementwise_affine)
        _affine_parameters(self, self.normalized_shape, self.elementwise_affine, bias,
                           validate.floating_dtype(dtype, fn))

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization of (N, C, *) input: the C channels in ``num_groups`` groups, each sample's group
    normalized by its own statistics; per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``.

    ``GroupNorm(num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True)``
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        fn = "GroupNorm"
        check_device(device, fn)
        self.num_groups = validate.positive_int(num_groups, "num_groups", fn)
        self.num_channels = validate.positive_int(num_channels, "num_channels", fn)
        if num_channels % num_groups:
            raise ValueError(f"{fn}: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.eps = _eps(eps, fn)
        self.affine = bool(affine)
        _affine_parameters(self, (self.num_channels,), self.affine, bias, validate.floating_dtype(dtype, fn))

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input) -> Tensor:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_BatchNorm):
    """Instance normalization: each channel of each sample normalized by its own statistics (``affine`` and
    ``track_running_stats`` off by default, as in PyTorch); with tracked statistics, evaluation mode uses them."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input) -> Tensor:
        self._check_input_dim(input)
        use_input_stats = self.training or not self.track_running_stats
        return instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                             0.1 if self.momentum is None else self.momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) input.

    ``InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)``
    """

    _ranks = (3,)
    _layout = "3-d (N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) input.

    ``InstanceNorm2d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)``
    """

    _ranks = (4,)
    _layout = "4-d (N, C, H, W)"
