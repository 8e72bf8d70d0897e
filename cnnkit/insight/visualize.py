"""What did the network learn: the first layer's kernels, each layer's feature maps, a unit's receptive field.

Tiles (kernels or feature maps) are laid out in a grid of ``cols = ⌈√n⌉`` columns and ``⌈n/cols⌉`` rows,
tile i at row i // cols, column i % cols, separated and framed by ``gap`` pixels of white (1.0); tile i's
top-left pixel is at (gap + (i // cols)·(h + gap), gap + (i % cols)·(w + gap)) (see :func:`tile_origin`).
Each tile is min-max normalized on its own to [0, 1]: t = (v − min)/(max − min) (a constant tile is 0.5).

    filter_grid(model)          the first Conv2d's kernels (out, in, kH, kW): one colour tile (kH, kW, 3) per
                                kernel when in = 3 (the channels as R, G, B, normalized together); otherwise one
                                grey tile per (out, in) slice, in row-major order: n = out·in
    feature_maps(model, image)  the output of every conv/pool layer for one image (forward hooks; names as in
                                ``named_modules`` / ``summary``), a dict name -> (C, H, W) array
    visualize(...)              writes filters_<layer>.png, features_<layer>.png per conv/pool layer and
                                receptive_field_<layer>.png, and an index.md listing them
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..autograd.grad_mode import no_grad
from ..data.images import write_image
from ..io.atomic import atomic_output
from ..nn import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    Conv2d,
    ConvTranspose2d,
    LPPool2d,
    MaxPool2d,
    Module,
    TableConv2d,
)
from ..tensor import Tensor
from .receptive_box import draw_box, parse_layer_unit, receptive_box

__all__ = ["FEATURE_MAP_LAYERS", "feature_maps", "filter_grid", "grid_shape", "normalize", "tile", "tile_origin",
           "visualize"]

FEATURE_MAP_LAYERS = (Conv2d, TableConv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, LPPool2d, AdaptiveAvgPool2d,
               AdaptiveMaxPool2d)
"""The layers whose outputs are feature maps: convolutions and pooling."""


def normalize(a) -> np.ndarray:
    """(a − min)/(max − min) in float64; 0.5 everywhere when a is constant."""
    a = np.asarray(a, dtype=np.float64)
    low, high = a.min(), a.max()
    return np.full(a.shape, 0.5) if high <= low else (a - low) / (high - low)


def grid_shape(n: int) -> tuple:
    """(rows, cols) of a grid of n tiles: cols = ⌈√n⌉, rows = ⌈n/cols⌉."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


def tile_origin(i: int, n: int, tile_hw, gap: int = 1) -> tuple:
    """The top-left pixel (row, col) of tile i in a grid of n tiles of size ``tile_hw``."""
    _, cols = grid_shape(n)
    return gap + (i // cols) * (tile_hw[0] + gap), gap + (i % cols) * (tile_hw[1] + gap)


def tile(tiles, gap: int = 1) -> np.ndarray:
    """Lay out ``tiles`` (n, h, w) or (n, h, w, 3), each already in [0, 1], on a white grid."""
    tiles = np.asarray(tiles, dtype=np.float64)
    n, h, w = tiles.shape[:3]
    rows, cols = grid_shape(n)
    grid = np.ones((gap + rows * (h + gap), gap + cols * (w + gap)) + tiles.shape[3:])
    for i in range(n):                      # one copy per tile (kernels/maps are few)
        r, c = tile_origin(i, n, (h, w), gap)
        grid[r:r + h, c:c + w] = tiles[i]
    return grid


def _first_conv(model: Module):
    for name, m in model.named_modules():
        if isinstance(m, (Conv2d, TableConv2d)):
            return name, m
    raise ValueError(f"filter_grid: {type(model).__name__} has no Conv2d layer")


def filter_grid(model: Module, gap: int = 1) -> tuple:
    """(grid, n): the first conv layer's kernels as one image in [0, 1] (colour (H, W, 3) for 3 input channels,
    grey (H, W) otherwise) and the number of tiles (see the module docstring)."""
    _, conv = _first_conv(model)
    w = np.asarray(conv.weight._data, dtype=np.float64)
    if isinstance(conv, TableConv2d):            # (connections, kH, kW): one grey tile per connection
        w = w[:, None]
    out, cin = w.shape[:2]
    if cin == 3 and not isinstance(conv, TableConv2d):
        tiles = np.stack([normalize(k) for k in w]).transpose(0, 2, 3, 1)      # (out, kH, kW, 3)
    else:
        tiles = np.stack([normalize(k) for k in w.reshape(out * cin, *w.shape[2:])])
    return tile(tiles, gap), len(tiles)


def _as_batch(image, model: Module) -> np.ndarray:
    x = np.asarray(image._data if isinstance(image, Tensor) else image)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"feature_maps: expected one image (C, H, W), got shape {x.shape}")
    dtype = next((p._data.dtype for p in model.parameters()), np.dtype(np.float32))
    return x.astype(dtype, copy=False)


def feature_maps(model: Module, image) -> dict:
    """{layer name: its output (C, H, W) for ``image``} for every conv/pool layer, in call order (first call)."""
    x = _as_batch(image, model)
    names = {id(m): n for n, m in model.named_modules()}
    maps = {}

    def hook(module, args, out):
        name = names.get(id(module))
        if isinstance(out, Tensor) and out.ndim == 4 and name not in maps:
            maps[name] = np.array(out._data[0])

    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, FEATURE_MAP_LAYERS)]
    try:
        model.eval()
        with no_grad():
            model(Tensor(x))
    except (TypeError, ValueError) as e:
        raise ValueError(f"feature_maps: running {type(model).__name__} on an image of shape {x.shape[1:]} "
                         f"failed: {e}") from None
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    return maps


_feature_maps = feature_maps     # visualize's arguments shadow the two names


def _to_png(array01, path, target: int = 512) -> str:
    """Save an image in [0, 1] enlarged by an integer factor (nearest) so its longer side is about ``target``."""
    a = np.clip(np.rint(np.asarray(array01) * 255), 0, 255).astype(np.uint8)
    return write_image(a, path, max(1, target // max(a.shape[:2])))


def _display(x: np.ndarray, display) -> np.ndarray:
    """The picture to draw on: ``display`` if given, else the model input min-max scaled to uint8."""
    if display is not None:
        return np.asarray(display, dtype=np.uint8)
    img = normalize(x[0])
    img = img[0] if img.shape[0] != 3 else img.transpose(1, 2, 0)
    return np.rint(img * 255).astype(np.uint8)


def visualize(model: Module, image, out_dir, filters: bool = True, feature_maps: bool = True,
              receptive_field=None, display=None) -> list:
    """Write the pictures of ``model`` for one ``image`` (the model's input, (C, H, W), prepared as in training)
    into ``out_dir``: the first layer's kernels, the feature maps of every conv/pool layer, and with
    ``receptive_field`` = "LAYER" or "LAYER:ROW,COL" (or (layer, (row, col))) that unit's field drawn on
    ``display`` (uint8 (H, W) or (H, W, 3); default the input min-max scaled). Also writes index.md.
    Returns the paths written (index.md last)."""
    x = _as_batch(image, model)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"visualize: {out_dir} exists and is not a folder")
    rf = None
    if receptive_field is not None:
        rf = parse_layer_unit(receptive_field) if isinstance(receptive_field, str) else tuple(receptive_field)
    if not (filters or feature_maps or rf):
        raise ValueError("visualize: nothing to draw (filters, feature_maps and receptive_field are all off)")
    box = receptive_box(model, x.shape[1:], *rf) if rf else None     # a bad layer fails before any file
    grid, n = filter_grid(model) if filters else (None, 0)            # and so does a model without a conv
    out.mkdir(parents=True, exist_ok=True)
    written, entries = [], []
    if filters:
        name, conv = _first_conv(model)
        path = out / f"filters_{name}.png"
        written.append(_to_png(grid, path, 256))
        shape = "×".join(str(v) for v in conv.weight.shape)
        entries.append(f"- [{path.name}]({path.name}): the {n} kernels of `{name}` (weights {shape}), each "
                       f"min-max normalized")
    if feature_maps:
        maps = _feature_maps(model, x)
        for name, a in maps.items():
            path = out / f"features_{name}.png"
            written.append(_to_png(tile(np.stack([normalize(c) for c in a])), path))
            entries.append(f"- [{path.name}]({path.name}): `{name}`, {a.shape[0]} maps of {a.shape[1]}×{a.shape[2]}")
    if box is not None:
        layer = box.layer
        picture = _display(x, display)
        scale = max(1, 512 // max(picture.shape[:2]))
        path = out / f"receptive_field_{layer}.png"
        written.append(write_image(draw_box(picture, box, scale), path))
        entries.append(f"- [{path.name}]({path.name}): unit {box.unit} of `{layer}` sees rows {box.top}–{box.bottom}, "
                       f"columns {box.left}–{box.right} of the input (receptive field {box.size[0]}×{box.size[1]}, "
                       f"jump {box.jump[0] if box.jump[0] == box.jump[1] else box.jump})")
    index = out / "index.md"
    with atomic_output(index) as f:
        f.write((f"# {type(model).__name__}: one image, {x.shape[1]}×{x.shape[2]}×{x.shape[3]}\n\n"
                 + "\n".join(entries) + "\n").encode("utf-8"))
    written.append(str(index))
    return written
