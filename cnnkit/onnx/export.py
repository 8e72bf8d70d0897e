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
        names.setdefault(id(t._data), name)
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
            self.consts[k] = (t._data, self.known.get(id(t)) or self.known.get(id(t._data)))
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


def _convert(g: GraphBuilder, values: _Values, fn, layer: str, batch) -> None:
    """The nodes of one traced op; an op on constants only is evaluated instead (a constant result)."""
    prefix = _label(layer)
    ins = list(fn.inputs)
    if all(values.is_const(x) for x in ins):   # e.g. LeNet-5's dense table weight from its connected kernels
        for i, y in enumerate(_fold(fn, [values.consts[values.key(x)][0] for x in ins])):
            values.consts[("fn", id(fn), i)] = (y, f"{prefix}.{type(fn).__name__.lower()}")
        return
    convert = CONVERTERS.get(type(fn))
    if convert is None:
        raise ExportError(f"onnx.export: cannot export layer {layer}: its op {type(fn).__name__} has no ONNX "
                          f"converter")
    op = Op(fn, [values.name_of(x, prefix) for x in ins], [tuple(x.shape) for x in ins], [x.dtype for x in ins],
            [m[0] for m in fn._out_meta], layer, prefix, batch)
    for i, name in enumerate(convert(g, op)):
        values.names[("fn", id(fn), i)] = name


def _outputs(g: GraphBuilder, values: _Values, output, output_name: str, batch, model_name: str) -> list:
    """Identity nodes from the traced outputs to the graph's named outputs; their value infos."""
    from onnx import helper

    outs = [output] if isinstance(output, Tensor) else list(output)
    infos = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"onnx.export: output {i} of {model_name} is a {type(o).__name__}, not a Tensor")
        if values.key(o) not in values.names and not values.is_const(o):
            raise ExportError(f"onnx.export: output {i} of {model_name} was not traced")
        name = g.reserve(output_name if len(outs) == 1 else f"{output_name}_{i}")
        g.nodes.append(helper.make_node("Identity", [values.name_of(o, "output")], [name],
                                        name=g.unique("node/" + name)))
        shape = list(o.shape)
        if batch is not None and shape and shape[0] == batch:
            shape[0] = "batch"
        infos.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(o.dtype), shape))
    return infos


def export(model, example_input, path, opset: int = 17, dynamic_batch: bool = True, *,
           input_name: str = "input", output_name: str = "output", metadata: dict | None = None):
    """Write ``model`` (traced in evaluation mode on ``example_input``) to ``path`` as ONNX; returns the
    ``onnx.ModelProto``. ``opset`` 13 or later. With ``dynamic_batch`` the first dim of the input and of
    every output is symbolic, so that the file runs at any batch size. ``metadata`` (str -> str) goes into
    the file's ``metadata_props`` (e.g. how inputs are standardized). An op without an ONNX form raises
    ``ExportError`` (a ``ValueError``) naming the layer."""
    onnx = _import_onnx()
    from onnx import helper

    if not isinstance(example_input, Tensor):
        example_input = Tensor._wrap(np.asarray(example_input))
    if not isinstance(opset, int) or isinstance(opset, bool) or not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"onnx.export: opset must be an int from 13 to {onnx.defs.onnx_opset_version()}, got "
                         f"{opset!r}")
    bad = [k for k, v in (metadata or {}).items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"onnx.export: metadata must map str to str, got entry {bad[0]!r}: "
                        f"{type(metadata[bad[0]]).__name__}")
    if example_input.ndim == 0:
        raise ValueError("onnx.export: the example input must have a batch dim, got a 0-d tensor")
    t = trace(model, example_input)
    batch = int(example_input.shape[0]) if dynamic_batch else None
    names = _array_names(model)
    g = GraphBuilder(opset, names)
    values = _Values(g, names)
    g.reserve(input_name)
    values.names[values.key(t.input)] = input_name
    for fn in t.functions:
        _convert(g, values, fn, t.layers.get(id(fn), f"{type(model).__name__} (the model's forward)"), batch)
    graph_outputs = _outputs(g, values, t.output, output_name, batch, type(model).__name__)
    in_shape = list(example_input.shape)
    if batch is not None:
        in_shape[0] = "batch"
    graph_input = helper.make_tensor_value_info(input_name, helper.np_dtype_to_tensor_dtype(example_input.dtype),
                                                in_shape)
    graph = helper.make_graph(g.nodes, type(model).__name__, [graph_input], graph_outputs, g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="cnnkit", doc_string=repr(model)[:2000])
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    if metadata:
        helper.set_model_props(proto, dict(metadata))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:   # a converter bug, not a user error: say so plainly
        raise ExportError(f"onnx.export: the graph built for {type(model).__name__} fails onnx.checker: {e}") from None
    data = proto.SerializeToString()
    with atomic_output(Path(path)) as f:
        f.write(data)
    return proto

