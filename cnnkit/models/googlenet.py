"""GoogLeNet (Szegedy et al., 2014, "Going deeper with convolutions"): Inception v1, in torchvision's layout.

An Inception module runs four branches side by side on the same input and concatenates their maps:
a 1×1 convolution; a 1×1 "reduce" then a 3×3; a 1×1 reduce then the "5×5"; a 3×3/1 max pool then a
1×1 "pool proj". The 1×1 reductions make the wide module cheap (the paper's "dimension reductions").

    stage          output (224×224 input)   #1×1  #3×3red  #3×3  #5×5red  #5×5  pool proj
    conv1 7×7/2    64×112×112, max pool 3×3/2 → 56×56
    conv2 1×1, conv3 3×3 → 192×56×56, max pool 3×3/2 → 28×28
    inception3a    256×28×28                 64     96     128     16      32       32
    inception3b    480×28×28                128    128     192     32      96       64
    max pool 3×3/2 → 14×14
    inception4a    512×14×14                192     96     208     16      48       64    (aux1 reads its output)
    inception4b    512                      160    112     224     24      64       64
    inception4c    512                      128    128     256     24      64       64
    inception4d    528                      112    144     288     32      64       64    (aux2 reads its output)
    inception4e    832                      256    160     320     32     128      128
    max pool 2×2/2 → 7×7
    inception5a    832×7×7                  256    160     320     32     128      128
    inception5b    1024×7×7                 384    192     384     48     128      128
    global average pool → 1024, dropout 0.4, fc → classes

torchvision's layout, followed here so that ``state_dict`` keys and shapes are identical (6,624,904
parameters without the auxiliary classifiers, 13,004,888 with them, at 1000 classes):
  - every convolution is a ``BasicConv2d``: conv (no bias) + BatchNorm2d(eps=0.001) + ReLU — the batch
    normalized variant of the network (the paper predates batch normalization);
  - the "5×5" branch uses a 3×3 kernel (a known quirk of torchvision's port, kept for compatibility);
  - max pools use ``ceil_mode=True`` (Caffe's rounding), so 112 → 56 → 28 → 14 → 7;
  - each auxiliary classifier (``InceptionAux``): adaptive average pool to 4×4, 1×1 conv 128, fc 2048→1024
    + ReLU, dropout 0.7, fc 1024→classes. The paper's 5×5/3 average pool gives the same 4×4 at 14×14.
The main dropout is the paper's 40% (torchvision's default is 20%; ``dropout=0.2`` gives that; dropout has
no parameters). In training mode with ``aux_logits`` the network returns
``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; in eval mode (or without the auxiliary
classifiers) only the logits. The paper weights each auxiliary loss by 0.3 during training.

Initialization (``init_weights=True``, torchvision's): convolution and linear weights from a normal
N(0, 0.01²) truncated to [−2, 2], BN γ = 1, β = 0; linear biases keep PyTorch's default.
``transform_input=True`` maps inputs normalized with ImageNet's mean/std to the [−1, 1] scaling of the
original weights, channel by channel: x_c ← x_c·std_c/0.5 + (mean_c − 0.5)/0.5.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, Sequential, init
from ..nn import functional as F
from ..nn.fusion import conv_bn
from ..ops.shape import cat, flatten
from ..tensor import Tensor
from ._util import check_image_batch, check_in_channels

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_to_unit_range(x: Tensor) -> Tensor:
    """x_c·(std_c/0.5) + (mean_c − 0.5)/0.5 per channel: ImageNet-normalized input → the [−1, 1] range."""
    dt = x.dtype
    scale = np.array([s / 0.5 for s in IMAGENET_STD], dtype=dt).reshape(1, 3, 1, 1)
    shift = np.array([(m - 0.5) / 0.5 for m in IMAGENET_MEAN], dtype=dt).reshape(1, 3, 1, 1)
    return x * Tensor(scale) + Tensor(shift)


class BasicConv2d(Module):
    """conv (bias=False) → BatchNorm2d(eps=0.001) → ReLU; ``kwargs`` go to the convolution."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return conv_bn(self.conv, self.bn, True, x)       # F.relu(bn(conv(x))), folded in inference


class Inception(Module):
    """The Inception module with dimension reductions: four parallel branches, concatenated on channels.

    Output channels: ch1x1 + ch3x3 + ch5x5 + pool_proj.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                  BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        # the "5×5" branch: a 3×3 kernel, as in torchvision's weights
        self.branch3 = Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                  BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = Sequential(MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                  BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(Module):
    """Auxiliary classifier: average pool to 4×4, 1×1 conv 128, fc 2048→1024 + ReLU, dropout, fc → classes."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = Linear(2048, 1024)
        self.fc2 = Linear(1024, num_classes)
        self.dropout = Dropout(p=dropout)

    def forward(self, x):
        x = flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(Module):
    native_size = 224
    min_size = 15  # PyTorch's too: smaller inputs leave a max pool without an output

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool = True, dropout: float = 0.4, dropout_aux: float = 0.7, in_channels: int = 3):
        super().__init__()
        self.in_channels = check_in_channels(in_channels, "googlenet")
        if transform_input and in_channels != 3:
            raise ValueError(f"googlenet: transform_input maps ImageNet's RGB statistics and needs in_channels=3, "
                             f"got {in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.dropout = Dropout(p=dropout)
        self.fc = Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (Conv2d, Linear)):
                    init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, BatchNorm2d):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)

    def forward(self, x):
        check_image_batch(x, "GoogLeNet", self.in_channels, self.min_size, self.native_size)
        if self.transform_input:
            x = imagenet_to_unit_range(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(flatten(self.avgpool(x), 1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(num_classes: int = 1000, aux_logits: bool = True, **kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1, BN variant) in torchvision's layout; 6,624,904 parameters without
    ``aux_logits`` (13,004,888 with them). Returns ``GoogLeNetOutputs`` in training mode with aux_logits."""
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, **kwargs)
