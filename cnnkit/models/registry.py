"""The model registry: ``ck.models.get(name, **kwargs)`` and ``ck.models.list()``.

Every architecture family's constructors are listed here by name.
"""
from __future__ import annotations

from .._suggest import did_you_mean
from .alexnet import alexnet
from .densenet import densenet121, densenet161, densenet169, densenet201
from .googlenet import googlenet
from .inception import inception_v3
from .lenet import lenet5
from .resnet import resnet18, resnet34, resnet50, resnet101, resnet152
from .vgg import vgg11, vgg11_bn, vgg11_lrn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg16_c, vgg19, vgg19_bn

_REGISTRY = {fn.__name__: fn for fn in (lenet5,
                                        alexnet, vgg11, vgg11_lrn, vgg13, vgg16_c, vgg16, vgg19,
                                        vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn, googlenet, inception_v3,
                                        resnet18, resnet34, resnet50, resnet101, resnet152,
                                        densenet121, densenet161, densenet169, densenet201)}


def get(name: str, **kwargs):
    """Build the registered model ``name`` (every constructor takes ``num_classes``)."""
    try:
        fn = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"models.get: unknown model '{name}'{did_you_mean(name, _REGISTRY)}; available: "
                         f"{', '.join(sorted(_REGISTRY))}") from None
    return fn(**kwargs)


def list() -> list:
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)
