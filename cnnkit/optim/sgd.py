"""Stochastic gradient descent, with momentum, Nesterov momentum and L2 weight decay."""
from __future__ import annotations

import functools

import numpy as np

from ..kernels import parallel
from .optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's ``torch.optim.SGD``).

    For each parameter :math:`\theta` with gradient :math:`g` (lr :math:`\gamma`, momentum :math:`\mu`,
    dampening :math:`\tau`, weight decay :math:`\lambda`)::

        g <- -g                          if maximize
        g <- g + lambda * theta          if weight_decay != 0   (L2 regularization)
        b <- g                           at the first step,
        b <- mu * b + (1 - tau) * g      afterwards             if momentum != 0
        g <- g + mu * b  (nesterov)  or  g <- b
        theta <- theta - gamma * g

    The momentum buffer ``b`` is ``state[p]['momentum_buffer']``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        self._check_number(group, "lr", label="learning rate lr")
        self._check_number(group, "momentum")
        self._check_number(group, "dampening", low=None)
        self._check_number(group, "weight_decay")
        self._check_bool(group, "nesterov")
        self._check_bool(group, "maximize")
        if group.get("nesterov") and (group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0):
            raise ValueError(f"SGD: Nesterov momentum requires momentum > 0 and dampening = 0, got momentum="
                             f"{group.get('momentum', 0)!r}, dampening={group.get('dampening', 0)!r}")

    def _step_group(self, group: dict) -> None:
        lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
        weight_decay, nesterov, maximize = float(group["weight_decay"]), group["nesterov"], group["maximize"]

        def update(theta, grad, buf, s0, s1, first: bool = False):
            # g: the gradient itself, or its adjusted copy in s0 (the same arithmetic as a temporary; the
            # gradient is never written)
            g = grad
            if weight_decay != 0:
                g = np.multiply(theta, weight_decay, out=s0)
                if maximize:
                    g -= grad
                else:
                    g += grad
            elif maximize:
                g = np.negative(grad, out=s0)
            if buf is not None:
                if first:
                    np.copyto(buf, g)
                else:
                    buf *= momentum
                    if dampening == 0:
                        buf += g
                    else:
                        buf += np.multiply(g, 1 - dampening, out=s1)
                g = np.add(g, np.multiply(buf, momentum, out=s1), out=s0) if nesterov else buf
            theta += np.multiply(g, -lr, out=s1)

        items = []
        for p, grad in self._params_with_grad(group):
            theta = p._data
            if momentum == 0:
                items.append((lambda t, gr, s0, s1: update(t, gr, None, s0, s1), (theta, grad)))
                continue
            state = self.state[p]
            buf = state.get("momentum_buffer")
            first = buf is None
            if first:
                buf = state["momentum_buffer"] = np.empty_like(theta, order="C")
            items.append((functools.partial(update, first=first), (theta, grad, buf)))
        parallel.blockwise(items)
