"""``LRScheduler``: the base of the learning-rate schedules.

A schedule rewrites ``group['lr']`` of its optimizer's groups once per ``step()``. Subclasses give the
*chainable* form ``get_lr()`` (the next rate from the current one, as PyTorch computes it, so sequences
equal torch's to the last bits) and optionally the closed form ``_get_closed_form_lr()`` (the rate of
epoch e from ``base_lrs``), used by the deprecated ``step(epoch)``. ``state_dict()`` holds plain Python
values (JSON-friendly); ``load_state_dict`` checks every key before it changes anything.
"""
from __future__ import annotations

from ..._warn import warn
from ...ops import validate
from ..optimizer import Optimizer

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
