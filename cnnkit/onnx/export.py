"""``ck.onnx.export``: a model as an ONNX file that onnxruntime (and every other inference runtime) reads.

    model = ck.models.resnet18(); model.load_state_dict(ck.load("resnet18.safetensors"))
    ck.onnx.export(model, ck.randn(1, 3, 224, 224), "resnet18.onnx")      # input "input", output "output"

The model is traced once in evaluation mode (``trace.py``); each recorded op becomes ONNX nodes
(``layers.py``, ``basic.py``); parameters and buffers become initializers under their state-dict
names. Ops whose inputs are all constants (LeNet-5's connection-table weight, built from its connected
kernels) are evaluated at export time and stored as constants. With ``dynamic_batch`` the first dim of
the input and output is the symbolic ``batch``. The result passes ``onnx.checker.check_model`` and is
written atomically. Needs the optional packages ``onnx`` (and ``onnxruntime`` to run it):
``pip install 'cnnkit[onnx]'``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_output
from ..tensor import Tensor
from . import basic, layers
from .graph import ExportError, GraphBuilder, Op
from .trace import trace

CONVERTERS = {**layers.CONVERTERS, **basic.CONVERTERS}


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("onnx.export: the 'onnx' package is not installed; pip install 'cnnkit[onnx]'") from None
    return onnx


def _array_names(model) -> dict:
    """id(tensor) and id(array) -> state-dict name, for parameters and buffers."""
    names = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        names.setdefault(id(t), name)
        names.setdefault(id(t.data), name)
    return names


class _Values:
    """ONNX names and trace-time facts of the traced tensors (keyed by creator and output index).

    A tensor that does not depend on the input is a constant; it becomes an initializer only when a
    node reads it (a constant that only feeds an evaluated op is not written)."""

    def __init__(self, g: GraphBuilder, known: dict):
        self.g, self.known = g, known
        self.names: dict = {}        # key -> ONNX name
        self.consts: dict = {}       # key -> (value, name hint), for tensors that do not depend on the input
        self._keep: list = []        # keeps leaf tensors alive, so that their ids stay unique

    @staticmethod
    def key(t: Tensor):
        return ("fn", id(t.creator), t._output_index) if t.creator is not None else ("leaf", id(t))

    def is_const(self, t: Tensor) -> bool:
        k = self.key(t)
        if k in self.consts:
            return True
        if t.creator is None and k not in self.names:   # a leaf other than the input
            self._keep.append(t)
            self.consts[k] = (t.data, self.known.get(id(t)) or self.known.get(id(t.data)))
            return True
        return False

    def name_of(self, t: Tensor, layer_hint: str) -> str:
        k = self.key(t)
        if k not in self.names:
            if not self.is_const(t):   # produced by an op that was not traced: cannot happen for a walked graph
                raise ExportError(f"onnx.export: a tensor of {layer_hint} comes from an untraced op")
            value, hint = self.consts[k]
            self.names[k] = self.g.initializer(value, hint or f"{layer_hint}.constant")
        return self.names[k]


def _label(name: str) -> str:
    """A layer description -> a short prefix for value names ('features.3' (Conv2d) -> features.3)."""
    return name.split("'")[1] if name.count("'") >= 2 else name.split(" ")[0]


def _fold(fn, arrays):
    ys = fn.forward(*arrays)
    return list(ys) if isinstance(ys, tuple) else [ys]


def export(model, example_input, path, opset: int = 17, dynamic_batch: bool = True, *,
           input_name: str = "input", output_name: str = "output"):
    """Write ``model`` (traced in evaluation mode on ``example_input``) to ``path`` as ONNX; returns the
    ``onnx.ModelProto``. ``opset`` 13 or later. With ``dynamic_batch`` the first dim of the input and of
    every output is symbolic, so that the file runs at any batch size. An op without an ONNX form raises
    ``ExportError`` (a ``ValueError``) naming the layer."""
    onnx = _import_onnx()
    from onnx import helper

    if not isinstance(example_input, Tensor):
        example_input = Tensor._wrap(np.asarray(example_input))
    if not isinstance(opset, int) or isinstance(opset, bool) or not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"onnx.export: opset must be an int from 13 to {onnx.defs.onnx_opset_version()}, got "
                         f"{opset!r}")
    if example_input.ndim == 0:
        raise ValueError("onnx.export: the example input must have a batch dim, got a 0-d tensor")
    t = trace(model, example_input)
    batch = int(example_input.shape[0]) if dynamic_batch else None
    g = GraphBuilder(opset)
    values = _Values(g, _array_names(model))
    g.buffer = lambda arr, fallback: _buffer(g, values, arr, fallback)
    g.reserve(input_name)
    values.names[values.key(t.input)] = input_name
    for fn in t.functions:
        layer = t.layers.get(id(fn), f"{type(model).__name__} (the model's forward)")
        prefix = _label(layer)
        ins = list(fn.inputs)
        keys = [values.key(x) for x in ins]
        if all(values.is_const(x) for x in ins):   # constant: evaluate now (e.g. a connection-table weight)
            for i, y in enumerate(_fold(fn, [values.consts[k][0] for k in keys])):
                values.consts[("fn", id(fn), i)] = (y, f"{prefix}.{type(fn).__name__.lower()}")
            continue
        in_names = [values.name_of(x, prefix) for x in ins]
        outs_meta = fn._out_meta
        convert = CONVERTERS.get(type(fn).__name__)
        op = Op(fn, in_names, [tuple(x.shape) for x in ins], [x.dtype for x in ins], [m[0] for m in outs_meta],
                layer, prefix, batch, [values.consts.get(k, (None,))[0] for k in keys])
        if convert is None:
            raise ExportError(f"onnx.export: cannot export layer {layer}: its op {type(fn).__name__} has no ONNX "
                              f"converter")
        out_names = convert(g, op)
        for i, name in enumerate(out_names):
            values.names[("fn", id(fn), i)] = name
    graph_outputs = []
    outs = [t.output] if isinstance(t.output, Tensor) else list(t.output)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"onnx.export: output {i} of {type(model).__name__} is a {type(o).__name__}, not a Tensor")
        name = output_name if len(outs) == 1 else f"{output_name}_{i}"
        g.reserve(name)
        src = values.name_of(o, "output") if values.key(o) in values.names or o.creator is None else None
        if src is None:
            raise ExportError(f"onnx.export: output {i} was not traced")
        g.nodes.append(helper.make_node("Identity", [src], [name], name=g.unique("node/" + name)))
        shape = list(o.shape)
        if batch is not None and shape and shape[0] == batch:
            shape[0] = "batch"
        graph_outputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(o.dtype), shape))
    in_shape = list(example_input.shape)
    if batch is not None:
        in_shape[0] = "batch"
    graph_input = helper.make_tensor_value_info(input_name, helper.np_dtype_to_tensor_dtype(example_input.dtype),
                                                in_shape)
    graph = helper.make_graph(g.nodes, type(model).__name__, [graph_input], graph_outputs, g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="cnnkit", doc_string=repr(model)[:2000])
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:   # a converter bug, not a user error: say so plainly
        raise ExportError(f"onnx.export: the graph built for {type(model).__name__} fails onnx.checker: {e}") from None
    data = proto.SerializeToString()
    with atomic_output(Path(path)) as f:
        f.write(data)
    return proto


def _buffer(g: GraphBuilder, values: _Values, arr: np.ndarray, fallback: str | None = None) -> str:
    """An initializer for a buffer array the op holds (BatchNorm's running statistics), named as in the
    state dict when the array is the module's buffer; one initializer per array."""
    k = ("array", id(arr))
    if k not in values.names:
        values._keep.append(arr)
        values.names[k] = g.initializer(arr, values.known.get(id(arr)) or fallback or "buffer")
    return values.names[k]
