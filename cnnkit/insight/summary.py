"""``summary``: a torchinfo-style table of a network — shapes, parameters, multiply-adds, receptive fields.

    s = ck.summary(ck.models.vgg16(), (3, 224, 224))
    print(s)                                  # the table, with a footer of totals
    s.total_params, s.total_macs, s["features.28"].receptive_field

The model runs once (``trace.py``: in eval mode, on zeros of shape ``(batch_size, *input_size)``, with
hooks on every module); each module call becomes a row (in call order, nested names as in
``state_dict``: ``features.0``, ``layer1.0.conv1``). The model's training flags and its parameters'
``requires_grad`` are restored afterwards, and no parameter or buffer changes.

Parameters
    ``row.params`` counts the parameters registered on the module itself (not its children's), at its
    first call (a module called twice shows them once; a parameter shared by two modules is counted once).
    Rows deeper than ``depth`` are folded into their ancestor at depth ``depth``, which then shows the
    parameters and MACs of its hidden descendants too; so the rows always add up to the parameters of
    the modules that ran. ``total_params`` = Σ p.numel() over the model's distinct parameters, including
    modules that the forward pass did not call (e.g. auxiliary classifiers in eval mode; reported apart).

Multiply-adds (MACs), for the whole batch: conv and linear layers only, bias not counted, as torchvision's
published "GFLOPS" (the formula per layer type is in ``macs.py``).

Receptive field (RF) and jump (cumulative stride), in input pixels, per axis, largest over the paths where
branches merge (the algebra per layer is in ``receptive_field.py``).

Memory: the input; the activations, Σ bytes of the outputs of every call of a leaf module (what a
training step keeps for its backward pass, roughly); the parameters and the buffers (e.g. BN statistics).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .. import backend
from ..models.lenet import LeNet5
from ..nn import Conv2d, Module, TableConv2d
from ..ops import validate
from .macs import call_macs
from .receptive_field import as_numbers, call_fields
from .trace import trace

__all__ = ["LayerRow", "Summary", "default_input_size", "summary"]


# ===== the result ================================================================================

@dataclass
class LayerRow:
    """One row of the table: one call of one module.

    ``receptive_field`` and ``jump`` are (height, width) pairs in input pixels (None for a tensor that
    does not depend on the input's pixels); ``params`` and ``macs`` include folded descendants (see
    :func:`summary`).
    """

    name: str
    type: str
    depth: int
    input_shape: tuple | None
    output_shape: tuple | None
    params: int
    macs: int
    receptive_field: tuple | None
    jump: tuple | None
    leaf: bool


def _num(x) -> str:
    """An int as such, a fraction as a short decimal."""
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.4g}"


def _pair_text(p) -> str:
    if p is None:
        return "--"
    return _num(p[0]) if p[0] == p[1] else f"{_num(p[0])}×{_num(p[1])}"


def _shape_text(s) -> str:
    if s is None:
        return "--"
    if s and isinstance(s[0], tuple):
        return ", ".join(_shape_text(x) for x in s)
    return "[" + ", ".join(str(d) for d in s) + "]"


def _si(n: int) -> str:
    """15470264320 -> '15.47 G'."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def _mb(n: int) -> str:
    """Bytes in decimal units (as torchinfo): '553.43 MB', '3.14 KB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


class Summary:
    """What :func:`summary` returns: ``rows`` and the totals; ``str()`` is the table with its footer.

    Attributes: ``rows`` (list of :class:`LayerRow`), ``input_size`` (the full input shape),
    ``total_params``, ``trainable_params``, ``unused_params`` (in modules that forward did not call),
    ``total_macs`` (conv + linear, whole batch), ``input_bytes``, ``activation_bytes``, ``param_bytes``,
    ``buffer_bytes``, ``total_bytes``.
    """

    def __init__(self, model_name, rows, input_size, dtype, total_params, trainable_params, unused_params,
                 unused_names, total_macs, input_bytes, activation_bytes, param_bytes, buffer_bytes):
        self.model_name = model_name
        self.rows = rows
        self.input_size = input_size
        self.dtype = dtype
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.unused_params = unused_params
        self.unused_names = unused_names
        self.total_macs = total_macs
        self.input_bytes = input_bytes
        self.activation_bytes = activation_bytes
        self.param_bytes = param_bytes
        self.buffer_bytes = buffer_bytes

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.activation_bytes + self.param_bytes + self.buffer_bytes

    def __getitem__(self, name: str) -> LayerRow:
        """The (first) row of the module called ``name`` (``''`` is the model itself)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"summary of {self.model_name}: no row named '{name}' (rows deeper than the summary's "
                       f"depth are folded into their ancestors)")

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def table(self) -> str:
        header = ("Layer (type)", "Output shape", "Params", "MACs", "RF", "Jump")
        body = []
        for r in self.rows:
            label = r.type if r.name == "" else f"{'  ' * r.depth}{r.name} ({r.type})"
            body.append((label, _shape_text(r.output_shape), f"{r.params:,}" if r.params else "--",
                         f"{r.macs:,}" if r.macs else "--", _pair_text(r.receptive_field), _pair_text(r.jump)))
        widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

        def fmt(line):
            cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
            cells += [c.rjust(w) for c, w in zip(line[2:], widths[2:])]
            return "  ".join(cells).rstrip()

        rule_len = sum(widths) + 2 * (len(widths) - 1)
        lines = [fmt(header), "=" * rule_len] + [fmt(b) for b in body] + ["=" * rule_len]
        n = self.input_size[0] if self.input_size else 1
        lines += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
        ]
        if self.unused_params:
            lines.append(f"Params in modules forward did not call: {self.unused_params:,} "
                         f"({', '.join(self.unused_names[:6])}{', …' if len(self.unused_names) > 6 else ''})")
        lines += [
            f"Total MACs: {_si(self.total_macs)} ({self.total_macs:,}; conv + linear layers, batch of {n})",
            "-" * rule_len,
            f"Input size: {_mb(self.input_bytes)} ({_shape_text(self.input_size)}, {np.dtype(self.dtype).name})",
            f"Activations (outputs of the leaf layers): {_mb(self.activation_bytes)}",
            f"Params: {_mb(self.param_bytes)}; buffers: {_mb(self.buffer_bytes)}",
            f"Estimated total: {_mb(self.total_bytes)}",
            "RF: receptive field in input pixels (largest over the paths); Jump: cumulative stride.",
        ]
        return "\n".join(lines)

    __str__ = table

    def __repr__(self) -> str:
        return self.table()


# ===== the entry point ===========================================================================

def _check_args(model, input_size, batch_size, dtype, depth):
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a cnnkit Module, got {type(model).__name__}")
    if validate.is_int(input_size):
        input_size = (input_size,)
    if not isinstance(input_size, (tuple, list)) or not input_size:
        raise TypeError(f"summary: expected input_size to be a tuple of ints (one sample, without the batch "
                        f"dim, e.g. (3, 224, 224)), got {input_size!r}")
    for v in input_size:
        if not validate.is_int(v) or v < 1:
            raise ValueError(f"summary: expected input_size to hold positive ints, got {tuple(input_size)!r}")
    if not validate.is_int(batch_size) or batch_size < 1:
        raise ValueError(f"summary: expected batch_size to be a positive int, got {batch_size!r}")
    if depth is not None and (not validate.is_int(depth) or depth < 0):
        raise ValueError(f"summary: expected depth to be a non-negative int or None, got {depth!r}")
    try:
        d = backend.as_dtype(dtype)
    except (TypeError, ValueError):
        d = None
    if d is None or not backend.is_floating(d):
        raise TypeError(f"summary: expected a floating point dtype, got {dtype!r}")
    return (int(batch_size),) + tuple(int(v) for v in input_size), d


def summary(model: Module, input_size, batch_size: int = 1, dtype=backend.float32, depth: int | None = 3) -> Summary:
    """Run ``model`` once on zeros of shape ``(batch_size, *input_size)`` and tabulate its layers.

    ``input_size`` is the shape of one sample, without the batch dim (``(3, 224, 224)``); ``depth``
    is the deepest nesting level shown as a row (0 = the model itself, 1 = its children, ...; None =
    all), deeper calls are folded into their ancestor's row. See the module docstring for the counting
    conventions (MACs: conv + linear only, bias not counted; receptive fields along the widest path).
    """
    shape, d = _check_args(model, input_size, batch_size, dtype, depth)
    params = list(model.parameters())
    total_params = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    model_name = type(model).__name__
    try:
        t = trace(model, shape, d)
    except (ValueError, TypeError) as e:
        try:
            err = type(e)(f"summary: running {model_name} on an input of shape {shape} failed: {e}")
        except Exception:
            raise e from None
        raise err from e
    fields, macs = call_fields(t), call_macs(t)

    # parameters at a module's first call, activations: the outputs of leaf calls (each tensor once)
    own_params, seen_modules, seen_params = {}, set(), set()
    activation_bytes, activation_ids = 0, set()
    for call in t.finished:
        n = 0
        if id(call.module) not in seen_modules:
            seen_modules.add(id(call.module))
            for p in call.module._parameters.values():
                if p is not None and id(p) not in seen_params:
                    seen_params.add(id(p))
                    n += p.numel()
        own_params[id(call)] = n
        if call.leaf:
            for o in call.outs:
                if id(o) not in activation_ids:
                    activation_ids.add(id(o))
                    activation_bytes += o._data.nbytes

    rows, shown = [], {}
    for call in t.calls:
        if depth is not None and call.depth > depth:
            anc = call
            while anc.depth > depth:
                anc = anc.parent
            row = shown[id(anc)]
            row.params += own_params[id(call)]
            row.macs += macs[id(call)]
            continue
        f = fields[id(call)]
        row = LayerRow(call.name, type(call.module).__name__, call.depth, call.in_shape, call.out_shape,
                       own_params[id(call)], macs[id(call)], None if f is None else as_numbers((f.rh, f.rw)),
                       None if f is None else as_numbers((f.jh, f.jw)), call.leaf)
        shown[id(call)] = row
        rows.append(row)

    unused_params = sum(p.numel() for p in params if id(p) not in seen_params)
    unused_names = []     # the outermost modules that did not run and hold parameters that did not run either
    for name, m in model.named_modules():
        if id(m) in seen_modules or any(name.startswith(u + ".") for u in unused_names):
            continue
        if any(id(p) not in seen_params for p in m.parameters()):
            unused_names.append(name)
    return Summary(
        model_name, rows, shape, d, total_params, trainable, unused_params, unused_names,
        total_macs=sum(macs.values()),
        input_bytes=int(np.prod(shape)) * d.itemsize,
        activation_bytes=activation_bytes,
        param_bytes=sum(p._data.nbytes for p in params),
        buffer_bytes=sum(b._data.nbytes for b in model.buffers()),
    )


def default_input_size(model: Module) -> tuple:
    """A model's native input (C, H, W): C from its first convolution, H = W = ``model.native_size``
    (28 for LeNet-5); a ValueError names the model when there is no native size to use."""
    channels = next((m.in_channels for m in model.modules() if isinstance(m, (Conv2d, TableConv2d))), None)
    size = getattr(model, "native_size", None)
    if size is None and isinstance(model, LeNet5):
        size = 28
    if channels is None or size is None:
        raise ValueError(f"summary: {type(model).__name__} has no native input size; give one, e.g. "
                         f"--input 3,224,224")
    return (int(channels), int(size), int(size))
