"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``).

A scheduler rewrites ``group['lr']`` of its optimizer's parameter groups; call ``scheduler.step()``
once per epoch (or per iteration), *after* ``optimizer.step()``. Constructing a scheduler stores each
group's starting rate as ``group['initial_lr']`` (``base_lrs``) and applies the rate of epoch 0.

The schedules use PyTorch's *chainable* (recursive) forms, which update the current rate from the
previous one, so the sequences equal torch's to the last bits; ``step(epoch)`` (deprecated in PyTorch)
uses the closed forms below.

==========================  ============================================================
StepLR(step_size, gamma)    lr_e = lr_0 * gamma ** (e // step_size)
MultiStepLR(milestones, g)  lr_e = lr_0 * gamma ** (number of milestones <= e)
ConstantLR(factor, n)       lr_e = lr_0 * factor for e < n, lr_0 afterwards
LinearLR(s, f, n)           lr_e = lr_0 * (s + (f - s) * min(e, n) / n)        (warm-up)
ExponentialLR(gamma)        lr_e = lr_0 * gamma ** e
PolynomialLR(n, power)      lr_e = lr_0 * (1 - min(e, n) / n) ** power
CosineAnnealingLR(T, m)     lr_e = m + (lr_0 - m) * (1 + cos(pi e / T)) / 2
LambdaLR(f)                 lr_e = lr_0 * f(e)
SequentialLR                one schedule after another, switching at milestones
ReduceLROnPlateau           lr <- max(lr * factor, min_lr) when a metric stops improving
==========================  ============================================================

``state_dict()`` values are plain Python numbers, lists and dicts (JSON-friendly; ``best`` of
``ReduceLROnPlateau`` may be ``inf``, which Python's ``json`` writes as ``Infinity``).
"""
from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter

from .._warn import warn
from ..ops import validate
from .optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
           "PolynomialLR", "CosineAnnealingLR", "SequentialLR", "ReduceLROnPlateau"]

_EPOCH_DEPRECATION = ("scheduler.step(epoch) is deprecated (as in PyTorch): call scheduler.step() without "
                      "the epoch; with an epoch the closed form of the schedule is used")


class LRScheduler:
    """Base class of the schedules. Subclasses implement ``get_lr()`` (the chainable form, from the
    current ``group['lr']``) and optionally ``_get_closed_form_lr()`` (from ``base_lrs`` and
    ``last_epoch``), and list their hyper-parameters in ``_hyper`` (saved in ``state_dict``).
    """

    _hyper: tuple = ()
    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        who = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        validate.integer(last_epoch, "last_epoch", who, minimum=-1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{who}: param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   f"a scheduler with last_epoch={last_epoch}; load the optimizer's state first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and apply the rate of the first epoch."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The rates of the next epoch (``last_epoch`` has already been advanced)."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates set by the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new rates into the optimizer's groups."""
        self._step_count += 1
        if epoch is not None:
            warn(_EPOCH_DEPRECATION)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _group_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    # ----- state dict ------------------------------------------------------------------------------
    def _state_keys(self) -> tuple:
        return ("base_lrs", "last_epoch", "_step_count", "_last_lr") + self._hyper

    def state_dict(self) -> dict:
        """Every attribute that defines the schedule's position and shape (not the optimizer)."""
        return {k: _plain(getattr(self, k)) for k in self._state_keys()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()`` (a torch scheduler's state dict of the same class works too).

        Keys are checked before anything changes; unknown keys are ignored.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"{who}: expected a dict, got {type(state_dict).__name__}")
        missing = [k for k in self._state_keys() if k not in state_dict]
        if missing:
            raise ValueError(f"{who}: missing key(s) {', '.join(map(repr, missing))}")
        values = {k: state_dict[k] for k in self._state_keys()}
        n = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr", "min_lrs"):
            if key in values and (not isinstance(values[key], (list, tuple)) or len(values[key]) != n):
                raise ValueError(f"{who}: '{key}' must be a list with one value per parameter group ({n}), "
                                 f"got {values[key]!r}")
        for key in ("last_epoch", "_step_count"):
            if key in values and not validate.is_int(values[key]):
                raise ValueError(f"{who}: '{key}' must be an integer, got {values[key]!r}")
        values = self._convert_loaded(values)
        for k, v in values.items():
            setattr(self, k, list(v) if isinstance(v, tuple) else v)

    def _convert_loaded(self, values: dict) -> dict:
        """Loaded values in the form the schedule keeps them (raise ValueError for one it cannot take)."""
        return values


def _plain(value):
    """A JSON-friendly copy: Counter/dict -> dict, tuple -> list, numbers unchanged."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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
            raise ValueError(f"MultiStepLR.load_state_dict: 'milestones' must map epochs to counts, got {values['milestones']!r}") from None
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


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching to the next at each of ``milestones`` (epochs).

    Typical use: ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 95)],
    milestones=[5])`` for a warm-up followed by cosine decay.
    """

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"SequentialLR: expected an Optimizer, got {type(optimizer).__name__}")
        schedulers = list(schedulers)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: expects at least one scheduler, got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: ReduceLROnPlateau (index {i}) is not supported: its step() needs "
                                 f"the metric")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: scheduler at index {i} is a {type(s).__name__}, not a scheduler")
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {type(s).__name__} at index {i} belongs to a different "
                                 f"optimizer")
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects one milestone fewer than schedulers, got {len(schedulers)} "
                             f"scheduler(s) and {len(milestones)} milestone(s)")
        if any(not validate.is_int(m) for m in milestones) or milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing integers, got {milestones!r}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self._step_count = 0
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._recursive_undo(self)  # undo the initial step each scheduler took when it was built
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def _recursive_undo(self, sched) -> None:
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                self._recursive_undo(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        self._step_count += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        return {"base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch, "_step_count": self._step_count,
                "_last_lr": list(self._last_lr), "_milestones": list(self._milestones),
                "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict) -> None:
        who = "SequentialLR.load_state_dict"
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"{who}: expected a dict, got {type(state_dict).__name__}")
        missing = [k for k in ("last_epoch", "_last_lr", "_milestones", "_schedulers") if k not in state_dict]
        if missing:
            raise ValueError(f"{who}: missing key(s) {', '.join(map(repr, missing))}")
        subs = state_dict["_schedulers"]
        if not isinstance(subs, (list, tuple)) or len(subs) != len(self._schedulers):
            raise ValueError(f"{who}: '_schedulers' must hold {len(self._schedulers)} state dicts")
        for s, sd in zip(self._schedulers, subs):
            missing = [k for k in s._state_keys() if k not in sd]
            if missing:
                raise ValueError(f"{who}: state of {type(s).__name__} lacks {', '.join(map(repr, missing))}")
        for s, sd in zip(self._schedulers, subs):
            s.load_state_dict(sd)
        self.last_epoch = int(state_dict["last_epoch"])
        self._last_lr = list(state_dict["_last_lr"])
        self._milestones = list(state_dict["_milestones"])
        self.base_lrs = list(state_dict.get("base_lrs", self.base_lrs))
        self._step_count = int(state_dict.get("_step_count", self._step_count))


class ReduceLROnPlateau(LRScheduler):
    """Reduce the rate when a metric has stopped improving: call ``step(metric)`` after each validation.

    With ``mode='min'`` a value is an improvement when it is below ``best * (1 - threshold)``
    (``threshold_mode='rel'``) or ``best - threshold`` (``'abs'``); ``'max'`` mirrors this. After more
    than ``patience`` epochs without improvement, every group's rate becomes
    ``max(lr * factor, min_lr)`` (skipped when the change is at most ``eps``), and ``cooldown`` epochs
    pass before bad epochs are counted again.
    """

    _hyper = ("factor", "default_min_lr", "min_lrs", "patience", "cooldown", "eps", "best", "cooldown_counter",
              "num_bad_epochs", "mode_worse", "mode", "threshold", "threshold_mode")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0,
                 eps: float = 1e-8):
        who = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{who}: expected an Optimizer, got {type(optimizer).__name__}")
        if not validate.is_real(factor) or not 0 <= factor < 1:
            raise ValueError(f"{who}: factor must be >= 0 and < 1.0, got {factor!r}")
        validate.non_negative_int(patience, "patience", who)
        validate.non_negative_int(cooldown, "cooldown", who)
        validate.finite_number(threshold, "threshold", who)
        validate.finite_number(eps, "eps", who)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"{who}: expected {n} min_lrs (one per parameter group), got {len(min_lr)}")
            for m in min_lr:
                validate.finite_number(m, "min_lr", who)
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            validate.finite_number(min_lr, "min_lr", who)
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.optimizer = optimizer
        self.factor, self.patience, self.cooldown, self.eps = factor, patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _state_keys(self) -> tuple:
        return ("last_epoch", "_last_lr") + self._hyper

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record one value of the monitored metric (a number or a one-element Tensor)."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: metrics must be a number or a one-element tensor, "
                            f"got {type(metrics).__name__}") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warn(_EPOCH_DEPRECATION)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but "
                                   f"min_lr lists {len(self.min_lrs)}; update min_lrs after add_param_group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def _convert_loaded(self, values: dict) -> dict:
        if values["mode"] not in ("min", "max") or values["threshold_mode"] not in ("rel", "abs"):
            raise ValueError(f"{type(self).__name__}.load_state_dict: invalid mode {values['mode']!r} / threshold_mode {values['threshold_mode']!r}")
        for key in ("best", "mode_worse"):
            values[key] = float(values[key])
        return values

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
