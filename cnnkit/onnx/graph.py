"""The ONNX graph under construction: unique value names, initializers and nodes, built with ``onnx.helper``.

Converters (``layers.py``, ``basic.py``) see one traced op at a time as an :class:`Op` and add nodes
through a :class:`GraphBuilder`; the builder knows the opset, so that a converter can ask for
``reduce(...)``/``split(...)`` and get the form that opset defines (axes as attribute or as input).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ExportError(ValueError):
    """The model cannot be written as ONNX (an op without an ONNX equivalent, a shape that is not static…)."""


@dataclass
class Op:
    """One traced ``Function`` call: what a converter needs to emit its nodes."""

    fn: object                 # the Function instance (its attributes: stride, axis, geometry …)
    inputs: list               # ONNX value names of the inputs, in the Function's order
    in_shapes: list            # their shapes at trace time
    in_dtypes: list
    out_shapes: list           # the Function's output shapes at trace time
    layer: str                 # the module that ran it, for error messages: "'features.3' (Conv2d)"
    name: str                  # a prefix for the names of its nodes and values: "features.3"
    batch: int | None = None   # the traced batch size when the first dim is dynamic, else None

    @property
    def kind(self) -> str:
        return type(self.fn).__name__

    def fail(self, why: str):
        raise ExportError(f"onnx.export: cannot export layer {self.layer}: {self.kind} {why}")


class GraphBuilder:
    """Nodes and initializers in creation order (creation order is a topological order here)."""

    def __init__(self, opset: int, array_names: dict | None = None):
        from onnx import helper

        self.helper = helper
        self.opset = opset
        self.array_names = array_names or {}   # id(array) -> state-dict name
        self.nodes: list = []
        self.initializers: list = []
        self._used: set = set()
        self._consts: dict = {}
        self._buffers: dict = {}

    def unique(self, base: str) -> str:
        base = base or "value"
        name, n = base, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        if name in self._used:
            raise ExportError(f"onnx.export: the name '{name}' is used twice")
        self._used.add(name)
        return name

    def initializer(self, value: np.ndarray, name: str) -> str:
        """``value`` as a named initializer (a constant input of the graph)."""
        from onnx import numpy_helper

        value = np.asarray(value)
        name = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def const(self, value, dtype=None, name: str = "const") -> str:
        """A small constant (shared when the same value is asked for again)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            self._consts[key] = self.initializer(arr, name)
        return self._consts[key]

    def buffer(self, arr: np.ndarray, fallback: str) -> str:
        """An array an op holds (BatchNorm's running statistics) as an initializer, under its state-dict name
        when it is a module's buffer; one initializer per array."""
        if id(arr) not in self._buffers:
            self._buffers[id(arr)] = (arr, self.initializer(arr, self.array_names.get(id(arr)) or fallback))
        return self._buffers[id(arr)][1]

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), np.int64), name="shape")

    def node(self, op_type: str, inputs: list, name: str, n_out: int = 1, **attrs) -> list:
        """Add a node; returns its output names (fresh)."""
        outs = [self.unique(f"{name}:{i}" if n_out > 1 else name) for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=self.unique("node/" + name),
                                                **attrs))
        return outs

    def one(self, op_type: str, inputs: list, name: str, **attrs) -> str:
        return self.node(op_type, inputs, name, **attrs)[0]

    # ----- ops whose form depends on the opset -----------------------------------------------------

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, name: str) -> str:
        """ReduceSum/ReduceMean/ReduceMax/ReduceMin over ``axes`` (None: all)."""
        axes_as_input = op_type == "ReduceSum" or self.opset >= 18
        keep = int(bool(keepdims))
        if axes is None:
            return self.one(op_type, [x], name, keepdims=keep)
        axes = [int(a) for a in axes]
        if axes_as_input:
            return self.one(op_type, [x, self.ints(axes)], name, keepdims=keep)
        return self.one(op_type, [x], name, axes=axes, keepdims=keep)

    def split(self, x: str, sizes, axis: int, name: str) -> list:
        return self.node("Split", [x, self.ints(sizes)], name, n_out=len(sizes), axis=int(axis))

    def reshape(self, x: str, shape, name: str) -> str:
        return self.one("Reshape", [x, self.ints(shape)], name)
