"""``summary``: a torchinfo-style table of a network — shapes, parameters, multiply-adds, receptive fields.

    s = ck.summary(ck.models.vgg16(), (3, 224, 224))
    print(s)                                  # the table, with a footer of totals
    s.total_params, s.total_macs, s["features.28"].receptive_field

The model runs once, in eval mode, on zeros of shape ``(batch_size, *input_size)``, with a forward
pre-hook and a forward hook on every module; each module call becomes a row (in call order, nested names
as in ``state_dict``: ``features.0``, ``layer1.0.conv1``). The model's training flags and its parameters'
``requires_grad`` are restored afterwards, and no parameter or buffer changes.

Parameters
    ``row.params`` counts the parameters registered on the module itself (not its children's), at its
    first call (a module called twice shows them once; a parameter shared by two modules is counted once).
    Rows deeper than ``depth`` are folded into their ancestor at depth ``depth``, which then shows the
    parameters and MACs of its hidden descendants too; so the rows always add up to the parameters of
    the modules that ran. ``total_params`` = Σ p.numel() over the model's distinct parameters, including
    modules that the forward pass did not call (e.g. auxiliary classifiers in eval mode; reported apart).

Multiply-adds (MACs), for the whole batch (one MAC = one multiplication and one addition):
    Conv2d           N·C_out·H_out·W_out · (C_in/groups)·kH·kW
    ConvTranspose2d  N·C_in·H_in·W_in · (C_out/groups)·kH·kW      (each input pixel spreads one kernel)
    TableConv2d      N·H_out·W_out · connections·kH·kW          (only the connected kernels)
    Linear           (output elements) · in_features
    bias additions, batch norm, activations, pooling, LRN, softmax and shortcut additions: not counted.
This is the fvcore/torchvision convention: torchvision's published "GFLOPS" are exactly these MACs
(conv and linear layers only). Functional convolutions and linear maps called directly inside a
``forward`` (``F.conv2d``, ``F.linear``, ``matmul``) are counted by the same rules and attributed to the
module whose ``forward`` called them.

Receptive field (RF) and jump (cumulative stride), in input pixels, per axis, from r = j = 1 at the input:
    convolution, pooling window (kernel k, stride s, dilation d):   r ← r + (k − 1)·d·j,   j ← j·s
    transposed convolution:     r ← r + (⌈(d·(k − 1) + 1)/s⌉ − 1)·j,   j ← j/s
    adaptive pooling H → n:     k = the largest window, s = H/n (exact when n divides H)
    global average pooling and a fully connected layer on a flattened H×W map (a convolution whose kernel
    is the whole map):          r ← r + (H − 1)·j
    everything else (activations, BN, LRN, dropout, +, cat, reshape/flatten): r and j unchanged.
Where paths branch and merge (Inception's concatenated branches, ResNet's shortcuts, DenseNet's
concatenations) a tensor's RF is the largest over the paths that lead to it (per axis), i.e. the extent
of the input region that can influence one of its pixels; RFs are not clipped to the image. To follow
operations that are not modules (``ck.cat``, ``+``, ``flatten``, ``F.max_pool2d`` inside a forward),
the pass records the autograd graph (the input requires grad, the parameters are frozen for the pass):
every tensor knows the function that made it and that function's inputs. Unknown spatial operations
(slicing with a step, interpolation) count as the identity.

Memory: the input; the activations, Σ bytes of the outputs of every call of a leaf module (what a
training step keeps for its backward pass, roughly); the parameters and the buffers (e.g. BN statistics).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .. import backend
from ..models.lenet import LeNet5
from ..nn import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, Conv2d, ConvTranspose2d, Linear, LPPool2d,
                  MaxPool2d, Module, TableConv2d)
from ..ops import adaptive_pool
from ..ops import conv as conv_ops
from ..ops import linalg
from ..ops import pool as pool_ops
from ..tensor import Tensor, set_grad_enabled

__all__ = ["LayerRow", "Summary", "default_input_size", "summary"]


# ===== receptive fields ==========================================================================

@dataclass(frozen=True)
class _Field:
    """Receptive field (rh, rw) and jump (jh, jw) of a tensor, and the size (h, w) of its last feature map."""

    rh: Fraction
    rw: Fraction
    jh: Fraction
    jw: Fraction
    h: int
    w: int

    def window(self, k, s, d, out_hw) -> "_Field":
        """After a sliding window: r ← r + (k − 1)·d·j, j ← j·s (per axis)."""
        h, w = out_hw or (self.h, self.w)
        return _Field(self.rh + (k[0] - 1) * d[0] * self.jh, self.rw + (k[1] - 1) * d[1] * self.jw,
                      self.jh * s[0], self.jw * s[1], h, w)

    def transposed(self, k, s, d, out_hw) -> "_Field":
        """After a transposed convolution: an output pixel sees ⌈(d·(k − 1) + 1)/s⌉ input pixels per axis."""
        reach = [-(-(d[i] * (k[i] - 1) + 1) // s[i]) for i in (0, 1)]
        return _Field(self.rh + (reach[0] - 1) * self.jh, self.rw + (reach[1] - 1) * self.jw,
                      self.jh / s[0], self.jw / s[1], *(out_hw or (self.h, self.w)))

    def whole_map(self, axes=(0, 1)) -> "_Field":
        """A layer that sees the whole h×w map (fully connected, global pooling): r ← r + (h − 1)·j."""
        kh = self.h if 0 in axes else 1
        kw = self.w if 1 in axes else 1
        return self.window((kh, kw), (kh, kw), (1, 1), (self.h // kh, self.w // kw))


def _combine(fields, out_shape) -> _Field | None:
    """The field of a tensor computed from tensors with ``fields``: the largest over the paths, per axis."""
    fields = [f for f in fields if f is not None]
    if not fields:
        return None
    widest = max(fields, key=lambda f: (f.rh * f.rw, f.rh))
    h, w = (out_shape[-2], out_shape[-1]) if len(out_shape) >= 3 else (widest.h, widest.w)
    return _Field(max(f.rh for f in fields), max(f.rw for f in fields), max(f.jh for f in fields),
                  max(f.jw for f in fields), h, w)


def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _spatial(shape) -> tuple | None:
    return (int(shape[-2]), int(shape[-1])) if len(shape) >= 3 else None


def _adaptive(field: _Field, in_shape, out_shape) -> _Field:
    """Adaptive pooling H → n: the largest window ⌈(i+1)H/n⌉ − ⌊iH/n⌋ as kernel, H/n as stride."""
    k, s = [], []
    for H, n in zip(in_shape[-2:], out_shape[-2:]):
        H, n = int(H), max(int(n), 1)
        i = np.arange(n)
        k.append(int((-((-(i + 1) * H) // n) - (i * H) // n).max()))
        s.append(Fraction(H, n))
    return field.window(k, s, (1, 1), _spatial(out_shape))


def _fully_connected(field: _Field, in_shape) -> _Field:
    """A linear map over the last dim: on a flattened map it sees the whole map; on an (N, C, H, W) tensor, W."""
    return field.whole_map((1,) if len(in_shape) >= 3 else (0, 1))


def _module_field(m: Module, field: _Field, in_shape, out_shape):
    """The field after a known leaf module, from its public attributes; None for modules not listed here."""
    out_hw = _spatial(out_shape)
    if isinstance(m, Conv2d):
        return field.window(m.kernel_size, m.stride, m.dilation, out_hw)
    if isinstance(m, TableConv2d):
        return field.window(m.kernel_size, m.stride, (1, 1), out_hw)
    if isinstance(m, ConvTranspose2d):
        return field.transposed(m.kernel_size, m.stride, m.dilation, out_hw)
    if isinstance(m, MaxPool2d):
        return field.window(_pair(m.kernel_size), _pair(m.stride), _pair(m.dilation), out_hw)
    if isinstance(m, AvgPool2d):
        return field.window(_pair(m.kernel_size), _pair(m.stride), (1, 1), out_hw)
    if isinstance(m, LPPool2d):
        k = _pair(m.kernel_size)
        return field.window(k, k if m.stride is None else _pair(m.stride), (1, 1), out_hw)
    if isinstance(m, (AdaptiveAvgPool2d, AdaptiveMaxPool2d)):
        return _adaptive(field, in_shape, out_shape)
    if isinstance(m, Linear):
        return _fully_connected(field, in_shape)
    return None


def _function_field(f, field: _Field, out_shape) -> _Field:
    """The field after an autograd Function (an op called outside a known leaf module)."""
    out_hw = _spatial(out_shape)
    in_shape = f.inputs[0].shape
    try:
        if isinstance(f, conv_ops.Convolution):
            g = f.geometry
            return field.window(g.kernel, g.stride, g.dilation, out_hw)
        if isinstance(f, conv_ops.TransposedConvolution):
            g = f.geometry
            return field.transposed(g.kernel, g.stride, g.dilation, out_hw)
        if isinstance(f, (pool_ops.MaxPool2d, pool_ops.AvgPool2d, pool_ops.LPPool2d)):
            p = f.plan
            return field.window(p.k, p.s, p.d, out_hw)
        if isinstance(f, (adaptive_pool.GlobalAvgPool2d, adaptive_pool.AdaptiveAvgPool2d,
                          adaptive_pool.AdaptiveMaxPool2d)):
            return _adaptive(field, in_shape, out_shape)
        if isinstance(f, linalg.Linear):
            return _fully_connected(field, in_shape)
    except AttributeError:  # an op whose internals changed: fall back to the identity
        pass
    return field


# ===== multiply-adds =============================================================================

def _module_macs(m: Module, in_shape, out_shape):
    """MACs of one call of a known leaf module (see the module docstring); None for other modules."""
    out_n = math.prod(out_shape)
    if isinstance(m, Conv2d):
        return out_n * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, ConvTranspose2d):
        return math.prod(in_shape) * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, TableConv2d):
        return out_n // m.out_channels * m.connections * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, Linear):
        return out_n * m.in_features
    return None


def _function_macs(f) -> int:
    """MACs of an autograd Function: convolutions, linear maps and matrix products; 0 for the rest."""
    try:
        out_n = math.prod(f._out_meta[0][0])
        if isinstance(f, conv_ops.Convolution):
            return out_n * math.prod(f.inputs[1].shape[1:])
        if isinstance(f, conv_ops.TransposedConvolution):
            return math.prod(f.inputs[0].shape) * math.prod(f.inputs[1].shape[1:])
        if isinstance(f, (linalg.Linear, linalg.MatMul)):
            return out_n * f.inputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError):
        pass
    return 0


# ===== the trace =================================================================================

def _tensors(obj) -> list:
    """The tensors in a module's output (a tensor, or tuples/lists/dicts of them, e.g. aux outputs)."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _shape_of(ts) -> tuple | None:
    if not ts:
        return None
    return tuple(ts[0].shape) if len(ts) == 1 else tuple(tuple(t.shape) for t in ts)


class _Call:
    """One call of one module during the traced forward pass."""

    __slots__ = ("module", "name", "index", "depth", "parent", "in_shape", "args", "out_shape", "params", "macs",
                 "field", "leaf")

    def __init__(self, module, name, index, depth, parent, args):
        self.module, self.name, self.index, self.depth, self.parent = module, name, index, depth, parent
        self.args = args
        self.in_shape = _shape_of(args)
        self.out_shape, self.params, self.macs, self.field = None, 0, 0, None
        self.leaf = not any(c is not None for c in module._modules.values())


class _Tracer:
    """Forward hooks that record a row per module call, its MACs and the receptive fields of the tensors."""

    def __init__(self, names: dict):
        self.names = names
        self.calls: list[_Call] = []
        self.stack: list[_Call] = []
        self.fields: dict = {}          # id(tensor) -> (tensor, field or None); holds the tensors alive
        self.outputs: dict = {}         # id(tensor) -> (tensor, the outermost call that returned it)
        self.counted: set = set()       # ids of Functions whose MACs are attributed already
        self.seen_modules: set = set()
        self.seen_params: set = set()
        self.activation_bytes = 0
        self._activation_ids: set = set()

    def start(self, x: Tensor) -> None:
        hw = _spatial(x.shape)
        one = Fraction(1)
        self.fields[id(x)] = (x, _Field(one, one, one, one, *hw) if hw else None)

    # --- the receptive field of any tensor, through the autograd graph ---
    def field(self, t: Tensor):
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
            combined = _combine([self.fields[id(x)][1] for x in f.inputs], u.shape)
            self.fields[id(u)] = (u, None if combined is None else _function_field(f, combined, u.shape))
        return self.fields[id(t)][1]

    def _functional_macs(self, call: "_Call", outs) -> int:
        """MACs of the functions that ``call``'s forward ran itself: walk the graph back from its outputs to
        its inputs, hopping over the calls made inside it (their functions are theirs)."""
        seen = {id(a) for a in call.args}
        total, stack = 0, list(outs)
        while stack:
            t = stack.pop()
            if id(t) in seen:
                continue
            seen.add(id(t))
            if id(t) in self.outputs:
                inner = self.outputs[id(t)][1]
                if inner.index > call.index:          # a call made inside this one: continue from its inputs
                    stack.extend(inner.args)
                continue                              # else an earlier module's output: not ours
            f = t.creator
            if f is None or f.inputs is None or id(f) in self.counted:
                continue
            self.counted.add(id(f))
            total += _function_macs(f)
            stack.extend(f.inputs)
        return total

    # --- hooks ---
    def pre_hook(self, module, args):
        parent = self.stack[-1] if self.stack else None
        call = _Call(module, self.names.get(id(module), type(module).__name__), len(self.calls), len(self.stack),
                     parent, _tensors(args))
        self.calls.append(call)
        self.stack.append(call)

    def hook(self, module, args, out):
        call = self.stack.pop()
        outs = _tensors(out)
        call.out_shape = _shape_of(outs)
        if id(module) not in self.seen_modules:
            self.seen_modules.add(id(module))
            for p in module._parameters.values():
                if p is not None and id(p) not in self.seen_params:
                    self.seen_params.add(id(p))
                    call.params += p.numel()
        ins = call.args
        in_shape = tuple(ins[0].shape) if ins else ()
        macs = _module_macs(module, in_shape, tuple(outs[0].shape)) if call.leaf and outs else None
        field = None
        if call.leaf and outs and ins:
            field = _combine([self.field(a) for a in ins], outs[0].shape)
            field = None if field is None else _module_field(module, field, in_shape, outs[0].shape)
        if field is not None:
            for t in outs:
                self.fields.setdefault(id(t), (t, field))
        call.macs = macs if macs is not None else self._functional_macs(call, outs)
        if outs:
            call.field = self.field(outs[0])
        for t in outs:
            self.outputs[id(t)] = (t, call)
        if call.leaf:
            for t in outs:
                if id(t) not in self._activation_ids:
                    self._activation_ids.add(id(t))
                    self.activation_bytes += t.data.nbytes


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
    if isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool):
        input_size = (input_size,)
    if not isinstance(input_size, (tuple, list)) or not input_size:
        raise TypeError(f"summary: expected input_size to be a tuple of ints (one sample, without the batch "
                        f"dim, e.g. (3, 224, 224)), got {input_size!r}")
    for v in input_size:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"summary: expected input_size to hold positive ints, got {tuple(input_size)!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"summary: expected batch_size to be a positive int, got {batch_size!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0):
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
    names = {}
    for name, m in model.named_modules():
        names.setdefault(id(m), name)
    params = list(model.parameters())
    total_params = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in params]
    tracer = _Tracer(names)
    handles = []
    model_name = type(model).__name__
    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(tracer.pre_hook))
            handles.append(m.register_forward_hook(tracer.hook))
        model.eval()
        for p in params:
            p.requires_grad = False
        x = Tensor(np.zeros(shape, d), requires_grad=True)
        tracer.start(x)
        with set_grad_enabled(True):
            try:
                model(x)
            except (ValueError, TypeError) as e:
                try:
                    err = type(e)(f"summary: running {model_name} on an input of shape {shape} failed: {e}")
                except Exception:
                    raise e from None
                raise err from e
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad = flag

    rows, shown = [], {}
    for call in tracer.calls:
        if depth is not None and call.depth > depth:
            anc = call
            while anc.depth > depth:
                anc = anc.parent
            row = shown[id(anc)]
            row.params += call.params
            row.macs += call.macs
            continue
        f = call.field
        row = LayerRow(call.name, type(call.module).__name__, call.depth, call.in_shape, call.out_shape,
                       call.params, call.macs, None if f is None else (f.rh, f.rw),
                       None if f is None else (f.jh, f.jw), call.leaf)
        for attr in ("receptive_field", "jump"):
            v = getattr(row, attr)
            if v is not None:
                setattr(row, attr, tuple(int(a) if Fraction(a).denominator == 1 else a for a in v))
        shown[id(call)] = row
        rows.append(row)

    called = tracer.seen_modules
    unused_params = sum(p.numel() for p in params if id(p) not in tracer.seen_params)
    unused_names = []     # the outermost modules that did not run and hold parameters that did not run either
    for name, m in model.named_modules():
        if id(m) in called or any(name.startswith(u + ".") for u in unused_names):
            continue
        if any(id(p) not in tracer.seen_params for p in m.parameters()):
            unused_names.append(name)
    return Summary(
        model_name, rows, shape, d, total_params, trainable, unused_params, unused_names,
        total_macs=sum(c.macs for c in tracer.calls),
        input_bytes=int(np.prod(shape)) * d.itemsize,
        activation_bytes=tracer.activation_bytes,
        param_bytes=sum(p.data.nbytes for p in params),
        buffer_bytes=sum(b.data.nbytes for b in model.buffers()),
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
