"""RMSprop: divide the gradient by a running root mean square of its recent magnitudes (Hinton)."""
from __future__ import annotations

import numpy as np

from ..kernels import parallel
from .optimizer import Optimizer, _lerp_


class RMSprop(Optimizer):
    r"""RMSprop (PyTorch's ``torch.optim.RMSprop``).

    For each parameter :math:`\theta` with gradient :math:`g`::

        g <- -g                                  if maximize
        g <- g + lambda theta                    if weight_decay != 0   (L2)
        v <- alpha v + (1 - alpha) g^2           (state 'square_avg')
        a <- alpha a + (1 - alpha) g             if centered            (state 'grad_avg')
        d <- sqrt(v - a^2) + eps   if centered, else   sqrt(v) + eps
        b <- mu b + g / d;  theta <- theta - lr b     if momentum > 0  (state 'momentum_buffer')
        theta <- theta - lr g / d                     otherwise

    ``state[p]['step']`` counts the updates (a float, as in PyTorch).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        self._check_number(group, "lr", label="learning rate lr")
        self._check_number(group, "alpha")
        self._check_number(group, "eps")
        self._check_number(group, "weight_decay")
        self._check_number(group, "momentum")
        self._check_bool(group, "centered")
        self._check_bool(group, "maximize")

    def _required_state(self, group: dict) -> tuple:
        keys = ("step", "square_avg")
        if group["momentum"] > 0:
            keys += ("momentum_buffer",)
        if group["centered"]:
            keys += ("grad_avg",)
        return keys

    def _step_group(self, group: dict) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        centered, maximize = group["centered"], group["maximize"]

        def update(theta, grad, v, *rest):
            rest = list(rest[:-2])            # the optional state arrays; the scratch blocks are not used
            buf = rest.pop(0) if momentum > 0 else None
            a = rest.pop(0) if centered else None
            g = -grad if maximize else grad
            if weight_decay != 0:
                g = g + weight_decay * theta
            v *= alpha
            g2 = (1 - alpha) * g
            g2 *= g
            v += g2
            if centered:
                _lerp_(a, g, 1 - alpha)
                avg = -a
                avg *= a
                avg += v
                np.sqrt(avg, out=avg)
            else:
                avg = np.sqrt(v)
            avg += eps
            if momentum > 0:
                buf *= momentum
                buf += g / avg
                theta += -lr * buf
            else:
                step = -lr * g
                step /= avg
                theta += step

        buffers = ("square_avg",) + (("momentum_buffer",) if momentum > 0 else ()) + (("grad_avg",) if centered else ())
        items = [(update, [p._data, grad] + [state[name] for name in buffers])
                 for p, grad, state in self._counted_states(group, buffers)]
        parallel.blockwise(items)
