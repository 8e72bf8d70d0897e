"""``cnnkit.nn.functional``: the layers as functions (PyTorch's ``torch.nn.functional`` names).

Each name is defined in the ops module of its family and re-exported here.
"""
from __future__ import annotations

from .._compat import absent_error
from ..ops.activation import (  # noqa: F401
    elu,
    elu_,
    glu,
    leaky_relu,
    leaky_relu_,
    log_softmax,
    maxout,
    relu,
    relu_,
    sigmoid,
    softmax,
    tanh,
)
from ..ops.adaptive_pool import adaptive_avg_pool2d, adaptive_max_pool2d  # noqa: F401
from ..ops.conv import conv2d, conv_transpose2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..ops.gelu import gelu  # noqa: F401
from ..ops.group_norm import group_norm, instance_norm, layer_norm  # noqa: F401
from ..ops.indexing import one_hot  # noqa: F401
from ..ops.interpolate import interpolate  # noqa: F401
from ..ops.linalg import linear  # noqa: F401
from ..ops.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from ..ops.lrn import local_response_norm  # noqa: F401
from ..ops.mobile_activation import hardsigmoid, hardswish, relu6, silu, softplus  # noqa: F401
from ..ops.norm import batch_norm  # noqa: F401
from ..ops.pad import pad  # noqa: F401
from ..ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle  # noqa: F401
from ..ops.pool import avg_pool2d, lp_pool2d, max_pool2d  # noqa: F401
from ..ops.table_conv import table_conv2d  # noqa: F401


def __getattr__(name: str):
    raise absent_error(f"torch.nn.functional.{name}", "module 'cnnkit.nn.functional'")
