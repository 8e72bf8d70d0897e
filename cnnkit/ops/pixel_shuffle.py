"""Sub-pixel rearrangement (Shi et al., 2016, ESPCN), PyTorch's ``F.pixel_shuffle`` and ``F.pixel_unshuffle``:

    pixel_shuffle:   (*, C·r², H, W) → (*, C, H·r, W·r),   y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]
    pixel_unshuffle: the inverse, (*, C, H·r, W·r) → (*, C·r², H, W)

Both are a reshape, a transpose and a reshape, so their gradient is the inverse rearrangement of dy.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import validate
from ._util import as_operand
from .shape import permute, reshape

__all__ = ["pixel_shuffle", "pixel_unshuffle"]


def _check(x, r: int, name: str) -> int:
    r = validate.positive_int(r, "upscale_factor" if name == "pixel_shuffle" else "downscale_factor", name)
    if x.ndim < 3:
        raise ValueError(f"{name}: expected an input of 3 or more dims (*, C, H, W), got shape {tuple(x.shape)}")
    return r


def pixel_shuffle(input, upscale_factor: int) -> Tensor:
    name = "pixel_shuffle"
    x = as_operand(input, name)
    r = _check(x, upscale_factor, name)
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"{name}: the number of channels {c} must be divisible by upscale_factor² = {r * r}")
    k = len(lead)
    y = reshape(x, tuple(lead) + (c // (r * r), r, r, h, w))
    y = permute(y, tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return reshape(y, tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor: int) -> Tensor:
    name = "pixel_unshuffle"
    x = as_operand(input, name)
    r = _check(x, downscale_factor, name)
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"{name}: the height {h} and width {w} must be divisible by downscale_factor {r}")
    k = len(lead)
    y = reshape(x, tuple(lead) + (c, h // r, r, w // r, r))
    y = permute(y, tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return reshape(y, tuple(lead) + (c * r * r, h // r, w // r))
