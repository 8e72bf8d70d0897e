"""VGG (Simonyan & Zisserman, 2014): the six columns of the paper's Table 1, in torchvision's layout.

Every convolution is 3×3 with stride 1 and padding 1 (so it keeps the map size), followed by ReLU; five
2×2/2 max pools halve the map from 224 to 7; three fully connected layers (4096, 4096, classes) with
dropout 0.5 after the first two classify. A stack of n 3×3 convolutions sees a (2n + 1)×(2n + 1) window
with fewer parameters (and more non-linearities) than one large kernel.

    column  name         weight layers   convolutions per stage       parameters (1000 classes)
    A       vgg11        11              1, 1, 2, 2, 2                132,863,336  (133 M)
    A-LRN   vgg11_lrn    11              A with LRN after conv1       132,863,336  (133 M)
    B       vgg13        13              2, 2, 2, 2, 2                133,047,848  (133 M)
    C       vgg16_c      16              B + a 1×1 conv in stages 3-5 133,638,952  (134 M)
    D       vgg16        16              2, 2, 3, 3, 3                138,357,544  (138 M)
    E       vgg19        19              2, 2, 4, 4, 4                143,667,240  (144 M)

Channels per stage: 64, 128, 256, 512, 512. A conv3 layer with C_in→C_out has 9·C_in·C_out + C_out
parameters, a conv1 layer C_in·C_out + C_out; the first fully connected layer alone (512·7·7·4096 + 4096 =
102,764,544) holds most of them. The ``_bn`` variants (torchvision's) put BatchNorm2d between each
convolution and its ReLU (+2 parameters per channel). An adaptive 7×7 average pool before the classifier
(torchvision's; the identity at 224×224) lets inputs from 32×32 up through.

Layout (torchvision's): ``features.<i>`` numbers the convolutions, BN, ReLU and pool layers in order,
``classifier.0/3/6`` are the fully connected layers. Initialization (torchvision's): convolutions
kaiming_normal_(fan_out, relu) with zero bias, BN γ = 1, β = 0, linear layers N(0, 0.01²) with zero bias.
The A-LRN column's LRN is the AlexNet paper's (see ``alexnet.PAPER_LRN``); it shifts the later indices of
``features`` by one (torchvision has no such model).
"""
from __future__ import annotations

from ..nn import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Linear,
    LocalResponseNorm,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    init,
)
from ..ops.shape import flatten
from ._util import check_image_batch, check_in_channels
from .alexnet import PAPER_LRN

#: Table 1's columns: an int is a conv3 layer with that many filters, ("conv1", c) a 1×1 conv layer,
#: "M" a 2×2/2 max pool and "LRN" local response normalization.
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, ("conv1", 256), "M", 512, 512, ("conv1", 512), "M",
          512, 512, ("conv1", 512), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm: bool = False, in_channels: int = 3) -> Sequential:
    """The convolutional part of a column: conv (+ BN) + ReLU per layer, max pools and LRN as listed."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":
            layers.append(LocalResponseNorm(**PAPER_LRN))
        else:
            k, out = (1, v[1]) if isinstance(v, tuple) else (3, v)
            layers.append(Conv2d(in_channels, out, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(BatchNorm2d(out))
            layers.append(ReLU(inplace=True))
            in_channels = out
    return Sequential(*layers)


class VGG(Module):
    """``features`` (the column's convolutions), ``avgpool`` (to 7×7) and ``classifier`` (FC-4096, FC-4096, FC)."""

    native_size = 224
    min_size = 32  # five 2×2/2 pools: 32 → 1

    def __init__(self, features: Sequential, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5, name: str = "VGG"):
        super().__init__()
        self.features = features
        self.in_channels = next(m for m in features if isinstance(m, Conv2d)).in_channels
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(512 * 7 * 7, 4096), ReLU(inplace=True), Dropout(p=dropout),
            Linear(4096, 4096), ReLU(inplace=True), Dropout(p=dropout),
            Linear(4096, num_classes),
        )
        self.arch = name
        if init_weights:
            for m in self.modules():
                if isinstance(m, Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    init.zeros_(m.bias)
                elif isinstance(m, BatchNorm2d):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)
                elif isinstance(m, Linear):
                    init.normal_(m.weight, 0.0, 0.01)
                    init.zeros_(m.bias)

    def forward(self, x):
        check_image_batch(x, self.arch, self.in_channels, self.min_size, self.native_size)
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def _vgg(column: str, batch_norm: bool, name: str, num_classes: int, in_channels: int = 3, **kwargs) -> VGG:
    """The VGG of ``column``; ``in_channels`` (3 RGB, 1 grayscale) changes only the first convolution."""
    in_channels = check_in_channels(in_channels, name)
    return VGG(make_layers(CFGS[column], batch_norm, in_channels), num_classes=num_classes, name=name, **kwargs)


def vgg11(num_classes: int = 1000, **kwargs) -> VGG:
    """Column A: 8 conv3 layers + 3 FC (132,863,336 parameters)."""
    return _vgg("A", False, "vgg11", num_classes, **kwargs)


def vgg11_lrn(num_classes: int = 1000, **kwargs) -> VGG:
    """Column A-LRN: A with local response normalization after the first convolution (132,863,336)."""
    return _vgg("A-LRN", False, "vgg11_lrn", num_classes, **kwargs)


def vgg13(num_classes: int = 1000, **kwargs) -> VGG:
    """Column B: two conv3 layers per stage (133,047,848 parameters)."""
    return _vgg("B", False, "vgg13", num_classes, **kwargs)


def vgg16_c(num_classes: int = 1000, **kwargs) -> VGG:
    """Column C: B plus a 1×1 convolution at the end of stages 3, 4 and 5 (133,638,952 parameters)."""
    return _vgg("C", False, "vgg16_c", num_classes, **kwargs)


def vgg16(num_classes: int = 1000, **kwargs) -> VGG:
    """Column D: 2, 2, 3, 3, 3 conv3 layers (138,357,544 parameters)."""
    return _vgg("D", False, "vgg16", num_classes, **kwargs)


def vgg19(num_classes: int = 1000, **kwargs) -> VGG:
    """Column E: 2, 2, 4, 4, 4 conv3 layers (143,667,240 parameters)."""
    return _vgg("E", False, "vgg19", num_classes, **kwargs)


def vgg11_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """Column A with batch normalization after every convolution (torchvision's; 132,868,840)."""
    return _vgg("A", True, "vgg11_bn", num_classes, **kwargs)


def vgg13_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """Column B with batch normalization (torchvision's; 133,053,736)."""
    return _vgg("B", True, "vgg13_bn", num_classes, **kwargs)


def vgg16_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """Column D with batch normalization (torchvision's; 138,365,992)."""
    return _vgg("D", True, "vgg16_bn", num_classes, **kwargs)


def vgg19_bn(num_classes: int = 1000, **kwargs) -> VGG:
    """Column E with batch normalization (torchvision's; 143,678,248)."""
    return _vgg("E", True, "vgg19_bn", num_classes, **kwargs)
