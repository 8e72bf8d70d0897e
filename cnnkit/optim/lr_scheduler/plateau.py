"""``ReduceLROnPlateau``: lr <- max(lr * factor, min_lr) when a monitored metric stops improving."""
from __future__ import annotations

import math

from ..._warn import warn
from ...ops import validate
from ..optimizer import Optimizer
from .base import _EPOCH_DEPRECATION, LRScheduler


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
            raise ValueError(f"{type(self).__name__}.load_state_dict: invalid mode {values['mode']!r} / "
                             f"threshold_mode {values['threshold_mode']!r}")
        for key in ("best", "mode_worse"):
            values[key] = float(values[key])
        return values

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
