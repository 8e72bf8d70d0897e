"""Which epoch is the best so far, by a metric of the history: for the best checkpoint and early stopping.

A metric whose name ends in ``acc`` is better when higher (``val_acc``, ``train_acc``), any other (``val_loss``,
``train_loss``) when lower. The best epoch is the first one with the best value (a later equal value is no
improvement); non-finite or missing values never count.

    epoch = best_epoch(history, "val_acc")          None if no epoch has a value
    stale = epochs_without_improvement(history, "val_acc")   epochs since that one

The Trainer writes the checkpoint, then the best checkpoint: a kill between the two leaves the best checkpoint an
epoch behind the history when that epoch was the best. :func:`best_is_behind` tells, from the best checkpoint's
header alone, and the next start writes it again from the state just loaded (that epoch's).
"""
from __future__ import annotations

import math

from ..io.checkpoint import CheckpointError, load_value

METRICS = ("val_acc", "val_loss", "train_acc", "train_loss")


def higher_is_better(metric: str) -> bool:
    return metric.endswith("acc")


def check_metric(metric) -> str:
    """``metric`` if it is one of METRICS (the Trainer's ``best_metric``)."""
    if metric not in METRICS:
        raise ValueError(f"Trainer: best_metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return metric


def best_epoch(history: list, metric: str):
    """The epoch of the history's best value of ``metric`` (the first on ties), or None."""
    sign = 1.0 if higher_is_better(metric) else -1.0
    best, epoch = -math.inf, None
    for row in history:
        value = row.get(metric)
        if isinstance(value, (int, float)) and math.isfinite(value) and sign * value > best:
            best, epoch = sign * value, row["epoch"]
    return epoch


def epochs_without_improvement(history: list, metric: str) -> int:
    """Epochs since the best one (all of them if none has a value)."""
    if not history:
        return 0
    epoch = best_epoch(history, metric)
    return history[-1]["epoch"] - (epoch if epoch is not None else 0)


def best_is_behind(path, history: list, metric: str, epoch: int) -> bool:
    """True when ``epoch`` (the last one of ``history``) is the best by ``metric`` and the best checkpoint at
    ``path`` does not hold it (missing, unreadable, or of another epoch)."""
    if best_epoch(history, metric) != epoch:
        return False
    try:
        return load_value(path, "epoch") != epoch
    except CheckpointError:
        return True
