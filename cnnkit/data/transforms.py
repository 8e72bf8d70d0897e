"""Transforms: the input layer's preprocessing and the training-time augmentation.

Every transform takes an image array (C, H, W) or a batch (N, C, H, W) and
returns an array; random transforms draw one independent choice per sample,
vectorised, from cnnkit's project-wide generator (so ``ck.manual_seed``
reproduces them). Fitted transforms (``MeanSubtract``, ``Standardize``,
``PCAWhitening``) learn their statistics from the training set with
``fit(train_images)`` and then apply the same statistics to any data.

Preprocessing (the seeds' input layer):
  mean subtraction   x - μ                                  (centre every dimension at 0)
  standardization    (x - μ) / σ                            (unit scale per dimension)
  PCA whitening      Λ^(-1/2) Uᵀ (x - μ)  with Σ = U Λ Uᵀ    (decorrelate, then equalise the variances)
  ZCA whitening      U Λ^(-1/2) Uᵀ (x - μ)                  (whitened, rotated back to look like the input)
Augmentation: random crops (with padding), horizontal flips, and AlexNet's PCA colour
jitter: add Σ_i α_i λ_i p_i to every pixel, α_i ~ N(0, σ²), (λ_i, p_i) the eigen-pairs of
the RGB covariance.
"""
from __future__ import annotations

import inspect

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..random import get_generator


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _pair(v, name: str) -> tuple:
    """(h, w) from an int or a pair of positive ints."""
    if _is_int(v):
        v = (v, v)
    if not (isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(i) for i in v)):
        raise TypeError(f"{name}: size must be an int or a pair of ints (h, w), got {v!r}")
    if min(v) <= 0:
        raise ValueError(f"{name}: size must be positive, got {v!r}")
    return int(v[0]), int(v[1])


def _padding(padding, name: str) -> tuple:
    """(left, top, right, bottom) from torchvision's forms: an int, (left/right, top/bottom) or 4 values."""
    p = (padding,) * 4 if _is_int(padding) else padding
    if isinstance(p, (tuple, list)) and len(p) == 2:
        p = (p[0], p[1], p[0], p[1])
    if not (isinstance(p, (tuple, list)) and len(p) == 4 and all(_is_int(v) and v >= 0 for v in p)):
        raise ValueError(f"{name}: padding must be a non-negative int or a tuple of 2 or 4 of them, got {padding!r}")
    return tuple(int(v) for v in p)


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


class ConvertImageDtype(Transform):
    """Integer images to float ``dtype`` scaled to [0, 1] (uint8: v / 255; any integer type: v / its maximum),
    float images cast to ``dtype`` unchanged (torchvision's ``ConvertImageDtype``)."""

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"ConvertImageDtype: dtype must be a float type, got {self.dtype}")

    def __call__(self, x):
        x = np.asarray(x)
        if x.dtype.kind in "iu":
            return x.astype(self.dtype) / self.dtype.type(np.iinfo(x.dtype).max)
        if x.dtype.kind == "b":
            return x.astype(self.dtype)
        return x.astype(self.dtype, copy=False)


class Normalize(Transform):
    """x_c ← (x_c − mean_c) / std_c per channel (torchvision's Normalize)."""

    def __init__(self, mean, std):
        try:
            self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
            self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(f"Normalize: mean and std must be numbers or sequences of numbers, got mean {mean!r} "
                            f"std {std!r}") from None
        if self.mean.size == 0 or self.mean.shape != self.std.shape or np.any(self.std == 0):
            raise ValueError(f"Normalize: mean and std need one non-zero std per channel, got mean {mean} std {std}")

    def __call__(self, x):
        b, back = _as_batch(x, "Normalize")
        b = _float(b)
        if self.mean.size not in (1, b.shape[1]):
            raise ValueError(f"Normalize: {self.mean.size} channel statistics for input with {b.shape[1]} channels")
        m = self.mean.astype(b.dtype)[:, None, None]
        s = self.std.astype(b.dtype)[:, None, None]
        return back((b - m) / s)


class ScaleToRange(Transform):
    """Map [data_min, data_max] linearly onto [low, high] (default: pixels in [0, 1] to [−1, 1])."""

    def __init__(self, low: float = -1.0, high: float = 1.0, data_min: float = 0.0, data_max: float = 1.0):
        if not high > low or not data_max > data_min:
            raise ValueError(f"ScaleToRange: need low < high and data_min < data_max, got [{low}, {high}] from "
                             f"[{data_min}, {data_max}]")
        self.low, self.high, self.data_min, self.data_max = low, high, data_min, data_max

    def __call__(self, x):
        x = _float(np.asarray(x))
        scale = x.dtype.type((self.high - self.low) / (self.data_max - self.data_min))
        return (x - x.dtype.type(self.data_min)) * scale + x.dtype.type(self.low)


class _Fitted(Transform):
    """A transform whose statistics are learned from training data with ``fit``."""

    per_choices = ("channel", "pixel")

    def __init__(self, per: str = "channel"):
        if per not in self.per_choices:
            raise ValueError(f"{type(self).__name__}: per must be one of {self.per_choices}, got '{per}'")
        self.per = per
        self._fitted = False

    def _axes(self, data: np.ndarray) -> tuple:
        if data.ndim != 4:
            raise ValueError(f"{type(self).__name__}.fit: expected training images (N, C, H, W), got shape "
                             f"{data.shape}")
        return (0, 2, 3) if self.per == "channel" else (0,)

    def _check(self, x):
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__}: call fit(train_images) before transforming")
        b, back = _as_batch(x, type(self).__name__)
        if b.shape[1:] != self._shape[1:] and not (self.per == "channel" and b.shape[1] == self._shape[1]):
            raise ValueError(f"{type(self).__name__}: fitted on images of shape {self._shape[1:]}, got {b.shape[1:]}")
        return _float(b), back


class MeanSubtract(_Fitted):
    """x ← x − μ, with μ the training mean per channel (``per='channel'``) or per pixel (the mean image)."""

    def fit(self, data) -> MeanSubtract:
        data = np.asarray(data, dtype=np.float64)
        self.mean = data.mean(axis=self._axes(data), keepdims=True)[0]
        self._shape, self._fitted = data.shape, True
        return self

    def __call__(self, x):
        b, back = self._check(x)
        return back(b - self.mean.astype(b.dtype))


class Standardize(_Fitted):
    """x ← (x − μ) / (σ + eps), with μ, σ from the training set per channel or per pixel."""

    def __init__(self, per: str = "channel", eps: float = 1e-8):
        super().__init__(per)
        self.eps = eps

    def fit(self, data) -> Standardize:
        data = np.asarray(data, dtype=np.float64)
        axes = self._axes(data)
        self.mean = data.mean(axis=axes, keepdims=True)[0]
        self.std = data.std(axis=axes, keepdims=True)[0]
        self._shape, self._fitted = data.shape, True
        return self

    def __call__(self, x):
        b, back = self._check(x)
        return back((b - self.mean.astype(b.dtype)) / (self.std + self.eps).astype(b.dtype))


class PCAWhitening(Transform):
    """PCA (or ZCA) whitening fitted on training data flattened to vectors of D = C·H·W values.

    Σ = (1/N) Σ_n (x_n − μ)(x_n − μ)ᵀ = U Λ Uᵀ. PCA whitening keeps the ``n_components`` leading
    components and returns vectors (N, k): Λ_k^(-1/2) U_kᵀ (x − μ) (dimension reduction, as the seeds
    describe). ZCA (``zca=True``) rotates back, U Λ^(-1/2) Uᵀ (x − μ), and returns the input's shape.
    ``eps`` is added to the eigenvalues so that near-zero variance directions are not blown up.
    """

    def __init__(self, n_components: int | None = None, eps: float = 1e-5, zca: bool = False):
        if n_components is not None and (not _is_int(n_components) or n_components <= 0):
            raise ValueError(f"{type(self).__name__}: n_components must be a positive int or None, "
                             f"got {n_components!r}")
        if zca and n_components is not None:
            raise ValueError("PCAWhitening: ZCA keeps every component; n_components applies to PCA only")
        if eps < 0:
            raise ValueError(f"PCAWhitening: eps must be non-negative, got {eps}")
        self.n_components, self.eps, self.zca = n_components, eps, zca
        self._fitted = False

    def fit(self, data) -> PCAWhitening:
        data = np.asarray(data, dtype=np.float64)
        if data.ndim < 2 or data.shape[0] < 2:
            raise ValueError(f"{type(self).__name__}.fit: expected at least 2 samples (N, ...), got shape {data.shape}")
        flat = data.reshape(len(data), -1)
        self.mean = flat.mean(axis=0)
        centered = flat - self.mean
        cov = centered.T @ centered / len(flat)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        self.eigenvalues, self.components = np.maximum(eigval[order], 0), eigvec[:, order]
        k = flat.shape[1] if self.n_components is None else self.n_components
        if k > flat.shape[1]:
            raise ValueError(f"{type(self).__name__}: n_components must be in [1, {flat.shape[1]}] (the data has "
                             f"{flat.shape[1]} dimensions), got {k}")
        scale = 1.0 / np.sqrt(self.eigenvalues[:k] + self.eps)
        w = self.components[:, :k] * scale  # D x k
        self.matrix = w @ self.components[:, :k].T if self.zca else w
        self._shape, self._fitted = data.shape[1:], True
        return self

    def explained_variance_ratio(self):
        """λ_i / Σ_j λ_j for every component, largest first."""
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__}: call fit(train_data) first")
        return self.eigenvalues / self.eigenvalues.sum()

    def __call__(self, x):
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__}: call fit(train_data) before transforming")
        x = np.asarray(x)
        single = x.shape == self._shape
        b = x[None] if single else x
        if b.ndim < 1 or b.shape[1:] != self._shape:
            raise ValueError(f"{type(self).__name__}: fitted on samples of shape {self._shape}, got {x.shape}")
        dt = b.dtype if b.dtype.kind == "f" else np.float32
        out = (b.reshape(len(b), -1) - self.mean) @ self.matrix
        out = out.astype(dt)
        if self.zca:
            out = out.reshape(b.shape)
        return out[0] if single else out


class ZCAWhitening(PCAWhitening):
    """ZCA whitening: PCA whitening rotated back into the input space (same shape as the input)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__(None, eps, zca=True)


def _pad_batch(b: np.ndarray, left: int, top: int, right: int, bottom: int, fill) -> np.ndarray:
    if not (left or top or right or bottom):
        return b
    return np.pad(b, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


class Pad(Transform):
    """Pad the borders with ``fill``: ``padding`` int (all sides), (left/right, top/bottom) or (left, top, right,
    bottom), as torchvision. Output size (H + top + bottom, W + left + right)."""

    def __init__(self, padding, fill=0):
        self.padding, self.fill = _padding(padding, "Pad"), fill

    def __call__(self, x):
        b, back = _as_batch(x, "Pad")
        return back(_pad_batch(b, *self.padding, self.fill))


def _crop_at(b: np.ndarray, top: np.ndarray, left: np.ndarray, h: int, w: int) -> np.ndarray:
    """Crop an (h, w) window from each image at its own (top, left): one gather from the strided view of all
    windows (N, C, H−h+1, W−w+1, h, w), no loop over samples."""
    windows = sliding_window_view(b, (h, w), axis=(2, 3))
    return np.ascontiguousarray(windows[np.arange(len(b)), :, top, left])  # N x C x h x w


class RandomCrop(Transform):
    """A random (h, w) window of each image after padding by ``padding`` with ``fill`` (e.g. CIFAR's 32 with
    padding 4). ``padding`` takes Pad's forms. Each image of a batch gets its own window: top ~ U{0..H'−h},
    left ~ U{0..W'−w} on the padded (H', W')."""

    def __init__(self, size, padding=None, fill=0):
        self.size = _pair(size, "RandomCrop")
        self.padding = padding
        self._pad = _padding(0 if padding is None else padding, "RandomCrop")
        self.fill = fill

    def __call__(self, x):
        b, back = _as_batch(x, "RandomCrop")
        b = _pad_batch(b, *self._pad, self.fill)
        h, w = self.size
        H, W = b.shape[2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the (padded) image {(H, W)}")
        rng = get_generator()
        top = rng.integers(0, H - h + 1, len(b))
        left = rng.integers(0, W - w + 1, len(b))
        return back(_crop_at(b, top, left, h, w))


class CenterCrop(Transform):
    """The central (h, w) window (torchvision's rounding: top = round((H − h) / 2))."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, x):
        b, back = _as_batch(x, "CenterCrop")
        h, w = self.size
        H, W = b.shape[2:]
        if h > H or w > W:
            raise ValueError(f"CenterCrop: crop {self.size} is larger than the image {(H, W)}")
        top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
        return back(b[:, :, top:top + h, left:left + w].copy())


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability p."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, x):
        b, back = _as_batch(x, "RandomHorizontalFlip")
        flip = get_generator().random(len(b)) < self.p
        out = b.copy()
        out[flip] = b[flip][..., ::-1]
        return back(out)


# AlexNet / fb.resnet.torch lighting statistics of ImageNet RGB pixels scaled to [0, 1]
IMAGENET_EIGVAL = np.array([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                            [-0.5808, -0.0045, -0.8140],
                            [-0.5836, -0.6948, 0.4203]])


class PCAColorJitter(Transform):
    """AlexNet's lighting noise: add Σ_i α_i λ_i p_i (α_i ~ N(0, alphastd²)) to every pixel of an image.

    (λ_i, p_i) are the eigenvalues and eigenvectors (columns) of the 3×3 covariance of RGB pixel values:
    ImageNet's by default, or those of your training set with ``fit(train_images)``.
    """

    def __init__(self, alphastd: float = 0.1, eigval=None, eigvec=None):
        if alphastd < 0:
            raise ValueError(f"PCAColorJitter: alphastd must be non-negative, got {alphastd}")
        self.alphastd = alphastd
        self.eigval = np.asarray(IMAGENET_EIGVAL if eigval is None else eigval, dtype=np.float64)
        self.eigvec = np.asarray(IMAGENET_EIGVEC if eigvec is None else eigvec, dtype=np.float64)
        c = self.eigval.size
        if self.eigvec.shape != (c, c):
            raise ValueError(f"PCAColorJitter: eigvec must be ({c}, {c}) for {c} eigenvalues, got {self.eigvec.shape}")

    def fit(self, data) -> PCAColorJitter:
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 4:
            raise ValueError(f"PCAColorJitter.fit: expected images (N, C, H, W), got shape {data.shape}")
        pixels = data.transpose(0, 2, 3, 1).reshape(-1, data.shape[1])
        eigval, eigvec = np.linalg.eigh(np.cov(pixels, rowvar=False).reshape(data.shape[1], data.shape[1]))
        order = np.argsort(eigval)[::-1]
        self.eigval, self.eigvec = np.maximum(eigval[order], 0), eigvec[:, order]
        return self

    def __call__(self, x):
        b, back = _as_batch(x, "PCAColorJitter")
        if b.shape[1] != self.eigval.size:
            raise ValueError(f"PCAColorJitter: statistics for {self.eigval.size} channels, input has {b.shape[1]}")
        b = _float(b)
        alpha = get_generator().normal(0.0, self.alphastd, (len(b), self.eigval.size))
        shift = (alpha * self.eigval) @ self.eigvec.T  # N x C: Σ_i α_i λ_i p_i
        return back(b + shift.astype(b.dtype)[:, :, None, None])


def _bilinear_weights(n_in: int, n_out: int, dtype):
    """Source indices and weights of bilinear resizing along one axis (PyTorch's align_corners=False).

    Output pixel j samples the input at s_j = max((j + ½)·n_in/n_out − ½, 0) (half-pixel centres);
    i0 = ⌊s_j⌋, i1 = min(i0 + 1, n_in − 1), and the weights are (1 − λ, λ) with λ = s_j − i0. Computed in
    ``dtype`` (float32 for float32 images, as PyTorch does; s_j is rounded once, like its fused multiply-add).
    """
    scale = dtype.type(n_in) / dtype.type(n_out)
    src = (np.float64(scale) * (np.arange(n_out) + 0.5) - 0.5).astype(dtype)
    src = np.maximum(src, dtype.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    return i0, i1, (dtype.type(1) - lam).astype(dtype), lam


class Resize(Transform):
    """Bilinear resize, as PyTorch's ``interpolate(mode='bilinear', align_corners=False)`` (torchvision's
    ``Resize(size, antialias=False)``).

    ``size`` (h, w) gives exactly that size; an int s (or [s]) matches the smaller edge to s and keeps the
    aspect ratio like torchvision: the longer edge becomes ⌊s · long / short⌋. The result is float (integer
    images are converted to float32 first); each output pixel is
    (1 − λy)((1 − λx) x[i0, j0] + λx x[i0, j1]) + λy((1 − λx) x[i1, j0] + λx x[i1, j1]),
    separably (along the width, then the height). It equals PyTorch's result up to rounding (a few ulp:
    PyTorch's kernel sums the four terms in another order, with fused multiply-adds).
    """

    def __init__(self, size):
        if isinstance(size, (tuple, list)) and len(size) == 1:
            size = size[0]
        if _is_int(size):
            if size <= 0:
                raise ValueError(f"Resize: size must be positive, got {size!r}")
            self.size = int(size)
        else:
            self.size = _pair(size, "Resize")

    def output_size(self, height: int, width: int) -> tuple:
        """The (h, w) an image of (height, width) is resized to."""
        if isinstance(self.size, tuple):
            return self.size
        short, long = min(height, width), max(height, width)
        new_long = int(self.size * long / short)
        return (new_long, self.size) if height > width else (self.size, new_long)

    def __call__(self, x):
        b, back = _as_batch(x, "Resize")
        b = _float(b)
        h, w = self.output_size(*b.shape[2:])
        if h <= 0 or w <= 0 or b.shape[2] == 0 or b.shape[3] == 0:
            raise ValueError(f"Resize: cannot resize images of size {b.shape[2:]} to {(h, w)}")
        r0, r1, wy0, wy1 = _bilinear_weights(b.shape[2], h, b.dtype)
        c0, c1, wx0, wx1 = _bilinear_weights(b.shape[3], w, b.dtype)
        cols = np.take(b, c0, axis=3)  # along the width first, like PyTorch
        cols *= wx0
        part = np.take(b, c1, axis=3)
        part *= wx1
        cols += part
        out = np.take(cols, r0, axis=2)  # then along the height
        out *= wy0[:, None]
        part = np.take(cols, r1, axis=2)
        part *= wy1[:, None]
        out += part
        return back(out)
