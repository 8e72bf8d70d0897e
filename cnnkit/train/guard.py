"""The Trainer's guard against non-finite and diverging training: its errors, and the snapshot of the model and
optimizer taken before each batch so that a bad batch can be undone; and the error of a run file that cannot be
written (:class:`WriteError`, naming the file)."""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ..ops.inplace import changed
from ..tensor import Tensor


class NonFiniteLossError(FloatingPointError):
    """The loss, the gradients or the updated weights became NaN or infinite; training stopped and the
    model and optimizer were restored to their state before the offending batch."""


def all_finite(arrays) -> bool:
    """True if no array holds NaN or ±inf (one summation pass; an exact check only if the sum is not finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        for a in arrays:
            if a.dtype.kind in "fc" and not math.isfinite(a.sum()) and not np.isfinite(a).all():
                return False
    return True


def deep_copy_state(obj):
    """A copy of a state dict whose arrays no longer share memory with the live state."""
    if isinstance(obj, Tensor):
        return obj._data.copy()
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, dict):
        return {k: deep_copy_state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(deep_copy_state(v) for v in obj)
    return obj


class DivergenceError(NonFiniteLossError):
    """The loss grew beyond ``diverge_factor`` times the run's first loss; training stopped and the model and
    optimizer were restored to their state before the offending batch."""


class Snapshot:
    """The model's parameters and buffers and the optimizer's per-parameter state, copied before a batch so that
    a batch that produced non-finite values can be undone (one copy of the weights and optimizer state per step)."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        self.copies: dict = {}
        self.optimizer_state: dict = {}

    def take(self) -> None:
        for name, t in self.model.state_dict(keep_vars=True).items():
            c = self.copies.get(name)
            if c is None or c.shape != t._data.shape or c.dtype != t._data.dtype:
                self.copies[name] = t._data.copy()
            else:
                np.copyto(c, t._data)
        self.optimizer_state = {p: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                                for p, s in self.optimizer.state.items()}

    def restore(self) -> None:
        for name, t in self.model.state_dict(keep_vars=True).items():
            if name in self.copies:
                np.copyto(t._data, self.copies[name])
                changed(t)
        self.optimizer.state.clear()
        self.optimizer.state.update(self.optimizer_state)


class WriteError(OSError):
    """A file of the run (checkpoint, best checkpoint, log, plot) could not be written; ``path`` names it. The
    writes are atomic: the file holds what it held before. ``reason``: the system's words (e.g. "No space left on
    device")."""

    def __init__(self, path, reason: str):
        super().__init__(f"Trainer: cannot write {path} ({reason})")
        self.path, self.reason = path, reason


@contextmanager
def writing(path):
    """Turn an OSError of the block (writing ``path``) into a :class:`WriteError` naming ``path``."""
    try:
        yield
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(path, e.strerror or str(e)) from None
