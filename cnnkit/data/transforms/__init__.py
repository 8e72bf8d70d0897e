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

Modules: ``base`` (``Transform``, ``Compose``, ``Lambda``), ``photometric`` (pixel values: normalization,
fitted statistics, whitening, colour jitter), ``geometric`` (pixel positions: pad, crops, flip, resize).
"""
from .base import Compose, Lambda, Transform
from .geometric import CenterCrop, Pad, RandomCrop, RandomHorizontalFlip, Resize
from .photometric import (
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    ConvertImageDtype,
    MeanSubtract,
    Normalize,
    PCAColorJitter,
    PCAWhitening,
    ScaleToRange,
    Standardize,
    ZCAWhitening,
)

__all__ = ["Transform", "Compose", "Lambda", "ConvertImageDtype", "Normalize", "ScaleToRange", "MeanSubtract",
           "Standardize",
           "PCAWhitening", "ZCAWhitening", "PCAColorJitter", "IMAGENET_EIGVAL", "IMAGENET_EIGVEC", "Pad",
           "RandomCrop", "CenterCrop", "RandomHorizontalFlip", "Resize"]
