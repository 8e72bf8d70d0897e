"""Photometric transforms: they change pixel values, never their positions.

Preprocessing (the seeds' input layer), fixed or fitted on the training set with ``fit(train_images)``:
  mean subtraction   x - μ                                  (centre every dimension at 0)
  standardization    (x - μ) / σ                            (unit scale per dimension)
  PCA whitening      Λ^(-1/2) Uᵀ (x - μ)  with Σ = U Λ Uᵀ    (decorrelate, then equalise the variances)
  ZCA whitening      U Λ^(-1/2) Uᵀ (x - μ)                  (whitened, rotated back to look like the input)
Augmentation: AlexNet's PCA colour jitter adds Σ_i α_i λ_i p_i to every pixel, α_i ~ N(0, σ²), (λ_i, p_i) the
eigen-pairs of the RGB covariance.
"""
from __future__ import annotations

import numpy as np

from ...ops import validate
from ...random import get_generator
from .base import Transform, _as_batch, _float


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
        if n_components is not None and (not validate.is_int(n_components) or n_components <= 0):
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
