"""The transform protocol: ``Transform`` (an image (C, H, W) or a batch (N, C, H, W) in, an array out),
``Compose`` and ``Lambda``, and the batch view every transform works on."""
from __future__ import annotations

import inspect

import numpy as np


def _as_batch(x, name: str):
    """(N, C, H, W) view of an image or a batch, and a function that restores the input's rank."""
    x = np.asarray(x)
    if x.ndim == 3:
        return x[None], lambda y: y[0]
    if x.ndim == 4:
        return x, lambda y: y
    raise ValueError(f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {x.shape}")


def _float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float32)


class Transform:
    """Base class: ``__call__(x)`` maps an image (C, H, W) or a batch (N, C, H, W) to an array."""

    def __call__(self, x):
        raise NotImplementedError

    def __repr__(self) -> str:
        # the constructor's arguments only (not fitted statistics, which can be D x D matrices)
        args = []
        for k in inspect.signature(type(self).__init__).parameters:
            if k != "self" and hasattr(self, k):
                v = getattr(self, k)
                args.append(f"{k}={v.tolist() if isinstance(v, np.ndarray) else v!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class Compose(Transform):
    """Apply transforms one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r}\n" for t in self.transforms) + ")"


class Lambda(Transform):
    """A user function as a transform."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)
