"""The built-in default dataset: scikit-learn's bundled handwritten digits, served like MNIST.

1,797 real 8×8 digit images (values 0-16) from the UCI "Optical Recognition of
Handwritten Digits" set, shipped inside scikit-learn, so no download is needed.
For LeNet-5 they are served at 28×28 the way MNIST frames its digits: each image
is scaled to [0, 1], bilinearly resized to 20×20 and centred in a 28×28 field
(4 pixels of zero padding on each side).

The split is fixed: ``np.random.default_rng(0).permutation(1797)``; the first
1,437 indices (80 %) are the training set, the last 360 the test set.
"""
from __future__ import annotations

import numpy as np

from ...ops import validate
from ..dataset import ArrayDataset
from ..transforms import Pad, Resize

N_TRAIN = 1437
SPLIT_SEED = 0


def _load_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits: scikit-learn is needed for the built-in digits dataset "
                          "(pip install scikit-learn)") from None
    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def digits(train: bool = True, size: int = 28, transform=None, target_transform=None) -> ArrayDataset:
    """Images (N, 1, size, size) float32 in [0, 1] and labels int64 in [0, 10); size 8 gives the raw images."""
    if not validate.is_int(size) or size < 8:
        raise ValueError(f"digits: size must be an int of at least 8, got {size!r}")
    images, labels = _load_sklearn_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    idx = order[:N_TRAIN] if train else order[N_TRAIN:]
    x = images[idx, None, :, :] / np.float32(16.0)
    if size != 8:
        inner = max(8, round(size * 20 / 28))  # MNIST's 20-in-28 framing, at any size
        pad = size - inner
        x = Pad((pad // 2, pad // 2, pad - pad // 2, pad - pad // 2))(Resize(inner)(x))
    return ArrayDataset(np.ascontiguousarray(x, dtype=np.float32), labels[idx], transform=transform,
                        target_transform=target_transform)
