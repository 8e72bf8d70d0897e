"""Tracing a forward pass: which modules ran, in which order, nested how, on which tensors.

    t = trace(model, (1, 3, 32, 32))
    for call in t.calls:                       # in call order (a parent before its children)
        print(call.name, call.in_shape, call.out_shape, call.leaf)

The model runs once, in eval mode, on zeros of the given shape (``requires_grad=True``, the parameters
frozen for the pass, grad mode on), with a forward pre-hook and a forward hook on every module; each
module call becomes a :class:`Call`. Because the input requires grad, the pass records the autograd graph:
every tensor it made knows the function that made it and that function's inputs, so that operations that
are not modules (``ck.cat``, ``+``, ``F.conv2d`` inside a ``forward``) can be followed afterwards (see
``receptive_field.py`` and ``macs.py``). The model's training flags and its parameters' ``requires_grad``
are restored afterwards, hooks removed; no parameter or buffer changes.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.grad_mode import set_grad_enabled
from ..nn import Module
from ..tensor import Tensor

__all__ = ["Call", "Trace", "trace"]


def tensors_in(obj) -> list:
    """The tensors in a module's input or output (a tensor, or tuples/lists/dicts of them, e.g. aux outputs)."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in tensors_in(o)]
    return []


def _shape_of(ts) -> tuple | None:
    if not ts:
        return None
    return tuple(ts[0].shape) if len(ts) == 1 else tuple(tuple(t.shape) for t in ts)


class Call:
    """One call of one module during the traced forward pass.

    ``name`` is the module's name in ``model.named_modules()`` (``features.0``; ``''`` for the model),
    ``index`` its position in call order, ``depth`` its nesting level (0 = the model), ``parent`` the call
    it happened in; ``args`` and ``outs`` are the tensors it received and returned, ``leaf`` whether the
    module has no children.
    """

    __slots__ = ("module", "name", "index", "depth", "parent", "in_shape", "args", "outs", "out_shape", "leaf")

    def __init__(self, module, name, index, depth, parent, args):
        self.module, self.name, self.index, self.depth, self.parent = module, name, index, depth, parent
        self.args = args
        self.in_shape = _shape_of(args)
        self.outs, self.out_shape = [], None
        self.leaf = not any(c is not None for c in module._modules.values())


class Trace:
    """What :func:`trace` returns: the ``input`` tensor, the ``calls`` in call order and the same calls in
    the order they ``finished`` (children before their parent): the order in which to fold results upwards."""

    def __init__(self, names: dict):
        self.names = names
        self.input = None
        self.calls: list[Call] = []
        self.finished: list[Call] = []
        self._stack: list[Call] = []

    def pre_hook(self, module, args):
        parent = self._stack[-1] if self._stack else None
        call = Call(module, self.names.get(id(module), type(module).__name__), len(self.calls), len(self._stack),
                    parent, tensors_in(args))
        self.calls.append(call)
        self._stack.append(call)

    def hook(self, module, args, out):
        call = self._stack.pop()
        call.outs = tensors_in(out)
        call.out_shape = _shape_of(call.outs)
        self.finished.append(call)


def trace(model: Module, shape, dtype=backend.float32) -> Trace:
    """Run ``model`` once on zeros of ``shape`` (the full input shape, batch included) and record its calls.

    Errors raised by the model propagate unchanged (after the model has been restored).
    """
    names = {}
    for name, m in model.named_modules():
        names.setdefault(id(m), name)
    params = list(model.parameters())
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in params]
    t = Trace(names)
    handles = []
    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(t.pre_hook))
            handles.append(m.register_forward_hook(t.hook))
        model.eval()
        for p in params:
            p.requires_grad = False
        t.input = Tensor(np.zeros(shape, dtype), requires_grad=True)
        with set_grad_enabled(True):
            model(t.input)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad = flag
    return t
