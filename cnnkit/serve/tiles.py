"""Feature maps as small PNG tiles for the page (base64 text, ready for a ``data:image/png`` URL).

A layer's output is coloured on one scale for the whole layer, so its maps can be compared with each other:

    index = round(255 · (v − min) / (max − min))       (min, max over all of the layer's values; 0 if they are equal)

and the index picks a colour of the viridis map (dark violet for the layer's minimum, yellow for its maximum).
A map of shape (C, H, W) gives C tiles of H×W pixels; a vector of N values (a linear layer, or a convolution
whose maps are 1×1) gives one tile of 1×N pixels. The browser scales them up without smoothing.
"""
from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def viridis_palette() -> bytes:
    """The 256 viridis colours as a PNG palette (R, G, B bytes); read-only once built."""
    from matplotlib import colormaps

    rgb = colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.rint(rgb * 255).astype(np.uint8).tobytes()


def png_base64(indices: np.ndarray, palette: bytes | None = None) -> str:
    """The (H, W) uint8 ``indices`` as a PNG (grayscale, or with ``palette``), base64-encoded."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8))
    if palette is not None:
        image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def scale_to_indices(values: np.ndarray) -> tuple:
    """``values`` mapped onto 0..255 by the layer's range, and that range (min, max) as floats."""
    v = np.asarray(values, dtype=np.float64)
    low, high = float(v.min()), float(v.max())
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return np.zeros(v.shape, dtype=np.uint8), low, high
    return np.rint((v - low) * (255.0 / (high - low))).astype(np.uint8), low, high


def layer_tiles(output: np.ndarray) -> dict:
    """One sample's layer output (C, H, W) or (N,) as tiles: ``{"tiles": [...], "min", "max"}`` plus ``"values"``
    (the numbers, rounded) for a vector."""
    out = np.asarray(output)
    indices, low, high = scale_to_indices(out)
    colours = viridis_palette()
    spatial = out.ndim == 3 and out.shape[1] * out.shape[2] > 1
    if spatial:  # one PNG file per map: a loop over files to encode, not over the computation
        tiles = [png_base64(indices[c], colours) for c in range(out.shape[0])]
        result = {"tiles": tiles}
    else:
        flat = out.reshape(-1)
        result = {"tiles": [png_base64(indices.reshape(1, -1), colours)],
                  "values": np.round(flat.astype(np.float64), 5).tolist()}
    result.update(min=_finite(low), max=_finite(high))
    return result


def _finite(x: float):
    return x if np.isfinite(x) else None
