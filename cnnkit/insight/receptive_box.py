"""``receptive_box``: the rectangle of input pixels that one unit of a layer sees.

``receptive_field.py`` gives every layer's receptive field r, jump j (cumulative stride) and start (the centre
of unit 0's field, in input pixel coordinates from 0; negative where padding is seen), per axis — the numbers
``ck.summary`` prints. Unit (u, v) of the layer is centred at start + (u, v)·j, and its field covers

    rows  start_h + u·j_h − (r_h − 1)/2  …  start_h + u·j_h + (r_h − 1)/2      (and likewise for columns)

which may extend past the image (padding): ``clipped`` is the part on the image. For a unit whose rectangle
lies inside the image it is exactly the set of pixels that can change the unit; near the borders, pixels that
reach the unit only through the zero padding of an inner feature map (or that a floor in an output size
drops) lie in the rectangle but cannot change it.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .._suggest import did_you_mean
from ..nn import Module
from .receptive_field import as_numbers, call_fields
from .trace import trace

__all__ = ["FieldBox", "draw_box", "feature_map_fields", "parse_layer_unit", "receptive_box"]


@dataclass(frozen=True)
class FieldBox:
    """The receptive field of ``unit`` (row, col) of ``layer``: rows ``top``..``bottom`` and columns
    ``left``..``right`` of the input (inclusive; may lie outside it), ``size`` = r and ``jump`` = j per axis
    (from ``summary``), ``clipped`` = (top, left, bottom, right) inside the ``input_hw`` image."""

    layer: str
    unit: tuple
    top: int
    left: int
    bottom: int
    right: int
    size: tuple
    jump: tuple
    input_hw: tuple
    start: tuple = (0, 0)        # the centre of unit (0, 0), in input pixels (may be a half)
    map_hw: tuple = (1, 1)       # the layer's feature map size

    def at(self, unit) -> FieldBox:
        """The field of another unit (row, col) of the same layer (no forward pass)."""
        unit = tuple(int(u) for u in unit)
        ho, wo = self.map_hw
        if len(unit) != 2 or not (0 <= unit[0] < ho and 0 <= unit[1] < wo):
            raise ValueError(f"receptive_box: unit {unit} is outside {self.layer}'s {ho}×{wo} map (rows "
                             f"0–{ho - 1}, columns 0–{wo - 1})")
        r = [Fraction(v) for v in self.size]
        centre = [Fraction(self.start[i]) + unit[i] * Fraction(self.jump[i]) for i in (0, 1)]
        low = [int(np.floor(centre[i] - (r[i] - 1) / 2)) for i in (0, 1)]
        high = [int(np.ceil(centre[i] + (r[i] - 1) / 2)) for i in (0, 1)]
        return FieldBox(self.layer, unit, low[0], low[1], high[0], high[1], self.size, self.jump, self.input_hw,
                        self.start, self.map_hw)

    @property
    def clipped(self) -> tuple:
        h, w = self.input_hw
        return (max(self.top, 0), max(self.left, 0), min(self.bottom, h - 1), min(self.right, w - 1))


def feature_map_fields(model: Module, input_size) -> dict:
    """{name: (field, (H, W))} for every module call of ``model`` on one input of ``input_size`` (C, H, W)
    whose output is a feature map (N, C, H, W) that depends on the image, in call order (first call): the
    :class:`~cnnkit.insight.receptive_field.Field` that ``summary`` reports and the map's size."""
    dtype = next((p._data.dtype for p in model.parameters()), np.dtype(np.float32))
    t = trace(model, (1,) + tuple(int(v) for v in input_size), dtype)
    fields = call_fields(t)
    out = {}
    for call in t.calls:
        shape, field = call.out_shape, fields[id(call)]
        if (call.name and field is not None and call.name not in out and shape is not None and len(shape) == 4
                and not isinstance(shape[0], tuple)):
            out[call.name] = (field, (int(shape[2]), int(shape[3])))
    return out


def _names_text(names) -> str:
    names = list(names)
    return ", ".join(names[:40]) + (f", … ({len(names)} in all)" if len(names) > 40 else "")


def parse_layer_unit(text: str) -> tuple:
    """``"features.c3"`` -> ("features.c3", None); ``"features.c3:4,5"`` -> ("features.c3", (4, 5))."""
    name, colon, unit = str(text).partition(":")
    try:
        u = tuple(int(v) for v in unit.split(",")) if colon else None
    except ValueError:
        u = ()
    if not name or (u is not None and len(u) != 2):
        raise ValueError(f"parse_layer_unit: expected LAYER or LAYER:ROW,COL (e.g. features.c3:4,5), got {text!r}")
    return name, u


def receptive_box(model: Module, input_size, layer: str, unit=None) -> FieldBox:
    """The receptive field of ``unit`` (row, col; default the centre unit) of ``layer`` (a name as in
    ``summary`` / ``named_modules``) for inputs of ``input_size`` (C, H, W). Unknown layers, layers without a
    feature map and units outside the map are ValueErrors naming the valid choices."""
    maps = feature_map_fields(model, input_size)
    if layer not in maps:
        raise ValueError(f"receptive_box: no layer {layer!r} with a feature map in {type(model).__name__}"
                         f"{did_you_mean(layer, maps)}; valid layers: {_names_text(maps)}")
    field, (ho, wo) = maps[layer]
    if unit is None:
        unit = (ho // 2, wo // 2)
    box = FieldBox(layer, (0, 0), 0, 0, 0, 0, as_numbers((field.rh, field.rw)), as_numbers((field.jh, field.jw)),
                   tuple(int(v) for v in input_size[-2:]), as_numbers((field.sh, field.sw)), (ho, wo))
    return box.at(unit)


def draw_box(image, box: FieldBox, scale: int = 1) -> np.ndarray:
    """``image`` (H, W) or (H, W, 3) uint8, enlarged ``scale`` times, as RGB with ``box``'s clipped rectangle
    outlined in red and the unit's centre pixel marked."""
    from PIL import Image, ImageDraw

    rgb = np.asarray(image, dtype=np.uint8)
    rgb = np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb
    im = Image.fromarray(np.ascontiguousarray(rgb)).resize((rgb.shape[1] * scale, rgb.shape[0] * scale),
                                                           Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(im)
    top, left, bottom, right = box.clipped
    width = max(2, scale // 3)
    draw.rectangle([left * scale, top * scale, (right + 1) * scale - 1, (bottom + 1) * scale - 1],
                   outline=(255, 0, 0), width=width)
    cy, cx = (box.top + box.bottom) // 2, (box.left + box.right) // 2
    if 0 <= cy < box.input_hw[0] and 0 <= cx < box.input_hw[1]:
        draw.rectangle([cx * scale, cy * scale, (cx + 1) * scale - 1, (cy + 1) * scale - 1], fill=(255, 0, 0))
    return np.asarray(im)
