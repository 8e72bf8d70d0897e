"""``cnnkit.insight.kernels``: the classic image kernels as float64 arrays, and kernels given as text or files.

A kernel is applied as a CNN applies it, by cross-correlation (no flip):

    y[i, j] = Σ_{a, b} K[a, b] · x[i + a − ⌊kH/2⌋, j + b − ⌊kW/2⌋]          ('same' size, zeros outside)

Every kernel here has odd height and width, so it has a centre pixel and 'same' padding is symmetric
(⌊k/2⌋ on each side); even sizes are refused rather than padded lopsidedly (PyTorch puts the extra row at
the bottom, SciPy at the top: the two disagree by a pixel). Named kernels:

    identity        the centre 1 (the image unchanged)
    box(size)       1/size² everywhere (mean blur)
    gaussian(size, sigma)   exp(−(a² + b²)/(2σ²)) on the integer offsets a, b ∈ [−size//2, size//2],
                    normalized to sum 1 (the "beauty filter" blur); odd size only
    gaussian3       1/16 [[1 2 1] [2 4 2] [1 2 1]] (the binomial 3×3 blur of the lecture notes)
    sharpen         [[0 −1 0] [−1 5 −1] [0 −1 0]]
    edge            [[−1 −1 −1] [−1 8 −1] [−1 −1 −1]] (edge detection, 8 neighbours)
    laplacian       [[0 1 0] [1 −4 1] [0 1 0]]
    sobel_x         [[−1 0 1] [−2 0 2] [−1 0 1]]  (responds to left-to-right increases)
    sobel_y         sobel_x transposed            (top-to-bottom increases)
    emboss          [[−2 −1 0] [−1 1 1] [0 1 2]]
    vertical_edge   [[1 0 −1] [1 0 −1] [1 0 −1]]  (the notes' edge kernel: a white-to-black edge gives +)
    horizontal_edge vertical_edge transposed
    edge_1x3        [[1 0 −1]]                    (the same edge kernel on one row)
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from .._suggest import did_you_mean
from ..ops import validate

__all__ = ["NAMES", "box", "gaussian", "get", "parse_kernel"]

_FIXED = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "gaussian3": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "edge": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "vertical_edge": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "horizontal_edge": [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
    "edge_1x3": [[1, 0, -1]],
}

#: every name :func:`get` knows (``box`` and ``gaussian`` take ``size``; ``gaussian`` also ``sigma``)
NAMES = ("identity", "box", "gaussian") + tuple(k for k in _FIXED if k != "identity")


def _odd_size(size, fn: str) -> int:
    size = validate.positive_int(size, "size", fn)
    if size % 2 == 0:
        raise ValueError(f"{fn}: size must be odd (1, 3, 5, ...) so that the kernel has a centre pixel, got {size}")
    return size


def box(size: int = 3) -> np.ndarray:
    """The size×size mean filter: every weight 1/size²."""
    size = _odd_size(size, "box")
    return np.full((size, size), 1.0 / (size * size))


def gaussian(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """The size×size Gaussian blur: exp(−(a² + b²)/(2σ²)) at the integer offsets from the centre, summing to 1."""
    size = _odd_size(size, "gaussian")
    sigma = validate.finite_number(sigma, "sigma", "gaussian")
    if sigma <= 0:
        raise ValueError(f"gaussian: sigma must be positive, got {sigma!r}")
    a = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(a * a) / (2.0 * sigma ** 2))
    k = np.outer(g, g)
    return k / k.sum()


def get(name: str, size: int | None = None, sigma: float | None = None) -> np.ndarray:
    """The named kernel as a new float64 array; ``size`` (box, gaussian) and ``sigma`` (gaussian) as above.

    ``size``/``sigma`` for a fixed kernel are refused rather than ignored; names are case-insensitive and
    ``-`` may stand for ``_`` (``sobel-x``)."""
    if not isinstance(name, str):
        raise TypeError(f"kernels.get: expected a kernel name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key == "box":
        if sigma is not None:
            raise ValueError("kernels.get: the box kernel takes no sigma (only size)")
        return box(3 if size is None else size)
    if key == "gaussian":
        return gaussian(5 if size is None else size, 1.0 if sigma is None else sigma)
    if key not in _FIXED:
        raise ValueError(f"kernels.get: unknown kernel {name!r}{did_you_mean(name, NAMES)}; expected one of "
                         f"{', '.join(NAMES)}")
    if size is not None or sigma is not None:
        k = np.asarray(_FIXED[key])
        raise ValueError(f"kernels.get: the {key} kernel is a fixed {k.shape[0]}×{k.shape[1]} array; size and "
                         f"sigma apply to box and gaussian only")
    return np.array(_FIXED[key], dtype=np.float64)


def _check_array(k, source: str) -> np.ndarray:
    """A float64 copy of ``k`` after checking it is a finite 2-D array with odd sides."""
    try:
        k = np.array(k, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"parse_kernel: kernel {source}: expected a 2-D array of numbers") from None
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"parse_kernel: kernel {source}: expected a 2-D array (rows of numbers), got shape {k.shape}")
    if k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"parse_kernel: kernel {source}: expected odd height and width (a centre pixel for "
                         f"'same' padding), got shape {k.shape[0]}×{k.shape[1]}")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"parse_kernel: kernel {source}: expected finite numbers")
    return k


def parse_kernel(spec, size: int | None = None, sigma: float | None = None) -> np.ndarray:
    """A kernel from what a user typed: a name (see :data:`NAMES`), a ``.npy`` file holding a 2-D array, or a
    nested-list literal such as ``"[[0,-1,0],[-1,5,-1],[0,-1,0]]"``; or an array given directly.

    Returns a float64 array with odd height and width; anything else is a ValueError naming the input."""
    if not isinstance(spec, str):
        return _check_array(spec, "array")
    text = spec.strip()
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"parse_kernel: kernel {text!r}: not a list literal such as "
                             f"[[0,-1,0],[-1,5,-1],[0,-1,0]]") from None
        k = _check_array(value, repr(text))
    elif text.lower().endswith(".npy"):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"parse_kernel: kernel file {text}: no such file")
        try:
            value = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"parse_kernel: kernel file {text}: not a readable .npy array ({e})") from None
        k = _check_array(value, f"file {text}")
    else:
        return get(text, size=size, sigma=sigma)
    if size is not None or sigma is not None:
        raise ValueError(f"parse_kernel: kernel {text}: size and sigma apply to the named box and gaussian kernels "
                         f"only")
    return k
