"""torchvision's model files (from its wheel, unedited) imported on PyTorch or on cnnkit, without torchvision.

Each model file (``torchvision/models/resnet.py``, ...) imports ``torch`` and a few torchvision internals by
relative imports: ``..transforms._presets``, ``..utils``, ``._api``, ``._meta``, ``._utils`` and ``..ops.misc``.
torchvision itself cannot be imported (its C extension is built for another torch), so the file is imported as
a submodule of a package of ours, whose modules stand in for those internals: changing the imports is the only
change. ``..ops.misc`` gives ``Conv2dNormActivation`` (see
:func:`_conv2d_norm_activation`). The stand-ins provide only what a model needs
to be built without pretrained weights: asking for weights (``weights=``, ``pretrained=True``) raises.
"""
from __future__ import annotations

import contextlib
import enum
import functools
import importlib.util
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnkit.run import torch_resolved_to_cnnkit

# --- the stand-ins -------------------------------------------------------------------------------------------


class ImageClassification:
    """Stand-in for the preset transform a weights entry names; the models only store it in a ``partial``."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs


def _log_api_usage_once(obj) -> None:
    """torchvision records API usage here; nothing to record."""


def _make_ntuple(x, n: int) -> tuple:
    """``x`` as an ``n``-tuple: an iterable as it is, a scalar repeated."""
    try:
        return tuple(x)
    except TypeError:
        return (x,) * n


@dataclass(eq=True)
class Weights:
    url: str
    transforms: Any
    meta: dict = field(default_factory=dict)


class WeightsEnum(enum.Enum):
    """The weights a model file lists; none can be downloaded here, so only ``None`` is accepted."""

    @classmethod
    def verify(cls, obj):
        if obj is None:
            return None
        raise ValueError(f"{cls.__name__}: no pretrained weights in these tests (the network has only the package "
                         f"registry), got {obj!r}")


def register_model(name=None):
    return lambda builder: builder


def handle_legacy_interface(**legacy):
    """A builder that refuses the legacy ``pretrained=True`` keywords (there are no weights to load)."""

    def decorate(builder):
        @functools.wraps(builder)
        def wrapper(*args, **kwargs):
            for keyword in legacy:
                if kwargs.pop(keyword, False):
                    raise ValueError(f"{builder.__name__}: {keyword}=True needs pretrained weights, none here")
            return builder(*args, **kwargs)

        return wrapper

    return decorate


def _ovewrite_named_param(kwargs: dict, param: str, new_value) -> None:
    if param in kwargs and kwargs[param] != new_value:
        raise ValueError(f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} instead.")
    kwargs[param] = new_value


def _make_divisible(v: float, divisor: int, min_value=None) -> int:
    """The channel count nearest ``v`` that is a multiple of ``divisor``, never below 90% of ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _conv2d_norm_activation(torch):
    """torchvision's ``Conv2dNormActivation`` block as its documentation states it, on ``torch``: a ``Sequential``
    of a convolution (padding ``(kernel_size - 1) // 2 * dilation`` unless given, a bias only without a
    normalization), the normalization and the activation. (torchvision's own ``ops/misc.py`` cannot be imported
    on cnnkit: at import time it names ``nn.BatchNorm3d``, which a 2-d framework deliberately lacks.)"""
    nn = torch.nn

    class Conv2dNormActivation(nn.Sequential):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                     norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
            if padding is None:
                padding = (kernel_size - 1) // 2 * dilation
            if bias is None:
                bias = norm_layer is None
            layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                                groups=groups, bias=bias)]
            if norm_layer is not None:
                layers.append(norm_layer(out_channels))
            if activation_layer is not None:
                layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
            super().__init__(*layers)
            self.out_channels = out_channels

    return Conv2dNormActivation


_STANDINS = {
    "transforms": {},
    "transforms._presets": {"ImageClassification": ImageClassification},
    "utils": {"_log_api_usage_once": _log_api_usage_once, "_make_ntuple": _make_ntuple},
    "models": {},
    "models._api": {"Weights": Weights, "WeightsEnum": WeightsEnum, "register_model": register_model},
    "models._meta": {"_IMAGENET_CATEGORIES": [f"class {i}" for i in range(1000)]},
    "models._utils": {"_ovewrite_named_param": _ovewrite_named_param, "handle_legacy_interface":
                      handle_legacy_interface, "_make_divisible": _make_divisible},
    "ops": {},
    "ops.misc": {},
}
_PACKAGES = {"", "transforms", "models", "ops"}

# --- importing the wheel's files ------------------------------------------------------------------------------


def _import_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def _package(tree: Path, on_cnnkit: bool) -> str:
    """The stand-in package for one backend (``_tv_on_cnnkit`` or ``_tv_on_torch``), with torchvision's
    ``ops/misc.py`` in it; returns its name."""
    root = f"_tv_on_{'cnnkit' if on_cnnkit else 'torch'}"
    for sub in ["", *sorted(_STANDINS, key=lambda s: s.count("."))]:
        name = f"{root}.{sub}" if sub else root
        module = types.ModuleType(name)
        module.__dict__.update(_STANDINS.get(sub, {}))
        if sub in _PACKAGES:
            module.__path__ = []
        sys.modules[name] = module
    with torch_resolved_to_cnnkit() if on_cnnkit else contextlib.nullcontext():
        import torch  # the backend of this package: cnnkit under the alias

        sys.modules[f"{root}.ops.misc"].Conv2dNormActivation = _conv2d_norm_activation(torch)
    return root


def model_module(tree: Path, name: str, on_cnnkit: bool):
    """``torchvision/models/<name>.py`` from the unpacked wheel ``tree``, imported on cnnkit or on PyTorch."""
    root = _package(tree, on_cnnkit)
    full = f"{root}.models.{name}"
    if full in sys.modules:
        return sys.modules[full]
    with torch_resolved_to_cnnkit() if on_cnnkit else contextlib.nullcontext():
        module = _import_file(full, tree / "torchvision" / "models" / f"{name}.py")
    import cnnkit

    assert (module.torch is cnnkit) == on_cnnkit
    return module
