"""Multiply-adds (MACs) of every layer: one MAC is one multiplication and one addition.

For the whole batch, per layer type (N the batch size):

    Conv2d           N·C_out·H_out·W_out · (C_in/groups)·kH·kW     (each output element: one kernel window)
    ConvTranspose2d  N·C_in·H_in·W_in · (C_out/groups)·kH·kW       (each input pixel spreads one kernel)
    TableConv2d      N·H_out·W_out · connections·kH·kW            (only the connected kernels)
    Linear           (output elements) · in_features
    matmul           (output elements) · (the contracted length)

Bias additions, batch norm, activations, pooling, LRN, softmax and shortcut additions are not counted.
This is the fvcore/torchvision convention: torchvision's published "GFLOPS" are exactly these MACs
(conv and linear layers only). Functional convolutions and linear maps called directly inside a
``forward`` (``F.conv2d``, ``F.linear``, ``matmul``) are counted by the same rules, from the autograd
graph of the traced pass, and attributed to the module whose ``forward`` called them.
"""
from __future__ import annotations

import math

from ..nn import Conv2d, ConvTranspose2d, Linear, Module, TableConv2d
from ..ops import conv as conv_ops
from ..ops import linalg

__all__ = ["call_macs", "function_macs", "module_macs"]


def module_macs(m: Module, in_shape, out_shape) -> int | None:
    """MACs of one call of a known leaf module on an input of ``in_shape`` giving ``out_shape`` (formulas in
    the module docstring); None for modules not listed there (their functions are counted instead)."""
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


def function_macs(f) -> int:
    """MACs of an autograd Function: convolutions (output elements · C_in/groups·kH·kW), transposed
    convolutions (input elements · C_out/groups·kH·kW), linear maps and matrix products (output elements ·
    contracted length); 0 for the rest."""
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


def call_macs(t) -> dict:
    """MACs of every call of a :class:`~cnnkit.insight.trace.Trace`, by ``id(call)``, its children's not
    included: a known leaf module by :func:`module_macs`, any other call by the functions its own
    ``forward`` ran (the graph walked back from its outputs to its inputs, hopping over the calls made
    inside it: their functions are theirs). Every function is counted once."""
    outputs = {}        # id(tensor) -> (tensor, the outermost call finished so far that returned it)
    counted = set()     # ids of Functions whose MACs are attributed already
    macs = {}
    for call in t.finished:
        outs = call.outs
        m = (module_macs(call.module, tuple(call.args[0].shape) if call.args else (), tuple(outs[0].shape))
             if call.leaf and outs else None)
        macs[id(call)] = m if m is not None else _functional_macs(call, outs, outputs, counted)
        for o in outs:
            outputs[id(o)] = (o, call)
    return macs


def _functional_macs(call, outs, outputs: dict, counted: set) -> int:
    seen = {id(a) for a in call.args}
    total, stack = 0, list(outs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if id(t) in outputs:
            inner = outputs[id(t)][1]
            if inner.index > call.index:          # a call made inside this one: continue from its inputs
                stack.extend(inner.args)
            continue                              # else an earlier module's output: not ours
        f = t.creator
        if f is None or f.inputs is None or id(f) in counted:
            continue
        counted.add(id(f))
        total += function_macs(f)
        stack.extend(f.inputs)
    return total
