"""Function: the base of every differentiable op.

A subclass implements two methods on raw ``numpy.ndarray`` values:

``forward(*xs) -> y | (y1, y2, ...)``
    computes the outputs and saves on ``self`` whatever backward will need.
``backward(*gys) -> gx | (gx1, gx2, ...)``
    receives dL/dy for every output (zeros for outputs nobody used) and returns
    dL/dx for every input, each of that input's shape (``None`` where no
    gradient is needed). It must not modify the arrays it receives.

Non-tensor arguments (stride, dim, ...) go to ``__init__``. Calling the
instance on tensors runs forward and, when gradients are being recorded,
links the outputs into the graph. ``self.needs_input_grad`` (one bool per
input, set before forward) lets an op skip saving or computing what no one
will ask for, e.g. the input gradient of a network's first convolution.
"""
from __future__ import annotations

import numpy as np

from .autograd import anomaly
from .autograd.grad_mode import enabled as _grad_enabled
from .backend import is_floating
from .tensor import Tensor


class Function:
    inputs = None
    generation = 0

    def __call__(self, *inputs: Tensor):
        record = _grad_enabled.get() and any(x.requires_grad for x in inputs)
        self.needs_input_grad = tuple(x.requires_grad for x in inputs) if record else (False,) * len(inputs)
        detect = anomaly.mode.get()
        if detect is not None:
            self._site = anomaly.creation_site()
        ys = self.forward(*[x._data for x in inputs])
        single = not isinstance(ys, tuple)
        if single:
            ys = (ys,)
        if detect is not None and detect[1]:
            anomaly.check_outputs(self, ys)
        outputs = tuple(Tensor._wrap(y) for y in ys)
        if record:
            gen = max(x.generation for x in inputs)
            self.generation = gen
            self.inputs = inputs
            self._versions = tuple(x._version[0] for x in inputs)
            self._out_grads = [None] * len(ys)
            self._out_meta = [(y.shape, y.dtype) for y in ys]
            self._retained = {}
            for i, out in enumerate(outputs):
                if is_floating(out._data.dtype):
                    out.requires_grad = True
                    out.creator = self
                    out.generation = gen + 1
                    out._output_index = i
        return outputs[0] if single else outputs

    def forward(self, *xs: np.ndarray):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys: np.ndarray):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def release(self) -> None:
        """Drop the inputs and everything saved for backward (the graph is freed)."""
        generation = self.generation
        self.__dict__.clear()
        self.generation = generation
        self.inputs = None

    def name(self) -> str:
        """PyTorch's name for this node, e.g. ``'MulBackward0'``."""
        return f"{type(self).__name__}Backward0"

    @property
    def next_functions(self) -> tuple:
        """One ``(node, output_index)`` per input, as PyTorch's ``grad_fn.next_functions``: the op that made the
        input, an ``AccumulateGrad`` for a leaf that requires grad, ``(None, 0)`` for an input without grad.
        Empty once backward has freed the graph."""
        if self.inputs is None:
            return ()
        return tuple((x.creator, x._output_index) if x.creator is not None else
                     ((AccumulateGrad(x), 0) if x.requires_grad else (None, 0)) for x in self.inputs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


class AccumulateGrad:
    """The graph node of a leaf that requires grad: backward accumulates into ``variable.grad``."""

    next_functions = ()

    def __init__(self, variable: Tensor):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"
