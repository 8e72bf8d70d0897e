"""Resuming a run: reading a Trainer checkpoint and putting it back all or nothing.

A Trainer checkpoint (:meth:`Trainer.state_dict`) holds ``model``, ``optimizer``, ``scheduler``, ``epoch``, ``rng``
and ``history``, and ``partial`` when an epoch was stopped at a batch boundary. :func:`read_checkpoint` checks its
shape before anything changes; :func:`restore_all_or_nothing` loads model, optimizer, scheduler and random state,
and if one of them does not fit it puts the earlier ones back, so a failed load leaves the Trainer as it was.
"""
from __future__ import annotations

from ..io.checkpoint import load
from ..ops import validate
from ..random import set_rng_state
from .guard import deep_copy_state
from .restore import checkpoint_model

__all__ = ["PARTIAL_KEYS", "read_checkpoint", "restore_all_or_nothing", "partial_epoch"]

PARTIAL_KEYS = frozenset({"batches", "rng_epoch", "rng", "loss_total", "loss_count", "correct", "scored", "seen",
                          "seconds"})
"""What a stopped epoch's record holds: the batches done, the random states and the running sums."""

_WHO = "Trainer.load_checkpoint"


def read_checkpoint(path, with_scheduler: bool) -> dict:
    """The checkpoint at ``path``, checked to be a Trainer's (and with a scheduler state iff ``with_scheduler``)."""
    state = load(path)
    if not isinstance(state, dict):
        raise ValueError(f"{_WHO}: {path} holds a {type(state).__name__}, not a Trainer checkpoint")
    for key in ("model", "optimizer", "epoch", "rng"):
        if key not in state:
            raise ValueError(f"{_WHO}: {path} has no '{key}' entry (not a Trainer checkpoint)")
    epoch = state["epoch"]
    if not validate.is_int(epoch) or epoch < 0:
        raise ValueError(f"{_WHO}: {path} has an invalid epoch {epoch!r}")
    history = state.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ValueError(f"{_WHO}: {path} has an invalid history (expected a list of dicts)")
    if (state.get("scheduler") is None) == with_scheduler:
        raise ValueError(f"{_WHO}: {path} was written "
                         f"{'without' if state.get('scheduler') is None else 'with'} a scheduler, this Trainer "
                         f"has {'one' if with_scheduler else 'none'}")
    if not isinstance(state["model"], dict):
        raise ValueError(f"{_WHO}: {path} has no model state dict")
    return state


def restore_all_or_nothing(state: dict, path, network, optimizer, scheduler) -> None:
    """Load ``state`` into ``network``, ``optimizer``, ``scheduler`` and the random generator; on a failure put
    back what was loaded and raise ``ValueError`` naming the checkpoint's model and the network."""
    model_backup = {k: v._data.copy() for k, v in network.state_dict().items()}
    optimizer_backup = deep_copy_state(optimizer.state_dict())
    scheduler_backup = deep_copy_state(scheduler.state_dict()) if scheduler is not None else None
    try:
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
    except Exception as e:
        network.load_state_dict(model_backup)
        optimizer.load_state_dict(optimizer_backup)
        if scheduler is not None:
            scheduler.load_state_dict(scheduler_backup)
        if isinstance(e, (ValueError, TypeError, KeyError)):
            raise ValueError(f"{_WHO}: {path} ({checkpoint_model(state)}) does not fit this Trainer's "
                             f"{type(network).__name__}: {e}") from e
        raise


def partial_epoch(state: dict) -> dict | None:
    """The stopped epoch's record of a checkpoint, or None (none, or not a complete record)."""
    partial = state.get("partial")
    return partial if isinstance(partial, dict) and PARTIAL_KEYS <= set(partial) else None
