"""``SequentialLR``: schedules run one after another, switching at milestone epochs."""
from __future__ import annotations

from bisect import bisect_right

from ...ops import validate
from ..optimizer import Optimizer
from .base import LRScheduler
from .plateau import ReduceLROnPlateau


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
