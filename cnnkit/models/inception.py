"""Inception v3 (Szegedy et al., 2015, "Rethinking the Inception Architecture"), in torchvision's layout.

Inception v2/v3 keep GoogLeNet's parallel branches but factorize the convolutions: a 5×5 becomes two 3×3
(same receptive field, 18/25 of the cost), and an n×n becomes a 1×n followed by an n×1 ("asymmetric"
convolutions: 2n instead of n² weights per channel pair; 7×7 → 1×7 + 7×1 costs 14/49). Every
convolution is a ``BasicConv2d``: conv (no bias) + BatchNorm2d(eps=0.001) + ReLU. Grid reductions
(Mixed_6a, Mixed_7a) run a stride-2 convolution branch beside a stride-2 max pool, so the map shrinks
without a representational bottleneck.

    block            module        output (299×299 input)
    Conv2d_1a_3x3    3×3/2         32×149×149
    Conv2d_2a_3x3    3×3           32×147×147
    Conv2d_2b_3x3    3×3, pad 1    64×147×147,  max pool 3×3/2 → 73×73
    Conv2d_3b_1x1    1×1           80×73×73
    Conv2d_4a_3x3    3×3           192×71×71,   max pool 3×3/2 → 35×35
    Mixed_5b/5c/5d   InceptionA    256, 288, 288 ×35×35   (1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg pool→1×1)
    Mixed_6a         InceptionB    768×17×17              (3×3/2 | 1×1→3×3→3×3/2 | max pool 3×3/2)
    Mixed_6b..6e     InceptionC    768×17×17              (1×1 | 1×1→1×7→7×1 | 1×1→7×1→1×7→7×1→1×7 | pool→1×1)
    AuxLogits        InceptionAux  classes (reads Mixed_6e: avg pool 5×5/3, 1×1 conv 128, 5×5 conv 768, fc)
    Mixed_7a         InceptionD    1280×8×8               (1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | max pool 3×3/2)
    Mixed_7b/7c      InceptionE    2048×8×8               (1×1 | 1×1→[1×3, 3×1] | 1×1→3×3→[1×3, 3×1] | pool→1×1)
    global average pool, dropout 0.5, fc 2048 → classes

At 1000 classes: 27,161,264 parameters with the auxiliary classifier, 23,834,568 without. Natively
299×299; without the auxiliary head (or in eval mode) any side from 75 works, the auxiliary head
(training mode) needs Mixed_6e's maps to be at least 17×17, i.e. 299.
In training mode with ``aux_logits`` the model returns ``InceptionOutputs(logits, aux_logits)``, in eval
mode the logits. Initialization (``init_weights=True``, torchvision's): weights from a normal truncated to
[−2, 2] with std 0.1 (0.01 for the auxiliary 5×5 convolution, 0.001 for its fc), BN γ = 1, β = 0.
"""
from __future__ import annotations

from collections import namedtuple

from ..nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, init
from ..nn import functional as F
from ..ops.shape import cat, flatten
from ._util import check_image_batch, check_in_channels
from .googlenet import BasicConv2d, imagenet_to_unit_range

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])


def _avg3(x):
    """The 3×3/1 average pool (zero padding 1, counted) in front of the pool-projection branches."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(Module):
    """35×35 module: 1×1 (64) | 1×1 (48) → 5×5 (64) | 1×1 (64) → 3×3 (96) → 3×3 (96) | avg pool → 1×1."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg3(x))
        return cat([b1, b5, b3, bp], 1)


class InceptionB(Module):
    """Grid reduction 35 → 17: 3×3/2 (384) | 1×1 → 3×3 → 3×3/2 (96) | max pool 3×3/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return cat([b3, bd, bp], 1)


class InceptionC(Module):
    """17×17 module with asymmetric 1×7 / 7×1 convolutions (c7 = ``channels_7x7`` in the inner layers)."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = conv(bd)
        bp = self.branch_pool(_avg3(x))
        return cat([b1, b7, bd, bp], 1)


class InceptionD(Module):
    """Grid reduction 17 → 8: 1×1 → 3×3/2 (320) | 1×1 → 1×7 → 7×1 → 3×3/2 (192) | max pool 3×3/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return cat([b3, b7, bp], 1)


class InceptionE(Module):
    """8×8 module with expanded filter banks: the 3×3 outputs split into parallel 1×3 and 3×1 convolutions."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(_avg3(x))
        return cat([b1, b3, bd, bp], 1)


class InceptionAux(Module):
    """Auxiliary head on the 17×17 maps: avg pool 5×5/3 → 5×5, 1×1 conv 128, 5×5 conv 768, pool, fc."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = Linear(768, num_classes)
        self.conv1.stddev = 0.01  # the initialization's standard deviations (torchvision's)
        self.fc.stddev = 0.001

    def forward(self, x):
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


class Inception3(Module):
    native_size = 299
    min_size = 75  # Mixed_7a's 3×3/2 reductions need 3×3 maps
    min_size_aux = 299  # the auxiliary head's 5×5 convolution needs 17×17 maps after Mixed_6e

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool = True, dropout: float = 0.5, in_channels: int = 3):
        super().__init__()
        self.in_channels = check_in_channels(in_channels, "inception_v3")
        if transform_input and in_channels != 3:
            raise ValueError(f"inception_v3: transform_input maps ImageNet's RGB statistics and needs in_channels=3, "
                             f"got {in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.dropout = Dropout(p=dropout)
        self.fc = Linear(2048, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (Conv2d, Linear)):
                    std = float(getattr(m, "stddev", 0.1))
                    init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
                elif isinstance(m, BatchNorm2d):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)

    def forward(self, x):
        with_aux = self.training and self.AuxLogits is not None
        check_image_batch(x, "Inception3" + (" (training with aux_logits)" if with_aux else ""), self.in_channels,
                          self.min_size_aux if with_aux else self.min_size, self.native_size)
        if self.transform_input:
            x = imagenet_to_unit_range(x)
        x = self.maxpool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6a(x)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        aux = self.AuxLogits(x) if with_aux else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(flatten(self.dropout(self.avgpool(x)), 1))
        if with_aux:
            return InceptionOutputs(x, aux)
        return x


def inception_v3(num_classes: int = 1000, aux_logits: bool = True, **kwargs) -> Inception3:
    """Inception v3 in torchvision's layout (299×299 input). Returns ``InceptionOutputs(logits, aux_logits)``
    in training mode with ``aux_logits``, the logits otherwise."""
    return Inception3(num_classes=num_classes, aux_logits=aux_logits, **kwargs)
