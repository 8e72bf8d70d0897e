"""``filter_image``: apply an image kernel with cnnkit's own ``conv2d``, one channel at a time (depthwise).

    y[c, i, j] = Σ_{a, b} K[a, b] · x[c, i + a − ⌊kH/2⌋, j + b − ⌊kW/2⌋]     (zeros outside the image)

The image (H, W) or (H, W, C) is computed in float64 as one depthwise convolution: the kernel is repeated
C times as weights (C, 1, kH, kW) and ``conv2d(..., groups=C)`` with 'same' padding (⌊k/2⌋ zeros on every
side; kernels have odd sides, see :mod:`cnnkit.insight.kernels`). The result is clipped to the image's range:

    uint8 image          → rounded, clipped to [0, 255], uint8 (what a viewer shows)
    float image in [0, 1] → clipped to [0, 1], float64
    other float image    → clipped to [min, max] of the input image, float64

``correlate(image, kernel)`` returns the unclipped float64 values.

``sample_image()`` is the photo ``china.jpg`` that ships inside scikit-learn (so ``cnnkit filter`` works offline
with no image given); ``side_by_side(original, filtered)`` is the picture that ``cnnkit filter`` writes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..autograd.grad_mode import no_grad
from ..data.images import read_image
from ..nn import functional as F
from ..tensor import Tensor
from .kernels import parse_kernel

__all__ = ["correlate", "filter_image", "sample_image", "side_by_side"]


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.size == 0 or (image.ndim == 3 and image.shape[2] < 1):
        raise ValueError(f"filter_image: expected an image of shape (H, W) or (H, W, C), got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)) \
            or image.dtype == np.bool_:
        raise ValueError(f"filter_image: expected an image of integer or float pixels, got dtype {image.dtype}")
    return image


def correlate(image, kernel) -> np.ndarray:
    """The float64 'same' cross-correlation of every channel of ``image`` with ``kernel`` (no clipping)."""
    image = _check_image(image)
    k = parse_kernel(kernel)
    planes = image.astype(np.float64)
    planes = planes[None] if planes.ndim == 2 else np.moveaxis(planes, 2, 0)   # (C, H, W)
    c = planes.shape[0]
    weight = np.ascontiguousarray(np.broadcast_to(k, (c, 1) + k.shape))
    with no_grad():
        y = F.conv2d(Tensor(planes[None]), Tensor(weight), padding=(k.shape[0] // 2, k.shape[1] // 2), groups=c)
    y = y._data[0]
    return y[0] if image.ndim == 2 else np.moveaxis(y, 0, 2)


def filter_image(image, kernel) -> np.ndarray:
    """``image`` (H, W) or (H, W, C) filtered by ``kernel`` (an array, a name or a literal; see
    :func:`cnnkit.insight.kernels.parse_kernel`), same size, clipped to the image's range (module docstring)."""
    image = _check_image(image)
    y = correlate(image, kernel)
    if image.dtype == np.uint8:
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        return np.clip(np.rint(y), info.min, info.max).astype(image.dtype)
    low, high = float(image.min()), float(image.max())
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    return np.clip(y, low, high)


def sample_image(name: str = "china.jpg") -> np.ndarray:
    """A photo shipped inside scikit-learn (``china.jpg`` or ``flower.jpg``, 427×640×3 uint8): no download.

    The JPEG is read from scikit-learn's installed package data with :func:`cnnkit.data.images.read_image`
    (what ``load_sample_image`` does, without importing scikit-learn, which takes a second or two)."""
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("sample_image: scikit-learn, which ships the sample photos, is not installed; pass an "
                         "image file")
    for root in spec.submodule_search_locations:
        path = Path(root) / "datasets" / "images" / name
        if path.is_file():
            return read_image(path, channels=3)
    raise ValueError(f"sample_image: scikit-learn's sample photo {name!r} is not among its installed files; pass "
                     f"an image file")


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    x = image.astype(np.float64)
    low, high = float(x.min()), float(x.max())
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    scale = high - low if high > low else 1.0
    return np.clip(np.rint((x - low) / scale * 255), 0, 255).astype(np.uint8)


def side_by_side(left, right, gap: int = 8) -> np.ndarray:
    """Two same-size images next to each other with a white ``gap`` (uint8, RGB if either is)."""
    a, b = _to_uint8(np.asarray(left)), _to_uint8(np.asarray(right))
    if a.ndim != b.ndim:
        a, b = [x if x.ndim == 3 else np.repeat(x[..., None], 3, axis=2) for x in (a, b)]
    spacer = np.full((a.shape[0], gap) + a.shape[2:], 255, dtype=np.uint8)
    return np.concatenate([a, spacer, b], axis=1)
