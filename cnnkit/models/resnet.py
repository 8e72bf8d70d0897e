"""ResNet (He, Zhang, Ren & Sun, 2015, "Deep Residual Learning"), in torchvision's (v1.5) layout.

A residual block learns F(x) and outputs relu(F(x) + x): the shortcut carries x unchanged, so a block
can at worst learn the identity, and gradients reach early layers through the additions. When a block
changes the map size or the channel count, the shortcut is a 1×1 convolution (stride s) + BN
("projection shortcut", option B), named ``downsample``.

    stage     output (224×224)   18-layer       34-layer       50-layer          101-layer         152-layer
    conv1     112×112            7×7, 64, stride 2 (+ BN + ReLU), then 3×3/2 max pool → 56×56
    layer1    56×56              [3×3, 64]×2    [3×3, 64]×3    [1×1, 64; 3×3, 64; 1×1, 256]×3  (×3, ×3)
    layer2    28×28              [3×3, 128]×2   [3×3, 128]×4   [1×1, 128; 3×3, 128; 1×1, 512]×4 (×4, ×8)
    layer3    14×14              [3×3, 256]×2   [3×3, 256]×6   [1×1, 256; 3×3, 256; 1×1, 1024]×6 (×23, ×36)
    layer4    7×7                [3×3, 512]×2   [3×3, 512]×3   [1×1, 512; 3×3, 512; 1×1, 2048]×3 (×3, ×3)
              1×1                global average pool, fc → classes
    parameters (1000 classes)    11,689,512     21,797,672     25,557,032        44,549,160        60,192,808

``BasicBlock`` (18, 34): two 3×3 convolutions. ``Bottleneck`` (50, 101, 152): 1×1 reduce, 3×3, 1×1
expand ×4 — the 3×3 works on a quarter of the channels. The first block of layer2, layer3 and layer4
(the paper's conv3_1, conv4_1, conv5_1) downsamples with stride 2; as in torchvision ("ResNet v1.5") the
stride sits on the bottleneck's 3×3 convolution, not on its first 1×1 (the paper's v1). Every convolution
has no bias (BatchNorm follows it).

Initialization (torchvision's): convolutions kaiming_normal_(fan_out, relu), BN γ = 1, β = 0, the fc layer
PyTorch's default; ``zero_init_residual=True`` sets γ = 0 in the last BN of every block, so each residual
branch starts as zero and each block as the identity.
"""
from __future__ import annotations

from ..nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential, init
from ..nn.fusion import conv_bn, conv_bn_add_relu, residual_foldable
from ..ops.shape import flatten
from ._util import check_image_batch, check_in_channels


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> Conv2d:
    """3×3 convolution with padding (= dilation), no bias."""
    return Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups, bias=False,
                  dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    """1×1 convolution, no bias."""
    return Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3×3 convolutions; ``expansion`` = 1."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = BatchNorm2d(planes)
        self.relu = ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = conv_bn(self.conv1, self.bn1, self.relu, x)       # relu(bn1(conv1(x))), folded in inference
        if residual_foldable(self.conv2, self.bn2, self.relu, self.downsample, out):
            return conv_bn_add_relu(self.conv2, self.bn2, x if self.downsample is None else self.downsample(x), out)
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(Module):
    """1×1 reduce → 3×3 (stride here: v1.5) → 1×1 expand to planes·4, each with BN, + shortcut, ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Module | None = None):
        super().__init__()
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = BatchNorm2d(planes * self.expansion)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = conv_bn(self.conv1, self.bn1, self.relu, x)       # relu(bn1(conv1(x))), folded in inference
        out = conv_bn(self.conv2, self.bn2, self.relu, out)
        if residual_foldable(self.conv3, self.bn3, self.relu, self.downsample, out):
            return conv_bn_add_relu(self.conv3, self.bn3, x if self.downsample is None else self.downsample(x), out)
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(Module):
    native_size = 224
    min_size = 1  # stride-2 layers with padding keep at least one pixel

    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False,
                 name: str = "ResNet", in_channels: int = 3):
        super().__init__()
        self.arch = name
        self.in_channels = check_in_channels(in_channels, name)
        self.inplanes = 64
        self.conv1 = Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = BatchNorm2d(self.inplanes)
        self.relu = ReLU(inplace=True)
        self.maxpool = MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> Sequential:
        """``blocks`` blocks; the first changes stride/width and gets a 1×1 conv + BN projection shortcut."""
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                    BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers.extend(block(self.inplanes, planes) for _ in range(1, blocks))
        return Sequential(*layers)

    def forward(self, x):
        check_image_batch(x, self.arch, self.in_channels, self.min_size, self.native_size)
        x = self.maxpool(conv_bn(self.conv1, self.bn1, self.relu, x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-18: BasicBlock ×[2, 2, 2, 2], 11,689,512 parameters (1.8 GFLOPs at 224×224 in the paper)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, name="resnet18", **kwargs)


def resnet34(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-34: BasicBlock ×[3, 4, 6, 3], 21,797,672 parameters (3.6 GFLOPs)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, name="resnet34", **kwargs)


def resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-50: Bottleneck ×[3, 4, 6, 3], 25,557,032 parameters (3.8 GFLOPs in the paper, 4.1 for v1.5)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, name="resnet50", **kwargs)


def resnet101(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-101: Bottleneck ×[3, 4, 23, 3], 44,549,160 parameters (7.6 GFLOPs)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, name="resnet101", **kwargs)


def resnet152(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-152: Bottleneck ×[3, 8, 36, 3], 60,192,808 parameters (11.3 GFLOPs)."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, name="resnet152", **kwargs)
