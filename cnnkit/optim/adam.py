"""Adam and AdamW: adaptive moment estimation (Kingma & Ba), and its decoupled weight decay variant."""
from __future__ import annotations

import functools

import numpy as np

from ..kernels import parallel
from .optimizer import Optimizer, _lerp_


class Adam(Optimizer):
    r"""Adam (PyTorch's ``torch.optim.Adam``).

    For each parameter :math:`\theta` with gradient :math:`g`, at step :math:`t = 1, 2, \dots`::

        g <- -g                                      if maximize
        theta <- theta (1 - lr lambda)               if weight_decay != 0 and decoupled_weight_decay (AdamW)
        g <- g + lambda theta                        if weight_decay != 0 otherwise (L2)
        m <- beta1 m + (1 - beta1) g                 first moment  (state 'exp_avg')
        v <- beta2 v + (1 - beta2) g^2               second moment (state 'exp_avg_sq')
        v_max <- max(v_max, v); use v_max for v      if amsgrad    (state 'max_exp_avg_sq')
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``state[p]['step']`` is the step count ``t`` (a float, as in PyTorch).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        if isinstance(betas, list):
            betas = tuple(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        who = type(self).__name__
        self._check_number(group, "lr", label="learning rate lr")
        self._check_number(group, "eps")
        self._check_number(group, "weight_decay")
        if "betas" in group:
            betas = group["betas"]
            if isinstance(betas, list):
                betas = group["betas"] = tuple(betas)
            if not isinstance(betas, tuple) or len(betas) != 2:
                raise TypeError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
            pair = {"beta1": betas[0], "beta2": betas[1]}
            for name in pair:
                self._check_number(pair, name, low=0.0, high=1.0, high_open=True, label=f"betas {name}")
        for name in ("amsgrad", "maximize", "decoupled_weight_decay"):
            self._check_bool(group, name)

    def _required_state(self, group: dict) -> tuple:
        keys = ("step", "exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if group["amsgrad"] else keys

    def _step_group(self, group: dict) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, maximize, decoupled = group["amsgrad"], group["maximize"], group["decoupled_weight_decay"]

        def update(theta, grad, m, v, *rest, step_size: float, bias_correction2_sqrt: float):
            # rest: v_max (with amsgrad), then the two scratch arrays that hold the terms (the same arithmetic as
            # temporaries)
            s, s1 = rest[-2:]
            v_max = rest[0] if amsgrad else None
            g = grad
            if maximize:
                g = np.negative(grad, out=s1)
            if weight_decay != 0:
                if decoupled:
                    theta *= 1 - lr * weight_decay
                else:
                    g = np.add(g, np.multiply(theta, weight_decay, out=s), out=s1)
            _lerp_(m, g, 1 - beta1, s)
            v *= beta2
            np.multiply(g, 1 - beta2, out=s)
            s *= g
            v += s
            if v_max is not None:
                np.maximum(v_max, v, out=v_max)
                denom = np.sqrt(v_max, out=s)
            else:
                denom = np.sqrt(v, out=s)
            denom /= bias_correction2_sqrt
            denom += eps
            # theta += (−step_size · m) / denom, the update written over denom
            np.divide(np.multiply(m, -step_size, out=s1), denom, out=denom)
            theta += denom

        items = []
        buffers = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
        for p, grad, state in self._counted_states(group, buffers):
            t = state["step"]
            rule = functools.partial(update, step_size=lr / (1 - beta1 ** t),
                                     bias_correction2_sqrt=(1 - beta2 ** t) ** 0.5)
            items.append((rule, (p._data, grad) + tuple(state[name] for name in buffers)))
        parallel.blockwise(items)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's ``torch.optim.AdamW``).

    The same rule as :class:`Adam`, except that weight decay shrinks the parameters directly,
    ``theta <- theta (1 - lr lambda)``, instead of adding ``lambda theta`` to the gradient; the default
    ``weight_decay`` is ``1e-2``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
