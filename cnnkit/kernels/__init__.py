"""cnnkit's convolution engine on raw NumPy arrays (no Tensor, no autograd): one module per algorithm.

    config         the tunables: Config, config(), using(...) (a scoped, per-thread/context override)
    parallel       threads, scratch workspaces, column budgets and chunking
    layout         ConvGeometry, output sizes, NCHW/NHWC views, padding, cropping, windows
    im2col         im2col + GEMM, and col2im (its adjoint)
    winograd       Winograd F(2×2, 3×3)
    weight_order   columns in the weight's own (c, i, j) order
    pointwise      1×1 convolutions as a GEMM
    depthwise      depthwise convolutions by einsum
    conv           select(...) picks the algorithm once; forward / grad_input / grad_weight run it
    onednn         the optional oneDNN backend; ``written(a)`` tells it an array was changed in place

Usage (what ``cnnkit.ops.conv`` does):

    algorithm = kernels.select(g, x.shape, w.shape)
    y, kept = kernels.forward(algorithm, x, w, g, keep=True)
    dy = kernels.gradient_layout(algorithm, dy, g)
    dx = kernels.grad_input(algorithm, dy, w, g, x.shape)
    dw = kernels.grad_weight(algorithm, x, dy, g, w.shape, kept)
"""
from .config import ALGORITHMS, Config, config, get_num_threads, set_num_threads, using
from .conv import forward, grad_input, grad_weight, gradient_layout, select
from .layout import ConvGeometry, is_channels_last, nchw, nhwc, out_size
from .onednn.packed import written
from .parallel import release_workspace, workspace

__all__ = ["ALGORITHMS", "Config", "config", "using", "set_num_threads", "get_num_threads",
           "select", "forward", "gradient_layout", "grad_input", "grad_weight",
           "ConvGeometry", "out_size", "is_channels_last", "nhwc", "nchw", "workspace", "release_workspace",
           "written"]
