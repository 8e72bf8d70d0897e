"""Hand-written PyTorch references of the classic architectures (plain ``torch.nn``, no torchvision).

They follow the papers and torchvision's module names, so a state dict with torchvision's keys loads
into them and into cnnkit's models alike; the layout-parity tests feed both the same random weights and
compare the outputs. Written from the papers' tables, independently of cnnkit's code.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


# ----- ResNet (BasicBlock / Bottleneck, v1.5) ---------------------------------------------------------------
class RefBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class RefBottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class RefResNet(nn.Module):
    def __init__(self, block, counts, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts)):
            blocks = []
            for j in range(n):
                blocks.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean(dim=(2, 3)))


def ref_resnet18(num_classes=1000):
    return RefResNet(RefBasicBlock, (2, 2, 2, 2), num_classes)


def ref_resnet50(num_classes=1000):
    return RefResNet(RefBottleneck, (3, 4, 6, 3), num_classes)


# ----- VGG --------------------------------------------------------------------------------------------------
def ref_vgg(stages, batch_norm=False, num_classes=1000):
    """``stages``: the number of conv3 layers in each of the five stages (64, 128, 256, 512, 512 filters)."""
    layers, cin = [], 3
    for width, n in zip((64, 128, 256, 512, 512), stages):
        for _ in range(n):
            layers.append(nn.Conv2d(cin, width, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            cin = width
        layers.append(nn.MaxPool2d(2, 2))
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.classifier = nn.Sequential(nn.Linear(512 * 49, 4096), nn.ReLU(), nn.Dropout(0.5),
                                     nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, num_classes))

    def forward(x):
        x = F.adaptive_avg_pool2d(model.features(x), (7, 7))
        return model.classifier(x.flatten(1))

    model.forward = forward
    return model


def ref_vgg11(num_classes=1000):
    return ref_vgg((1, 1, 2, 2, 2), num_classes=num_classes)


# ----- DenseNet ---------------------------------------------------------------------------------------------
class RefDenseNet(nn.Module):
    """DenseNet-BC with naive concatenation: every layer concatenates all earlier maps afresh."""

    def __init__(self, growth, blocks, init_features, num_classes=1000, bn_size=4):
        super().__init__()
        feats = OrderedDict([("conv0", nn.Conv2d(3, init_features, 7, 2, 3, bias=False)),
                             ("norm0", nn.BatchNorm2d(init_features))])
        self.features = nn.Module()
        for k, v in feats.items():
            self.features.add_module(k, v)
        c = init_features
        self.plan = []
        for b, n in enumerate(blocks):
            block = nn.Module()
            for i in range(n):
                layer = nn.Module()
                layer.norm1 = nn.BatchNorm2d(c + i * growth)
                layer.conv1 = nn.Conv2d(c + i * growth, bn_size * growth, 1, bias=False)
                layer.norm2 = nn.BatchNorm2d(bn_size * growth)
                layer.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)
                block.add_module(f"denselayer{i + 1}", layer)
            self.features.add_module(f"denseblock{b + 1}", block)
            self.plan.append(f"denseblock{b + 1}")
            c += n * growth
            if b < len(blocks) - 1:
                t = nn.Module()
                t.norm = nn.BatchNorm2d(c)
                t.conv = nn.Conv2d(c, c // 2, 1, bias=False)
                self.features.add_module(f"transition{b + 1}", t)
                self.plan.append(f"transition{b + 1}")
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        f = self.features
        x = F.max_pool2d(F.relu(f.norm0(f.conv0(x))), 3, 2, 1)
        for name in self.plan:
            m = getattr(f, name)
            if name.startswith("transition"):
                x = F.avg_pool2d(m.conv(F.relu(m.norm(x))), 2, 2)
                continue
            maps = [x]
            for layer in m.children():
                h = torch.cat(maps, 1)
                h = layer.conv1(F.relu(layer.norm1(h)))
                maps.append(layer.conv2(F.relu(layer.norm2(h))))
            x = torch.cat(maps, 1)
        x = F.relu(f.norm5(x))
        return self.classifier(x.mean(dim=(2, 3)))


def ref_densenet121(num_classes=1000):
    return RefDenseNet(32, (6, 12, 24, 16), 64, num_classes)


# ----- GoogLeNet (torchvision's BN variant) -----------------------------------------------------------------
class RefConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class RefInception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = RefConvBN(cin, c1, 1)
        self.branch2 = nn.Sequential(RefConvBN(cin, c3r, 1), RefConvBN(c3r, c3, 3, padding=1))
        self.branch3 = nn.Sequential(RefConvBN(cin, c5r, 1), RefConvBN(c5r, c5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), RefConvBN(cin, pp, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class RefAux(nn.Module):
    def __init__(self, cin, num_classes, dropout=0.7):
        super().__init__()
        self.p = dropout
        self.conv = RefConvBN(cin, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, 4)).flatten(1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), self.p, self.training))


class RefGoogLeNet(nn.Module):
    TABLE = [("3a", 192, 64, 96, 128, 16, 32, 32), ("3b", 256, 128, 128, 192, 32, 96, 64),
             ("4a", 480, 192, 96, 208, 16, 48, 64), ("4b", 512, 160, 112, 224, 24, 64, 64),
             ("4c", 512, 128, 128, 256, 24, 64, 64), ("4d", 512, 112, 144, 288, 32, 64, 64),
             ("4e", 528, 256, 160, 320, 32, 128, 128), ("5a", 832, 256, 160, 320, 32, 128, 128),
             ("5b", 832, 384, 192, 384, 48, 128, 128)]

    def __init__(self, num_classes=1000, aux_logits=True, dropout=0.4, dropout_aux=0.7):
        super().__init__()
        self.p = dropout
        self.conv1 = RefConvBN(3, 64, 7, 2, 3)
        self.conv2 = RefConvBN(64, 64, 1)
        self.conv3 = RefConvBN(64, 192, 3, padding=1)
        for name, *cfg in self.TABLE:
            setattr(self, f"inception{name}", RefInception(*cfg))
        if aux_logits:
            self.aux1 = RefAux(512, num_classes, dropout_aux)
            self.aux2 = RefAux(528, num_classes, dropout_aux)
        self.aux_logits = aux_logits
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        pool = lambda t, k=3: F.max_pool2d(t, k, 2, ceil_mode=True)  # noqa: E731
        x = pool(self.conv1(x))
        x = pool(self.conv3(self.conv2(x)))
        x = pool(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux = self.training and self.aux_logits
        a1 = self.aux1(x) if aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        a2 = self.aux2(x) if aux else None
        x = pool(self.inception4e(x), 2)
        x = self.inception5b(self.inception5a(x))
        x = self.fc(F.dropout(x.mean(dim=(2, 3)), self.p, self.training))
        return (x, a2, a1) if aux else x
