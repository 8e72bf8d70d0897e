"""``cnnkit.nn``: modules (layers, containers, losses), ``init`` and ``functional``."""
from .._compat import absent_error
from . import functional, init, parallel
from .activation import ELU, GELU, GLU, LeakyReLU, LogSoftmax, Maxout, ReLU, Sigmoid, Softmax, Tanh
from .containers import Identity, ModuleDict, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyConv2d, LazyLinear
from .linear import Flatten, Linear, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .mobile_activation import Hardsigmoid, Hardswish, ReLU6, SiLU, Softplus
from .module import Module
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    LocalResponseNorm,
)
from .padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from .parallel import DataParallel
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, LPPool2d, MaxPool2d
from .state_dict import IncompatibleKeys, StateDictError
from .table_conv import TableConv2d
from .upsampling import PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d


def __getattr__(name: str):
    raise absent_error(f"torch.nn.{name}", "module 'cnnkit.nn'")
