"""Tracing a model into a list of ops: one forward pass in evaluation mode, recorded by autograd.

With the input (and every parameter) requiring gradients, every op of the forward pass — the layers'
and the functional glue between them (``x + residual``, ``cat``, ``flatten``, ``F.relu``) — links
its output to its ``Function`` and that Function to its inputs. Walking those links back from the
output gives the whole computation, ordered so that each op comes after the ops it reads
(a depth-first post-order; iterative, the graphs of ResNet-152 or DenseNet-201 are deep).

Each op is attributed to the innermost module that ran it: a forward hook on every module walks back
from the module's outputs to its inputs and claims the ops it meets that no inner module claimed.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..tensor import Tensor, enable_grad


@dataclass
class Trace:
    output: object                 # what the model returned (a Tensor, or a tuple/list of them)
    input: Tensor                  # the traced input (a leaf)
    functions: list                # Function instances, inputs before users
    layers: dict                   # id(Function) -> "'features.3' (Conv2d)" style description


def _tensors(obj) -> list:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def _describe(name: str, module) -> str:
    return f"'{name}' ({type(module).__name__})" if name else f"{type(module).__name__} (the model's forward)"


def _claim(module_label: str, outputs, inputs, layers: dict) -> None:
    """Attribute to ``module_label`` the unclaimed ops between ``inputs`` and ``outputs``."""
    stop = {id(t) for t in inputs}
    seen: set = set()
    stack = [t for t in outputs if id(t) not in stop]
    while stack:
        fn = stack.pop().creator
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        layers.setdefault(id(fn), module_label)
        stack.extend(t for t in (fn.inputs or ()) if id(t) not in stop)


def topological(outputs) -> list:
    """The Functions that produced ``outputs``, each after every Function whose output it reads."""
    order, done, visiting = [], set(), set()
    stack = [(t.creator, False) for t in reversed(outputs) if t.creator is not None]
    while stack:
        fn, expanded = stack.pop()
        if id(fn) in done:
            continue
        if expanded:
            done.add(id(fn))
            order.append(fn)
            continue
        if id(fn) in visiting:
            continue
        visiting.add(id(fn))
        stack.append((fn, True))
        for t in reversed(fn.inputs or ()):
            if t.creator is not None and id(t.creator) not in done:
                stack.append((t.creator, False))
    return order


def trace(model, example_input: Tensor) -> Trace:
    """Run ``model`` once in evaluation mode on a copy of ``example_input`` and record every op."""
    modes = [(m, m.training) for m in model.modules()]
    params = list(model.parameters())
    grads = [p.requires_grad for p in params]
    layers: dict = {}
    handles = []
    for name, module in model.named_modules():
        label = _describe(name, module)

        def hook(mod, args, out, label=label):
            _claim(label, _tensors(out), _tensors(args), layers)

        handles.append(module.register_forward_hook(hook))
    x = Tensor._wrap(example_input._data.copy())
    x.requires_grad = True
    try:
        model.eval()
        for p in params:
            p.requires_grad = True
        with enable_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
        for p, g in zip(params, grads, strict=True):
            p.requires_grad = g
    outputs = _tensors(out)
    if not outputs:
        raise TypeError(f"onnx.export: {type(model).__name__} returned {type(out).__name__}, expected a Tensor or "
                        f"a tuple of Tensors")
    return Trace(out, x, topological(outputs), layers)
