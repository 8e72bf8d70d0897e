"""Receptive field, jump and start of every layer: which input pixels one output pixel can see.

Per axis, in input pixels, starting from r = 1, j = 1, start = 0 at the input (pixel centres at 0, 1, ...):

    r     receptive field: the extent of the input region that can influence one output pixel
    j     jump: the distance, in input pixels, between the receptive fields of two neighbouring outputs
    start the centre of the receptive field of output pixel 0 (negative where padding is seen)

A layer with kernel k, stride s, dilation d and (leading) padding p maps them as

    convolution, pooling window:  r ← r + (k − 1)·d·j      j ← j·s      start ← start + ((k − 1)·d/2 − p)·j
    transposed convolution:       r ← r + (⌈(d·(k − 1) + 1)/s⌉ − 1)·j   j ← j/s
                                  start ← start + (p − (k − 1)·d/2)/s · j
    adaptive pooling H → n:       k = the largest window ⌈(i+1)H/n⌉ − ⌊iH/n⌋, s = H/n (exact when n divides H),
                                  start from the first window [0, ⌈H/n⌉)
    global average pooling and a fully connected layer on a flattened H×W map (a convolution whose kernel
    is the whole map):            r ← r + (H − 1)·j      start ← start + (H − 1)/2·j
    everything else (activations, BN, LRN, dropout, +, cat, reshape/flatten): unchanged.

Where paths branch and merge (Inception's concatenated branches, ResNet's shortcuts, DenseNet's
concatenations) a tensor's r and j are the largest over the paths that lead to it (per axis), and its
start that of the path with the largest r; fields are not clipped to the image. Operations that are not
modules (``ck.cat``, ``+``, ``flatten``, ``F.max_pool2d`` inside a forward) are followed through the
autograd graph that the traced pass records (see ``trace.py``); unknown spatial operations (slicing with a
step, interpolation) count as the identity.

    for layer in receptive_fields(model, (3, 224, 224)):
        print(layer.name, layer.receptive_field, layer.jump, layer.start)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .. import backend
from ..nn import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    Conv2d,
    ConvTranspose2d,
    Linear,
    LPPool2d,
    MaxPool2d,
    Module,
    TableConv2d,
)
from ..ops import adaptive_pool, linalg, validate
from ..ops import conv as conv_ops
from ..ops import pool as pool_ops
from .trace import trace

__all__ = ["Field", "FieldTracker", "LayerField", "call_fields", "combine", "function_field", "input_field",
           "module_field", "receptive_fields"]

_ZERO = Fraction(0)


@dataclass(frozen=True)
class Field:
    """Receptive field (rh, rw), jump (jh, jw) and start (sh, sw) of a tensor, and the size (h, w) of its
    last feature map; all in input pixels, as Fractions (a transposed convolution or adaptive pooling can
    make them fractional)."""

    rh: Fraction
    rw: Fraction
    jh: Fraction
    jw: Fraction
    h: int
    w: int
    sh: Fraction = _ZERO
    sw: Fraction = _ZERO

    def window(self, k, s, d, out_hw, p=(0, 0)) -> Field:
        """After a sliding window: r ← r + (k − 1)·d·j, j ← j·s, start ← start + ((k − 1)·d/2 − p)·j (per axis)."""
        h, w = out_hw or (self.h, self.w)
        return Field(self.rh + (k[0] - 1) * d[0] * self.jh, self.rw + (k[1] - 1) * d[1] * self.jw,
                     self.jh * s[0], self.jw * s[1], h, w,
                     self.sh + (Fraction((k[0] - 1) * d[0], 2) - p[0]) * self.jh,
                     self.sw + (Fraction((k[1] - 1) * d[1], 2) - p[1]) * self.jw)

    def transposed(self, k, s, d, out_hw, p=(0, 0)) -> Field:
        """After a transposed convolution: an output pixel sees ⌈(d·(k − 1) + 1)/s⌉ input pixels per axis,
        centred (p − (k − 1)·d/2)/s input pixels from the first."""
        reach = [-(-(d[i] * (k[i] - 1) + 1) // s[i]) for i in (0, 1)]
        shift = [(p[i] - Fraction((k[i] - 1) * d[i], 2)) / s[i] for i in (0, 1)]
        return Field(self.rh + (reach[0] - 1) * self.jh, self.rw + (reach[1] - 1) * self.jw,
                     self.jh / s[0], self.jw / s[1], *(out_hw or (self.h, self.w)),
                     self.sh + shift[0] * self.jh, self.sw + shift[1] * self.jw)

    def whole_map(self, axes=(0, 1)) -> Field:
        """A layer that sees the whole h×w map (fully connected, global pooling): r ← r + (h − 1)·j."""
        kh = self.h if 0 in axes else 1
        kw = self.w if 1 in axes else 1
        return self.window((kh, kw), (kh, kw), (1, 1), (self.h // kh, self.w // kw))


def input_field(h: int, w: int) -> Field:
    """The field of the input itself: r = j = 1, start = 0 on an h×w map."""
    one = Fraction(1)
    return Field(one, one, one, one, h, w)


def combine(fields, out_shape) -> Field | None:
    """The field of a tensor computed from tensors with ``fields``: the largest over the paths, per axis
    (start from the path with the largest r on that axis); None if no input depends on the image."""
    fields = [f for f in fields if f is not None]
    if not fields:
        return None
    widest = max(fields, key=lambda f: (f.rh * f.rw, f.rh))
    h, w = (out_shape[-2], out_shape[-1]) if len(out_shape) >= 3 else (widest.h, widest.w)
    return Field(max(f.rh for f in fields), max(f.rw for f in fields), max(f.jh for f in fields),
                 max(f.jw for f in fields), h, w, max(fields, key=lambda f: f.rh).sh,
                 max(fields, key=lambda f: f.rw).sw)


def _hw(m: Module, attr: str) -> tuple:
    """A layer's int-or-pair attribute (pooling keeps them as given, as PyTorch does) as (h, w)."""
    return validate.pair(getattr(m, attr), attr, type(m).__name__, minimum=0)


def _spatial(shape) -> tuple | None:
    return (int(shape[-2]), int(shape[-1])) if len(shape) >= 3 else None


def _leading_pad(m, k, d) -> tuple:
    """The padding before the first row/column of a layer: its ``padding`` pair, or for the string forms
    'valid' none and 'same' ⌊d·(k − 1)/2⌋ (the smaller half)."""
    p = getattr(m, "padding", 0)
    if isinstance(p, str):
        return tuple(d[i] * (k[i] - 1) // 2 for i in (0, 1)) if p == "same" else (0, 0)
    return _hw(m, "padding")


def _adaptive(field: Field, in_shape, out_shape) -> Field:
    """Adaptive pooling H → n: the largest window ⌈(i+1)H/n⌉ − ⌊iH/n⌋ as kernel, H/n as stride; the start
    is the centre of the first window [0, ⌈H/n⌉)."""
    k, s, first = [], [], []
    for H, n in zip(in_shape[-2:], out_shape[-2:]):
        H, n = int(H), max(int(n), 1)
        i = np.arange(n)
        k.append(int((-((-(i + 1) * H) // n) - (i * H) // n).max()))
        s.append(Fraction(H, n))
        first.append(-(-H // n))
    after = field.window(k, s, (1, 1), _spatial(out_shape))
    return replace(after, sh=field.sh + Fraction(first[0] - 1, 2) * field.jh,
                   sw=field.sw + Fraction(first[1] - 1, 2) * field.jw)


def _fully_connected(field: Field, in_shape) -> Field:
    """A linear map over the last dim: on a flattened map it sees the whole map; on an (N, C, H, W) tensor, W."""
    return field.whole_map((1,) if len(in_shape) >= 3 else (0, 1))


def module_field(m: Module, field: Field, in_shape, out_shape) -> Field | None:
    """The field after a known leaf module, from its public attributes; None for modules not listed here."""
    out_hw = _spatial(out_shape)
    if isinstance(m, Conv2d):
        return field.window(m.kernel_size, m.stride, m.dilation, out_hw,
                            _leading_pad(m, m.kernel_size, m.dilation))
    if isinstance(m, TableConv2d):
        return field.window(m.kernel_size, m.stride, (1, 1), out_hw, _leading_pad(m, m.kernel_size, (1, 1)))
    if isinstance(m, ConvTranspose2d):
        return field.transposed(m.kernel_size, m.stride, m.dilation, out_hw,
                                _leading_pad(m, m.kernel_size, m.dilation))
    if isinstance(m, MaxPool2d):
        k, d = _hw(m, "kernel_size"), _hw(m, "dilation")
        return field.window(k, _hw(m, "stride"), d, out_hw, _leading_pad(m, k, d))
    if isinstance(m, AvgPool2d):
        k = _hw(m, "kernel_size")
        return field.window(k, _hw(m, "stride"), (1, 1), out_hw, _leading_pad(m, k, (1, 1)))
    if isinstance(m, LPPool2d):
        k = _hw(m, "kernel_size")
        return field.window(k, k if m.stride is None else _hw(m, "stride"), (1, 1), out_hw)
    if isinstance(m, (AdaptiveAvgPool2d, AdaptiveMaxPool2d)):
        return _adaptive(field, in_shape, out_shape)
    if isinstance(m, Linear):
        return _fully_connected(field, in_shape)
    return None


def function_field(f, field: Field, out_shape) -> Field:
    """The field after an autograd Function (an op called outside a known leaf module); unknown: unchanged."""
    out_hw = _spatial(out_shape)
    in_shape = f.inputs[0].shape
    try:
        if isinstance(f, conv_ops.Convolution):
            g = f.geometry
            pad = getattr(g, "pad", (0, 0, 0, 0))
            return field.window(g.kernel, g.stride, g.dilation, out_hw, (pad[0], pad[2]))
        if isinstance(f, conv_ops.TransposedConvolution):
            g = f.geometry
            pad = getattr(g, "pad", (0, 0, 0, 0))
            return field.transposed(g.kernel, g.stride, g.dilation, out_hw, (pad[0], pad[2]))
        if isinstance(f, (pool_ops.MaxPool2d, pool_ops.AvgPool2d, pool_ops.LPPool2d)):
            p = f.plan
            return field.window(p.k, p.s, p.d, out_hw, getattr(p, "p", (0, 0)))
        if isinstance(f, (adaptive_pool.GlobalAvgPool2d, adaptive_pool.AdaptiveAvgPool2d,
                          adaptive_pool.AdaptiveMaxPool2d)):
            return _adaptive(field, in_shape, out_shape)
        if isinstance(f, linalg.Linear):
            return _fully_connected(field, in_shape)
    except AttributeError:  # an op whose internals changed: fall back to the identity
        pass
    return field


class FieldTracker:
    """The field of any tensor of a traced pass, found through the autograd graph and remembered."""

    def __init__(self, x):
        hw = _spatial(x.shape)
        self.fields: dict = {id(x): (x, input_field(*hw) if hw else None)}  # id -> (tensor kept alive, field)

    def set(self, t, field: Field) -> None:
        """Give ``t`` a field (a leaf module's output), unless it has one already."""
        self.fields.setdefault(id(t), (t, field))

    def field(self, t) -> Field | None:
        if id(t) in self.fields:
            return self.fields[id(t)][1]
        stack = [t]
        while stack:
            u = stack[-1]
            if id(u) in self.fields:
                stack.pop()
                continue
            f = u.creator
            if f is None or f.inputs is None:
                self.fields[id(u)] = (u, None)
                stack.pop()
                continue
            pending = [x for x in f.inputs if id(x) not in self.fields]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            combined = combine([self.fields[id(x)][1] for x in f.inputs], u.shape)
            self.fields[id(u)] = (u, None if combined is None else function_field(f, combined, u.shape))
        return self.fields[id(t)][1]


def call_fields(t) -> dict:
    """The field of the (first) output of every call of a :class:`~cnnkit.insight.trace.Trace`, by ``id(call)``:
    leaf modules map their inputs' field by :func:`module_field`, everything else through the graph."""
    tracker = FieldTracker(t.input)
    out = {}
    for call in t.finished:
        ins, outs = call.args, call.outs
        if call.leaf and outs and ins:
            field = combine([tracker.field(a) for a in ins], outs[0].shape)
            field = None if field is None else module_field(call.module, field, tuple(ins[0].shape),
                                                            outs[0].shape)
            if field is not None:
                for o in outs:
                    tracker.set(o, field)
        out[id(call)] = tracker.field(outs[0]) if outs else None
    return out


def as_numbers(pair) -> tuple | None:
    """A (height, width) pair of Fractions as ints where they are whole."""
    if pair is None:
        return None
    return tuple(int(a) if Fraction(a).denominator == 1 else a for a in pair)


class LayerField(NamedTuple):
    """One leaf-module call: its name and type, and its output's (height, width) receptive field, jump and
    start in input pixels (None where the output does not depend on the input's pixels)."""

    name: str
    type: str
    receptive_field: tuple | None
    jump: tuple | None
    start: tuple | None


def receptive_fields(model: Module, input_size, dtype=backend.float32) -> list[LayerField]:
    """Receptive field, jump and start after every leaf-module call of ``model`` on one input of
    ``input_size`` (one sample without the batch dim, e.g. ``(3, 224, 224)``), in call order."""
    if not isinstance(model, Module):
        raise TypeError(f"receptive_fields: expected a cnnkit Module, got {type(model).__name__}")
    if (not isinstance(input_size, (tuple, list)) or len(input_size) < 2
            or any(not validate.is_int(v) or v < 1 for v in input_size)):
        raise ValueError(f"receptive_fields: expected input_size to be a tuple of positive ints with H and W last "
                         f"(one sample, e.g. (3, 224, 224)), got {input_size!r}")
    t = trace(model, (1,) + tuple(int(v) for v in input_size), backend.as_dtype(dtype))
    fields = call_fields(t)
    layers = []
    for call in t.calls:
        if call.leaf:
            f = fields[id(call)]
            layers.append(LayerField(call.name, type(call.module).__name__,
                                     None if f is None else as_numbers((f.rh, f.rw)),
                                     None if f is None else as_numbers((f.jh, f.jw)),
                                     None if f is None else as_numbers((f.sh, f.sw))))
    return layers
