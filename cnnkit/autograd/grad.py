"""``autograd.grad``: the gradients of outputs with respect to chosen inputs, returned instead of accumulated.

``grad(outputs, inputs, grad_outputs)`` runs the same walk as ``backward`` (``backward.py``) from every output,
seeded with its ``grad_outputs`` entry, and returns Σ_k (∂outputs_k/∂inputs_j)ᵀ · grad_outputs_k for each input j
(a leaf or an intermediate tensor). No ``.grad`` is touched: leaves' gradients are collected, and an
intermediate input's gradient is taken, complete, when the walk reaches the op that made it.

cnnkit's backward passes compute on arrays and are not themselves recorded, so there is no double backward:
``create_graph=True`` (and ``is_grads_batched=True``) raise ``RuntimeError``.
"""
from __future__ import annotations

import numpy as np

from . import backward as B

__all__ = ["grad"]


def _as_tuple(value, what: str) -> tuple:
    if isinstance(value, B._Tensor):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise TypeError(f"autograd.grad: {what} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused=None, is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to each of ``inputs`` (PyTorch's ``torch.autograd.grad``).

    ``grad_outputs``: one vector per output (None for a one-element output, meaning 1). ``retain_graph`` keeps the
    graph for another walk (default: ``create_graph``, i.e. False). An input that the outputs do not depend on
    raises ``RuntimeError`` unless ``allow_unused=True`` (its gradient is then None, or zeros with
    ``materialize_grads=True``). Returns a tuple of Tensors that do not require grad.
    """
    fn = "autograd.grad"
    if create_graph:
        raise RuntimeError(f"{fn}: create_graph=True (gradients that can be differentiated again) is not supported: "
                           "cnnkit's backward passes compute on arrays and are not recorded in a graph")
    if is_grads_batched:
        raise RuntimeError(f"{fn}: is_grads_batched=True is not supported (call grad once per vector)")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError(f"{fn}: expected allow_unused to be True or not passed when materialize_grads=True")
    outputs = _as_tuple(outputs, "outputs")
    inputs = _as_tuple(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs, "grad_outputs") if not isinstance(grad_outputs, B._Tensor) \
            else (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{fn}: grad_outputs has {len(grad_outputs)} entries for {len(outputs)} outputs")
    for x in inputs:
        if not isinstance(x, B._Tensor):
            raise TypeError(f"{fn}: inputs must be Tensors, got {type(x).__name__}")
        if not x.requires_grad:
            raise RuntimeError(f"{fn}: one of the differentiated Tensors (shape {tuple(x.shape)}) does not require "
                               "grad")
    seeds = [(o, B._seed(o, g, fn)) for o, g in zip(outputs, grad_outputs)]
    leaves = {id(x): None for x in inputs if x.creator is None}
    captured = {(id(x.creator), x._output_index): None for x in inputs if x.creator is not None}

    def leaf(x, g):
        if id(x) in leaves:
            cur = leaves[id(x)]
            leaves[id(x)] = g if cur is None else cur + g

    for o, s in seeds:
        if o.creator is None:
            leaf(o, s)
    walked = [(o, s) for o, s in seeds if o.creator is not None]
    if walked:
        B._propagate(walked, bool(retain_graph), leaf, captured)
    result = []
    for x in inputs:
        g = leaves[id(x)] if x.creator is None else captured[(id(x.creator), x._output_index)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"{fn}: one of the differentiated Tensors (shape {tuple(x.shape)}) appears to "
                                   "not have been used in the graph; set allow_unused=True if this is the desired "
                                   "behavior")
            result.append(B._Tensor._wrap(np.zeros_like(x._data)) if materialize_grads else None)
            continue
        result.append(B._Tensor._wrap(np.array(g, dtype=x._data.dtype, copy=True)))
    return tuple(result)
