"""Adadelta (Zeiler 2012) and Adagrad (Duchi et al. 2011): per-coordinate step sizes from gradient history."""
from __future__ import annotations

import functools

import numpy as np

from ..kernels import parallel
from .optimizer import Optimizer


class Adadelta(Optimizer):
    r"""Adadelta (PyTorch's ``torch.optim.Adadelta``). For each parameter :math:`\theta` with gradient g::

        g <- -g                                   if maximize
        g <- g + lambda theta                     if weight_decay != 0
        v <- rho v + (1 - rho) g^2                (state 'square_avg')
        delta <- sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho u + (1 - rho) delta^2            (state 'acc_delta')
        theta <- theta - lr delta
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach=None, *, capturable: bool = False, maximize: bool = False, differentiable: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _validate_group(self, group: dict) -> None:
        self._check_number(group, "lr", label="learning rate lr")
        self._check_number(group, "rho", high=1.0)
        self._check_number(group, "eps")
        self._check_number(group, "weight_decay")
        self._check_bool(group, "maximize")

    def _required_state(self, group: dict) -> tuple:
        return ("step", "square_avg", "acc_delta")

    def _step_group(self, group: dict) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]

        def update(theta, grad, v, u, s0, s1):    # the scratch blocks are not used
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * theta
            v *= rho
            v += (1 - rho) * g * g
            std = np.sqrt(v + eps)
            delta = np.sqrt(u + eps)
            delta /= std
            delta *= g
            u *= rho
            u += (1 - rho) * delta * delta
            theta += -lr * delta

        items = [(update, (p._data, grad, state["square_avg"], state["acc_delta"]))
                 for p, grad, state in self._counted_states(group, ("square_avg", "acc_delta"))]
        parallel.blockwise(items)


class Adagrad(Optimizer):
    r"""Adagrad (PyTorch's ``torch.optim.Adagrad``). For each parameter :math:`\theta` with gradient g, at step t::

        g <- -g                                   if maximize
        g <- g + lambda theta                     if weight_decay != 0
        s <- s + g^2                              (state 'sum', starting at initial_accumulator_value)
        theta <- theta - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)

    The state of a parameter is created at its first gradient (PyTorch creates it for every parameter in the
    constructor; the values are the same).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, fused=None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _validate_group(self, group: dict) -> None:
        self._check_number(group, "lr", label="learning rate lr")
        self._check_number(group, "lr_decay")
        self._check_number(group, "weight_decay")
        self._check_number(group, "initial_accumulator_value", label="initial_accumulator_value")
        self._check_number(group, "eps")
        self._check_bool(group, "maximize")

    def _required_state(self, group: dict) -> tuple:
        return ("step", "sum")

    def _step_group(self, group: dict) -> None:
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]

        def update(theta, grad, s, s0, s1, clr: float):    # the scratch blocks are not used
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * theta
            s += g * g
            std = np.sqrt(s)
            std += eps
            theta += -clr * (g / std)

        items = []
        for p, grad, state in self._counted_states(group, ("sum",), group["initial_accumulator_value"]):
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            items.append((functools.partial(update, clr=clr), (p._data, grad, state["sum"])))
        parallel.blockwise(items)
