"""ONNX nodes for the element-wise ops, activations, reductions and shape ops (the functional glue of a
model's ``forward``: residual additions, concatenations, flattening).

Maxout and GLU have no ONNX op; they are written as their definitions:

    maxout(x)_g = max_{k < pieces} x[g·pieces + k]    Reshape (…, C/pieces, pieces, …) → ReduceMax
    glu(x)      = a ⊙ σ(b), [a, b] = x halved          Split → Sigmoid → Mul

With a dynamic batch a shape written into the graph keeps the first dim symbolic: ``0`` in a Reshape
target copies the input's batch size.
"""
from __future__ import annotations

import numpy as np

from ..models.densenet import GrowingConcat
from ..ops import activation as act
from ..ops import dropout, reduce
from ..ops import dtype as dtype_ops
from ..ops import elementwise as ew
from ..ops import pad as pad_ops
from ..ops import shape as shape_ops
from .graph import GraphBuilder, Op

_UNARY = {act.ReLU: "Relu", act.Sigmoid: "Sigmoid", act.Tanh: "Tanh", ew.Neg: "Neg", ew.Exp: "Exp", ew.Log: "Log",
          ew.Sqrt: "Sqrt", ew.Abs: "Abs", ew.Sign: "Sign", ew.Copy: "Identity", dropout.Dropout: "Identity"}
_BINARY = {ew.Add: "Add", ew.Sub: "Sub", ew.Mul: "Mul", ew.Div: "Div", ew.Pow: "Pow", ew.Maximum: "Max",
           ew.Minimum: "Min"}


def _unary(onnx_op):
    def convert(g: GraphBuilder, op: Op) -> list:
        return g.node(onnx_op, op.inputs, op.name)
    return convert


def _binary(onnx_op):
    def convert(g: GraphBuilder, op: Op) -> list:
        return g.node(onnx_op, op.inputs, op.name)
    return convert


def leaky_relu(g: GraphBuilder, op: Op) -> list:
    return g.node("LeakyRelu", op.inputs, op.name, alpha=float(op.fn.slope))


def elu(g: GraphBuilder, op: Op) -> list:
    return g.node("Elu", op.inputs, op.name, alpha=float(op.fn.alpha))


def softmax(g: GraphBuilder, op: Op) -> list:
    return g.node(op.kind, op.inputs, op.name, axis=int(op.fn.axis))   # Softmax / LogSoftmax


def _dtype(op: Op, i: int = 0) -> np.dtype:
    return np.dtype(op.in_dtypes[i])


def pow_scalar(g: GraphBuilder, op: Op) -> list:
    return g.node("Pow", [op.inputs[0], g.const(np.asarray(op.fn.c, _dtype(op)))], op.name)


def rpow_scalar(g: GraphBuilder, op: Op) -> list:
    return g.node("Pow", [g.const(np.asarray(op.fn.c, _dtype(op))), op.inputs[0]], op.name)


def clamp(g: GraphBuilder, op: Op) -> list:
    lo, hi = op.fn.lo, op.fn.hi
    bounds = ["" if v is None else g.const(np.asarray(v, _dtype(op))) for v in (lo, hi)]
    return g.node("Clip", [op.inputs[0]] + bounds, op.name)


def where(g: GraphBuilder, op: Op) -> list:
    cond = g.const(np.asarray(op.fn.cond, np.bool_), name=op.name + ".condition")
    return g.node("Where", [cond] + op.inputs, op.name)


def cast(g: GraphBuilder, op: Op) -> list:
    from onnx import helper

    return g.node("Cast", op.inputs, op.name, to=helper.np_dtype_to_tensor_dtype(np.dtype(op.fn.dtype)))


# ----- reductions -------------------------------------------------------------------------------------------

def _axes(op: Op):
    axes = op.fn.axes
    if axes is None:
        return None
    return [axes] if isinstance(axes, (int, np.integer)) else list(axes)


def _check_batch_kept(op: Op, axes):
    if op.batch is not None and (axes is None or 0 in [a % len(op.in_shapes[0]) for a in axes]):
        op.fail("reduces over the batch dim, which a dynamic batch cannot keep; export with dynamic_batch=False")


def reduce_sum(g: GraphBuilder, op: Op) -> list:
    _check_batch_kept(op, _axes(op))
    return [g.reduce("ReduceSum", op.inputs[0], _axes(op), op.fn.keepdim, op.name)]


def reduce_mean(g: GraphBuilder, op: Op) -> list:
    _check_batch_kept(op, _axes(op))
    return [g.reduce("ReduceMean", op.inputs[0], _axes(op), op.fn.keepdim, op.name)]


def reduce_max(g: GraphBuilder, op: Op) -> list:
    _check_batch_kept(op, _axes(op))
    kind = "ReduceMin" if op.fn.minimum else "ReduceMax"
    return [g.reduce(kind, op.inputs[0], _axes(op), op.fn.keepdim, op.name)]


# ----- shapes -----------------------------------------------------------------------------------------------

def target_shape(op: Op, out_shape) -> list:
    """A Reshape/Expand target for ``out_shape``; with a dynamic batch its first dim stays symbolic."""
    out_shape = [int(s) for s in out_shape]
    if op.batch is None:
        return out_shape
    in_shape = op.in_shapes[0]
    if out_shape and in_shape and out_shape[0] == in_shape[0] == op.batch:
        return [0] + out_shape[1:]
    if out_shape and in_shape and in_shape[0] == op.batch and out_shape[0] % op.batch == 0:
        return [-1] + out_shape[1:]    # the batch folded into the first dim (e.g. (N·C, …))
    op.fail(f"reshapes {tuple(in_shape)} to {tuple(out_shape)}, which moves the batch dim; "
            f"export with dynamic_batch=False")


def reshape(g: GraphBuilder, op: Op) -> list:
    return [g.reshape(op.inputs[0], target_shape(op, op.out_shapes[0]), op.name)]


def expand(g: GraphBuilder, op: Op) -> list:
    shape = [int(s) for s in op.out_shapes[0]]
    in_shape = op.in_shapes[0]
    if op.batch is not None and len(in_shape) == len(shape) and in_shape and in_shape[0] == shape[0] == op.batch:
        shape[0] = 1                   # Expand broadcasts both ways: 1 keeps the input's (dynamic) batch
    elif op.batch is not None:
        op.fail(f"expands {tuple(in_shape)} to {tuple(shape)} over the batch dim; export with dynamic_batch=False")
    return g.node("Expand", [op.inputs[0], g.ints(shape)], op.name)


def permute(g: GraphBuilder, op: Op) -> list:
    return g.node("Transpose", op.inputs, op.name, perm=[int(a) for a in op.fn.axes])


def concat(g: GraphBuilder, op: Op) -> list:
    axis = getattr(op.fn, "axis", 1)   # GrowingConcat (DenseNet) joins on channels
    return g.node("Concat", op.inputs, op.name, axis=int(axis))


def split(g: GraphBuilder, op: Op) -> list:
    return g.split(op.inputs[0], [int(s) for s in op.fn.sizes], op.fn.axis, op.name)


def pad(g: GraphBuilder, op: Op) -> list:
    widths = [(int(lo), int(hi)) for lo, hi in op.fn.widths]
    pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
    value = g.const(np.asarray(op.fn.value, _dtype(op)))
    return g.node("Pad", [op.inputs[0], g.ints(pads), value], op.name, mode="constant")


def pad2d(g: GraphBuilder, op: Op) -> list:
    mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[op.fn.mode]
    if mode == "wrap" and g.opset < 19:
        op.fail(f"with circular padding needs opset 19 or later (Pad mode 'wrap'), got opset {g.opset}")
    t, b, l_, r = op.fn.pad
    return g.node("Pad", [op.inputs[0], g.ints([0, 0, t, l_, 0, 0, b, r])], op.name, mode=mode)


def getitem(g: GraphBuilder, op: Op) -> list:
    """Basic indexing (slices with positive steps and ints) as Slice [+ Squeeze]."""
    index = op.fn.index if isinstance(op.fn.index, tuple) else (op.fn.index,)
    shape = op.in_shapes[0]
    if op.fn.advanced or len(index) > len(shape) or not all(isinstance(i, (slice, int, np.integer)) for i in index):
        op.fail(f"with index {op.fn.index!r}: only slices and integers can be exported")
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    for axis, item in enumerate(index):
        if isinstance(item, slice):
            start, stop, step = item.indices(shape[axis])
            if step < 0:
                op.fail(f"with a negative step in index {op.fn.index!r}")
            if (start, stop, step) == (0, shape[axis], 1):
                continue
        else:
            start = int(item) % shape[axis]
            stop, step = start + 1, 1
            squeeze.append(axis)
        if axis == 0 and op.batch is not None:
            op.fail(f"indexes the batch dim ({op.fn.index!r}); export with dynamic_batch=False")
        starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
    y = op.inputs[0]
    if axes:
        y = g.one("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)],
                  op.name + ("/slice" if squeeze else ""))
    if squeeze:
        y = g.one("Squeeze", [y, g.ints(squeeze)], op.name)
    if y == op.inputs[0]:
        y = g.one("Identity", [y], op.name)
    return [y]


# ----- Maxout and GLU as their definitions -------------------------------------------------------------------

def maxout(g: GraphBuilder, op: Op) -> list:
    fn, shape = op.fn, list(op.in_shapes[0])
    axis, pieces = fn.axis, fn.pieces
    if axis == 0 and op.batch is not None:
        op.fail("groups the batch dim; export with dynamic_batch=False")
    grouped = shape[:axis] + [shape[axis] // pieces, pieces] + shape[axis + 1:]
    if op.batch is not None:
        grouped[0] = 0
    r = g.reshape(op.inputs[0], grouped, op.name + "/groups")
    return [g.reduce("ReduceMax", r, [axis + 1], False, op.name)]


def glu(g: GraphBuilder, op: Op) -> list:
    axis = op.fn.axis
    half = op.in_shapes[0][axis] // 2
    a, b = g.split(op.inputs[0], [half, half], axis, op.name + "/halves")
    gate = g.one("Sigmoid", [b], op.name + "/gate")
    return g.node("Mul", [a, gate], op.name)


CONVERTERS = {
    **{k: _unary(v) for k, v in _UNARY.items()},
    **{k: _binary(v) for k, v in _BINARY.items()},
    act.LeakyReLU: leaky_relu, act.ELU: elu, act.Softmax: softmax, act.LogSoftmax: softmax,
    act.Maxout: maxout, act.GLU: glu,
    ew.PowScalar: pow_scalar, ew.RPowScalar: rpow_scalar, ew.Clamp: clamp, ew.Where: where, dtype_ops.Cast: cast,
    reduce.Sum: reduce_sum, reduce.Mean: reduce_mean, reduce.Amax: reduce_max,
    shape_ops.Reshape: reshape, shape_ops.Expand: expand, shape_ops.Permute: permute, shape_ops.Split: split,
    shape_ops.GetItem: getitem, shape_ops.Cat: concat, GrowingConcat: concat,
    pad_ops.ConstantPad: pad, pad_ops.Pad2d: pad2d,
}
