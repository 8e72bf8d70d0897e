"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012): torchvision's single-tower model and the paper's two towers.

``alexnet()`` is torchvision's ``alexnet`` layer for layer (same ``state_dict`` keys and shapes, 61,100,840
parameters at 1000 classes); it is the "one weird trick" single-GPU variant with 64-192-384-256-256 filters
and no LRN:

    layer      operation (224×224 input)                 output       parameters
    features.0  conv 64@11×11 /4, padding 2, ReLU        64×55×55     3·121·64 + 64        =     23,296
    features.2  max pool 3×3 /2                          64×27×27
    features.3  conv 192@5×5, padding 2, ReLU            192×27×27    64·25·192 + 192      =    307,392
    features.5  max pool 3×3 /2                          192×13×13
    features.6  conv 384@3×3, padding 1, ReLU            384×13×13    192·9·384 + 384      =    663,936
    features.8  conv 256@3×3, padding 1, ReLU            256×13×13    384·9·256 + 256      =    884,992
    features.10 conv 256@3×3, padding 1, ReLU            256×13×13    256·9·256 + 256      =    590,080
    features.12 max pool 3×3 /2                          256×6×6
    avgpool     adaptive average pool to 6×6             256×6×6
    classifier  dropout, fc 9216→4096, ReLU,             4096         9216·4096 + 4096     = 37,752,832
                dropout, fc 4096→4096, ReLU,             4096         4096·4096 + 4096     = 16,781,312
                fc 4096→classes                          1000         4096·1000 + 1000     =  4,097,000
                                                                      total                  61,100,840

``alexnet(original=True)`` is the paper's network. The paper split it over two GPUs ("towers"); a layer
whose towers do not talk to each other (conv2, conv4, conv5 see only their own tower's maps) is a grouped
convolution with ``groups=2``, while conv1 (both towers see the whole image), conv3 and the fully
connected layers are dense:

    layer   operation (227×227 input)                            output      parameters
    conv1   96@11×11 /4, ReLU, LRN, max pool 3×3 /2 (overlapping)  96×27×27    3·121·96 + 96       =     34,944
    conv2   256@5×5, padding 2, groups 2, ReLU, LRN, max pool     256×13×13   48·25·256 + 256     =    307,456
    conv3   384@3×3, padding 1, ReLU                               384×13×13   256·9·384 + 384     =    885,120
    conv4   384@3×3, padding 1, groups 2, ReLU                     384×13×13   192·9·384 + 384     =    663,936
    conv5   256@3×3, padding 1, groups 2, ReLU, max pool 3×3 /2    256×6×6     192·9·256 + 256     =    442,624
    fc6     9216→4096, ReLU, dropout 0.5                           4096                              37,752,832
    fc7     4096→4096, ReLU, dropout 0.5                           4096                              16,781,312
    fc8     4096→classes                                           1000                               4,097,000
                                                                               total                  60,965,224

The input is 227×227: the paper's text says 224, but only 227 gives its 55×55 conv1 maps,
(227 − 11)/4 + 1 = 55. An adaptive 6×6 average pool before fc6 (the identity at 227) lets smaller inputs
through, as in torchvision. The LRN is the paper's b = a / (k + α Σ a²)^β over n = 5 neighbouring maps with
k = 2, α = 10⁻⁴, β = 0.75; PyTorch's ``LocalResponseNorm`` divides α by n, so the layer is built with
α = 5·10⁻⁴ (the value of VGG's and Caffe's conversions of the same layer). Dropout follows fc6 and fc7
(the paper's "first two fully-connected layers"). ``paper_init=True`` gives the paper's initialization:
weights N(0, 0.01²), biases 1 in conv2, conv4, conv5, fc6 and fc7 and 0 elsewhere; otherwise the layers
keep PyTorch's default initialization.
"""
from __future__ import annotations

from collections import OrderedDict

from ..nn import (
    AdaptiveAvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
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

#: The paper's LRN (k=2, n=5, α=1e-4, β=0.75) in PyTorch's convention, where α is divided by n.
PAPER_LRN = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}


class AlexNet(Module):
    """torchvision's AlexNet layout: ``features`` (convolutions), ``avgpool`` (to 6×6), ``classifier``."""

    native_size = 224
    min_size = 63  # conv1 must leave 15×15 so that the three 3×3/2 max pools still have an output

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, in_channels: int = 3):
        super().__init__()
        self.in_channels = check_in_channels(in_channels, "alexnet")
        self.features = Sequential(
            Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
            Conv2d(64, 192, kernel_size=5, padding=2), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
            Conv2d(192, 384, kernel_size=3, padding=1), ReLU(inplace=True),
            Conv2d(384, 256, kernel_size=3, padding=1), ReLU(inplace=True),
            Conv2d(256, 256, kernel_size=3, padding=1), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = Sequential(
            Dropout(p=dropout), Linear(256 * 6 * 6, 4096), ReLU(inplace=True),
            Dropout(p=dropout), Linear(4096, 4096), ReLU(inplace=True),
            Linear(4096, num_classes),
        )

    def forward(self, x):
        check_image_batch(x, type(self).__name__, self.in_channels, self.min_size, self.native_size)
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


class AlexNetOriginal(Module):
    """The paper's two-tower AlexNet (grouped conv2/conv4/conv5, LRN, overlapping pooling), 227×227 input."""

    native_size = 227
    min_size = 67  # (H − 11)/4 + 1 >= 15

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, paper_init: bool = False,
                 in_channels: int = 3):
        super().__init__()
        self.in_channels = check_in_channels(in_channels, "alexnet")
        self.features = Sequential(OrderedDict([
            ("conv1", Conv2d(in_channels, 96, kernel_size=11, stride=4)), ("relu1", ReLU(inplace=True)),
            ("norm1", LocalResponseNorm(**PAPER_LRN)), ("pool1", MaxPool2d(kernel_size=3, stride=2)),
            ("conv2", Conv2d(96, 256, kernel_size=5, padding=2, groups=2)), ("relu2", ReLU(inplace=True)),
            ("norm2", LocalResponseNorm(**PAPER_LRN)), ("pool2", MaxPool2d(kernel_size=3, stride=2)),
            ("conv3", Conv2d(256, 384, kernel_size=3, padding=1)), ("relu3", ReLU(inplace=True)),
            ("conv4", Conv2d(384, 384, kernel_size=3, padding=1, groups=2)), ("relu4", ReLU(inplace=True)),
            ("conv5", Conv2d(384, 256, kernel_size=3, padding=1, groups=2)), ("relu5", ReLU(inplace=True)),
            ("pool5", MaxPool2d(kernel_size=3, stride=2)),
        ]))
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = Sequential(OrderedDict([
            ("flatten", Flatten()),
            ("fc6", Linear(256 * 6 * 6, 4096)), ("relu6", ReLU(inplace=True)), ("drop6", Dropout(p=dropout)),
            ("fc7", Linear(4096, 4096)), ("relu7", ReLU(inplace=True)), ("drop7", Dropout(p=dropout)),
            ("fc8", Linear(4096, num_classes)),
        ]))
        if paper_init:
            self.paper_init_()

    def paper_init_(self) -> AlexNetOriginal:
        """The paper's initialization: W ~ N(0, 0.01²); b = 1 in conv2, conv4, conv5, fc6, fc7, else 0."""
        ones = {"conv2", "conv4", "conv5", "fc6", "fc7"}
        for name, m in list(self.features.named_children()) + list(self.classifier.named_children()):
            if isinstance(m, (Conv2d, Linear)):
                init.normal_(m.weight, 0.0, 0.01)
                init.constant_(m.bias, 1.0 if name in ones else 0.0)
        return self

    def forward(self, x):
        check_image_batch(x, "AlexNet(original=True)", self.in_channels, self.min_size, self.native_size)
        return self.classifier(self.avgpool(self.features(x)))


def alexnet(num_classes: int = 1000, original: bool = False, dropout: float = 0.5, in_channels: int = 3,
            **kwargs) -> Module:
    """torchvision's AlexNet (61,100,840 parameters at 1000 classes, 224×224 input), or with
    ``original=True`` the paper's two-tower network (60,965,224 parameters, 227×227 input;
    ``paper_init=True`` for the paper's initialization). ``in_channels``: channels of the input (3 RGB, 1
    grayscale; only conv1's weight changes)."""
    if original:
        return AlexNetOriginal(num_classes=num_classes, dropout=dropout, in_channels=in_channels, **kwargs)
    if kwargs:
        raise TypeError(f"alexnet: unexpected arguments {sorted(kwargs)} (paper_init needs original=True)")
    return AlexNet(num_classes=num_classes, dropout=dropout, in_channels=in_channels)
