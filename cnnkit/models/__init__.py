"""The classic CNN architectures, by name: ``ck.models.lenet5()``, ``ck.models.get('lenet5')``."""
from .alexnet import AlexNet, AlexNetOriginal, alexnet
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .inception import Inception3, InceptionOutputs, inception_v3
from .lenet import LENET5_C3_TABLE, LeNet5, lenet5
from .registry import get, list
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .vgg import VGG, vgg11, vgg11_bn, vgg11_lrn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg16_c, vgg19, vgg19_bn

__all__ = ["LeNet5", "LENET5_C3_TABLE", "get", "lenet5", "list",
           "AlexNet", "AlexNetOriginal", "alexnet",
           "VGG", "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
           "vgg19_bn",
           "GoogLeNet", "GoogLeNetOutputs", "googlenet", "Inception3", "InceptionOutputs", "inception_v3",
           "ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "DenseNet", "densenet121", "densenet161", "densenet169", "densenet201"]
