"""Warnings and MemoryError as the one-line messages of the command line.

- A warning raised while a command runs (NumPy's ``overflow encountered in exp``, a large image, any cnnkit
  warning) is printed once as ``cnnkit <command>: warning: <message> (in <op or layer>)``: no file path, no
  source line. The op or layer is the innermost cnnkit ``Function`` (e.g. ``Convolution``) or ``Module``
  (e.g. ``CrossEntropyLoss``) on the stack when NumPy warned. A message seen before is not repeated (a
  diverging run would print one per batch); the last line says how many were left out.
- A diverging or non-finite training run ends with the Trainer's message and a suggestion for the command
  line (a tenth of the learning rate), and the checkpoint of the last complete epoch, which is kept.
- A model with BatchNorm whose validation loss (eval mode) is non-finite or over a thousand times the training
  loss gets a note: its running statistics have seen too few batches (PyTorch gives the same numbers on the same
  weights and batches; see docs/design.md).
- A ``MemoryError`` becomes ``out of memory: unable to allocate 977. MiB for an array with shape (...)``:
  NumPy's message carries the size asked for.
"""
from __future__ import annotations

import math
import sys
import warnings
from contextlib import contextmanager

from ..function import Function
from ..nn import Module


def out_of_memory(error: MemoryError) -> str:
    """The size a MemoryError was asked for, in words (NumPy's message has it; a bare MemoryError has none)."""
    text = " ".join(str(error).split())
    if not text:
        return "an allocation failed (the size asked for is unknown); try smaller inputs or batches"
    return f"{text[0].lower()}{text[1:]}; try smaller inputs or batches"


def diverged(error: Exception, lr: float, checkpoint, epochs_done: int) -> str:
    """The message of a run the Trainer stopped for a non-finite or diverging loss, with what to try instead."""
    text = str(error).removeprefix("Trainer: ").replace(" (lower the learning rate?)", "")
    kept = f"; the checkpoint of epoch {epochs_done} is kept ({checkpoint})" if epochs_done else ""
    return f"{text}; try a lower learning rate, e.g. --lr {lr / 10:g} (this run: {lr:g}){kept}"


def batch_norm_note(history: list, batches_per_epoch: int) -> str | None:
    """The note for the first epoch whose validation loss is non-finite or over 1000 times its training loss
    (for a model with BatchNorm), or None."""
    for row in history:
        val, train = row.get("val_loss"), row.get("train_loss")
        if val is None or train is None or not math.isfinite(train):
            continue
        if not math.isfinite(val) or val > 1000 * max(train, 1e-3):
            updates = row["epoch"] * batches_per_epoch
            return (f"epoch {row['epoch']}'s validation loss is {val:.3g} against a training loss of {train:.4g}: "
                    f"in eval mode BatchNorm normalizes with running statistics, which after {updates} batch(es) "
                    f"(momentum 0.1) are still mostly their initial values; train on more batches (more epochs or "
                    f"images, or a smaller --batch-size)")
    return None


def where(frame) -> str | None:
    """The innermost cnnkit op (a ``Function``) or else layer (a ``Module``) running in ``frame`` or its
    callers: its class name (e.g. ``Convolution``), or None."""
    layer = None
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Function):
            return type(owner).__name__
        if layer is None and isinstance(owner, Module):
            layer = type(owner).__name__
        frame = frame.f_back
    return layer


@contextmanager
def one_line_warnings(command: str, err):
    """While the block runs, every warning is written to ``err`` as one line (see the module docstring)."""
    seen, left_out = set(), [0]

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        op = where(sys._getframe(1)) if issubclass(category, RuntimeWarning) else None
        line = f"cnnkit {command}: warning: {text}" + (f" (in {op})" if op else "")
        if line in seen:
            left_out[0] += 1
            return
        seen.add(line)
        print(line, file=err, flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = show
        try:
            yield
        finally:
            if left_out[0]:
                print(f"cnnkit {command}: warning: {left_out[0]} repeated warning(s) left out", file=err)
