"""``receptive_field``: the rectangle of input pixels that one unit of a layer sees.

``ck.summary`` reports, per layer, the receptive field r and the jump j (cumulative stride) in input pixels.
Where the field sits also depends on the padding: the centre of unit 0 (``start``, in input pixel
coordinates, from 0 at the input) moves by each sliding window (kernel k, stride s, padding p, dilation d)
as

    start ← start + ((d·(k − 1) + 1 − 1)/2 − p)·j,        j ← j·s

(other layers leave it alone; where paths merge, the first path's start is taken; CNN branches are aligned
by design). Unit (u, v) of the layer is centred at start + (u, v)·j, and its field covers

    rows  start_h + u·j_h − (r_h − 1)/2  …  start_h + u·j_h + (r_h − 1)/2      (and likewise for columns)

which may extend past the image (padding): ``clipped`` is the part on the image. r and j are taken from
``summary``'s row, so the rectangle is the same receptive field the table prints. For a unit whose
rectangle lies inside the image it is exactly the set of pixels that can change the unit; near the
borders, pixels that reach the unit only through the zero padding of an inner feature map (or that a
floor in an output size drops) lie in the rectangle but cannot change it.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..nn import AvgPool2d, Conv2d, MaxPool2d, Module, TableConv2d
from ..tensor import Tensor, set_grad_enabled
from .summary import summary

__all__ = ["FieldBox", "draw_box", "parse_layer_unit", "receptive_field", "spatial_layers"]


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
            raise ValueError(f"receptive field: unit {unit} is outside {self.layer}'s {ho}×{wo} map (rows "
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


def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _window(m: Module):
    """(kernel, stride, padding before, dilation) per axis of a sliding-window layer, or None."""
    if isinstance(m, (Conv2d, TableConv2d)):
        k, s = m.kernel_size, m.stride
        d = getattr(m, "dilation", (1, 1))
        if m.padding == "valid":
            p = (0, 0)
        elif m.padding == "same":
            p = tuple(d[i] * (k[i] - 1) // 2 for i in (0, 1))
        else:
            p = _pair(m.padding)
        return k, s, p, d
    if isinstance(m, MaxPool2d):
        return _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation)
    if isinstance(m, AvgPool2d):
        return _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), (1, 1)
    return None


class _Starts:
    """Forward hooks that carry (start, jump) per tensor through the model (see the module docstring)."""

    def __init__(self, names):
        self.names = names
        self.table = {}            # id(tensor) -> (tensor, start, jump); holds the tensors alive
        self.by_name = {}

    def lookup(self, t):
        stack, seen = [t], set()
        while stack:
            u = stack.pop(0)
            if id(u) in self.table:
                return self.table[id(u)][1:]
            if id(u) in seen or u.creator is None or u.creator.inputs is None:
                continue
            seen.add(id(u))
            stack.extend(x for x in u.creator.inputs if isinstance(x, Tensor))
        return None

    def hook(self, module, args, out):
        if not args or not isinstance(args[0], Tensor) or not isinstance(out, Tensor):
            return
        known = self.lookup(args[0])
        if known is None:
            return
        start, jump = known
        if not any(True for _ in module.children()):
            geo = _window(module)
            if geo is not None:
                k, s, p, d = geo
                start = tuple(start[i] + (Fraction(d[i] * (k[i] - 1), 2) - p[i]) * jump[i] for i in (0, 1))
                jump = tuple(jump[i] * s[i] for i in (0, 1))
            self.table.setdefault(id(out), (out, start, jump))
        name = self.names.get(id(module))
        if name is not None:
            self.by_name.setdefault(name, self.lookup(out))


def _starts(model: Module, input_size) -> dict:
    names = {id(m): n for n, m in model.named_modules()}
    tracker = _Starts(names)
    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(tracker.hook) for m in model.modules()]
    try:
        model.eval()
        dtype = next((p.data.dtype for p in model.parameters()), np.dtype(np.float32))
        x = Tensor(np.zeros((1,) + tuple(input_size), dtype=dtype), requires_grad=True)
        zero = Fraction(0)
        tracker.table[id(x)] = (x, (zero, zero), (Fraction(1), Fraction(1)))
        with set_grad_enabled(True):
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    return tracker.by_name


def spatial_layers(model: Module, input_size) -> dict:
    """The rows of ``summary(model, input_size)`` whose output is a feature map (N, C, H, W), by name."""
    return {r.name: r for r in summary(model, tuple(input_size), depth=None).rows
            if r.name and r.output_shape and len(r.output_shape) == 4 and isinstance(r.output_shape[0], int)
            and r.receptive_field is not None}


def _names_text(names) -> str:
    names = list(names)
    return ", ".join(names[:40]) + (f", … ({len(names)} in all)" if len(names) > 40 else "")


def parse_layer_unit(text: str) -> tuple:
    """``"features.c3"`` -> ("features.c3", None); ``"features.c3:4,5"`` -> ("features.c3", (4, 5))."""
    name, _, unit = str(text).partition(":")
    if not unit:
        return name, None
    try:
        u = tuple(int(v) for v in unit.split(","))
    except ValueError:
        u = ()
    if len(u) != 2:
        raise ValueError(f"--receptive-field {text}: expected LAYER or LAYER:ROW,COL (e.g. features.c3:4,5)")
    return name, u


def receptive_field(model: Module, input_size, layer: str, unit=None) -> FieldBox:
    """The receptive field of ``unit`` (row, col; default the centre unit) of ``layer`` (a name as in
    ``summary`` / ``named_modules``) for inputs of ``input_size`` (C, H, W). Unknown layers, layers without a
    feature map and units outside the map are ValueErrors naming the valid choices."""
    rows = spatial_layers(model, input_size)
    if layer not in rows:
        raise ValueError(f"receptive field: no layer {layer!r} with a feature map in {type(model).__name__}; "
                         f"valid layers: {_names_text(rows)}")
    row = rows[layer]
    ho, wo = row.output_shape[-2:]
    if unit is None:
        unit = (ho // 2, wo // 2)
    starts = _starts(model, input_size)
    if starts.get(layer) is None:
        raise ValueError(f"receptive field: cannot place {layer}'s field on the input")
    start, _ = starts[layer]
    box = FieldBox(layer, (0, 0), 0, 0, 0, 0, row.receptive_field, row.jump,
                   tuple(int(v) for v in input_size[-2:]), start, (ho, wo))
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
