"""Schedules that give the rate as a function of the epoch e (lr_0 = a group's ``initial_lr``).

==========================  ============================================================
LambdaLR(f)                 lr_e = lr_0 * f(e)
StepLR(step_size, gamma)    lr_e = lr_0 * gamma ** (e // step_size)
MultiStepLR(milestones, g)  lr_e = lr_0 * gamma ** (number of milestones <= e)
ConstantLR(factor, n)       lr_e = lr_0 * factor for e < n, lr_0 afterwards
LinearLR(s, f, n)           lr_e = lr_0 * (s + (f - s) * min(e, n) / n)        (warm-up)
ExponentialLR(gamma)        lr_e = lr_0 * gamma ** e
PolynomialLR(n, power)      lr_e = lr_0 * (1 - min(e, n) / n) ** power
CosineAnnealingLR(T, m)     lr_e = m + (lr_0 - m) * (1 + cos(pi e / T)) / 2
==========================  ============================================================

Each class steps with PyTorch's chainable form (from the current rate) and keeps the closed form above
for ``step(epoch)``.
"""
from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter

from ...ops import validate
from ..optimizer import Optimizer
from .base import LRScheduler


class LambdaLR(LRScheduler):
    """lr_e = initial_lr * lr_lambda(e), with one function for all groups or one per group.

    ``state_dict`` holds ``lr_lambdas``: ``None`` for plain functions/lambdas, the ``__dict__`` of
    callable objects (as in PyTorch).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"LambdaLR: expected an Optimizer, got {type(optimizer).__name__}")
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per parameter group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {type(f).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base_lr * f(self.last_epoch) for f, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        sd = super().state_dict()
        sd["lr_lambdas"] = [None if isinstance(f, types.FunctionType) or not hasattr(f, "__dict__")
                            else dict(f.__dict__) for f in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        lambdas = state_dict.get("lr_lambdas") if hasattr(state_dict, "get") else None
        if lambdas is not None and (not isinstance(lambdas, (list, tuple)) or len(lambdas) != len(self.lr_lambdas)):
            raise ValueError(f"LambdaLR.load_state_dict: 'lr_lambdas' must have {len(self.lr_lambdas)} entries")
        super().load_state_dict(state_dict)
        for f, saved in zip(self.lr_lambdas, lambdas or ()):
            if saved is not None:
                f.__dict__.update(saved)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs: lr_e = lr_0 * gamma ** (e // step_size)."""

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        validate.positive_int(step_size, "step_size", "StepLR")
        validate.finite_number(gamma, "gamma", "StepLR")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch (a milestone given twice counts twice)."""

    _hyper = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: milestones must be a list of integers, got {milestones!r}") from None
        for m in milestones:
            if not validate.is_int(m):
                raise ValueError(f"MultiStepLR: milestones must be integers, got {milestones!r}")
        validate.finite_number(gamma, "gamma", "MultiStepLR")
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]

    def state_dict(self) -> dict:
        sd = super().state_dict()
        sd["milestones"] = {int(k): int(v) for k, v in sorted(self.milestones.items())}
        return sd

    def _convert_loaded(self, values: dict) -> dict:
        try:
            values["milestones"] = Counter({int(k): int(v) for k, v in dict(values["milestones"]).items()})
        except (TypeError, ValueError):
            raise ValueError(f"MultiStepLR.load_state_dict: 'milestones' must map epochs to counts, "
                             f"got {values['milestones']!r}") from None
        return values


class ConstantLR(LRScheduler):
    """Multiply the rate by ``factor`` for the first ``total_iters`` epochs, then restore it."""

    _hyper = ("factor", "total_iters")

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not validate.is_real(factor) or not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be between 0 and 1, got {factor!r}")
        validate.non_negative_int(total_iters, "total_iters", "ConstantLR")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._group_lrs()]
        if self.last_epoch != self.total_iters:
            return self._group_lrs()
        return [lr * (1.0 / self.factor) for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up: scale the rate from ``start_factor`` to ``end_factor`` over ``total_iters`` epochs.

    lr_e = lr_0 * (start + (end - start) * min(e, total_iters) / total_iters); the chainable form
    multiplies the current rate by 1 + (end - start) / (total_iters * start + (e - 1) (end - start)).
    """

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not validate.is_real(start_factor) or not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be > 0 and <= 1, got {start_factor!r}")
        if not validate.is_real(end_factor) or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be between 0 and 1, got {end_factor!r}")
        validate.positive_int(total_iters, "total_iters", "LinearLR")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._group_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        delta = self.end_factor - self.start_factor
        scale = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [lr * scale for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                           * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: lr_e = lr_0 * gamma ** e."""

    _hyper = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        validate.finite_number(gamma, "gamma", "ExponentialLR")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay to zero over ``total_iters`` epochs: lr_e = lr_0 * (1 - min(e, total_iters) / total_iters) ** power."""

    _hyper = ("total_iters", "power")

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        validate.positive_int(total_iters, "total_iters", "PolynomialLR")
        validate.finite_number(power, "power", "PolynomialLR")
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing (SGDR without restarts): lr_e = eta_min + (lr_0 - eta_min)(1 + cos(pi e / T_max)) / 2.

    The chainable form (PyTorch's) computes
    lr_e = eta_min + (lr_{e-1} - eta_min) (1 + cos(pi e / T)) / (1 + cos(pi (e - 1) / T)),
    and past ``T_max`` the rate climbs back along the cosine (period ``2 T_max``).
    """

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        validate.positive_int(T_max, "T_max", "CosineAnnealingLR")
        validate.finite_number(eta_min, "eta_min", "CosineAnnealingLR")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and e > 0:
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(e * math.pi / T)) / 2 for base_lr in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._group_lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]
