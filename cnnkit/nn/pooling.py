"""Pooling layers (PyTorch's API): ``MaxPool2d``, ``AvgPool2d``, ``LPPool2d``, ``AdaptiveAvgPool2d``,
``AdaptiveMaxPool2d``.

Pooling summarizes each window of a feature map by one number — its maximum, its mean or its L_p
norm — which makes the representation smaller and less sensitive to small shifts. The layers have no
parameters. Output sizes, the backward rules (max routes the error to the arg-max, average spreads it
evenly) and the exact formulas are documented in ``cnnkit/ops/pool.py`` and
``cnnkit/ops/adaptive_pool.py``.

The arguments are checked when the layer is built (a bad kernel, stride, padding or norm_type fails
there, naming the layer's class) and the input when it is called (the op's error, prefixed with the
layer's repr by ``Module.__call__``).
"""
from __future__ import annotations

from ..ops import validate
from ..ops.adaptive_pool import adaptive_avg_pool2d, adaptive_max_pool2d, output_size_arg
from ..ops.pool import avg_pool2d, check_divisor, check_norm_type, lp_pool2d, max_pool2d, window_args
from .module import Module


class MaxPool2d(Module):
    """2-d max pooling over (N, C, H, W) or (C, H, W) input.

    H_out = ⌊(H + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1 (⌈·⌉ with ``ceil_mode``);
    ``stride`` defaults to ``kernel_size``; the implicit padding is −∞ and at most half the kernel.
    With ``return_indices`` the layer returns (output, indices into the flattened H·W input plane).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        window_args(kernel_size, self.stride, padding, dilation, "MaxPool2d")
        validate.flag(return_indices, "return_indices", "MaxPool2d")
        validate.flag(ceil_mode, "ceil_mode", "MaxPool2d")

    def forward(self, input):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """2-d average pooling: each output is Σ_window x / D with implicit zero padding.

    D = the window area inside the padded input (``count_include_pad=True``), the number of real pixels
    in the window (False), or ``divisor_override``. Output size as for :class:`MaxPool2d` (no dilation).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        window_args(kernel_size, self.stride, padding, 1, "AvgPool2d")
        validate.flag(ceil_mode, "ceil_mode", "AvgPool2d")
        validate.flag(count_include_pad, "count_include_pad", "AvgPool2d")
        check_divisor(divisor_override, "AvgPool2d")

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool2d(Module):
    """2-d power-average pooling: y = (Σ_window x^p)^(1/p) (p = ``norm_type``; 2 is L2 pooling, ∞ the
    max of |x|), computed as PyTorch does: (kH·kW · avg_pool2d(x^p))^(1/p). ``stride`` defaults to the
    kernel. The gradient is zero where a window's Σ x^p is zero."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode
        check_norm_type(norm_type, "LPPool2d")
        window_args(kernel_size, stride, 0, 1, "LPPool2d")
        validate.flag(ceil_mode, "ceil_mode", "LPPool2d")

    def forward(self, input):
        return lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int, or (h, w) where None keeps the input size):
    output i of n over a dim of size H averages [⌊iH/n⌋, ⌈(i+1)H/n⌉). ``AdaptiveAvgPool2d(1)`` is
    global average pooling (the mean of every feature map)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        output_size_arg(output_size, (1, 1), "AdaptiveAvgPool2d")

    def forward(self, input):
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed ``output_size`` over the windows of :class:`AdaptiveAvgPool2d`; with
    ``return_indices`` also returns the arg-max indices into the flattened H·W input plane."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices
        output_size_arg(output_size, (1, 1), "AdaptiveMaxPool2d")
        validate.flag(return_indices, "return_indices", "AdaptiveMaxPool2d")

    def forward(self, input):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
