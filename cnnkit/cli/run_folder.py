"""Where a ``cnnkit train`` run writes and what a resumed run keeps: runs are never lost.

- A new run never replaces an earlier one: if ``--out`` (default ``runs/<model>-<data>``) holds a run (a
  checkpoint, best checkpoint, metrics log or curve), the run goes to the first free sibling ``<out>-2``,
  ``<out>-3``, ... and says so; ``--overwrite`` removes the earlier run's files instead.
- ``--resume`` continues the run of its checkpoint with the options recorded in the checkpoint's ``meta``
  (``meta["options"]``): an option given on the command line replaces the recorded one with a notice if it can
  change mid-run (:data:`APPLIED`: epochs, batch size, learning rate, momentum, weight decay, L1, augmentation,
  early stopping, the best metric), and is refused with an error if it cannot (:data:`FIXED`: the model, the
  data, the image size, the validation split, the seed, the optimizer, the schedule).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..io.atomic import remove_stale_temps

CHECKPOINT, BEST, METRICS, CURVE = "checkpoint.safetensors", "best.safetensors", "metrics.csv", "curve.png"
RUN_FILES = (CHECKPOINT, BEST, METRICS, CURVE)
FIXED = ("model", "data", "classic", "image_size", "val_split", "seed", "optimizer", "schedule")
APPLIED = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "l1", "augment", "early_stop", "best_metric")
OPTION = {"model": "MODEL", "data": "--data", "classic": "--classic", "image_size": "--image-size",
          "val_split": "--val-split", "seed": "--seed", "optimizer": "--optimizer", "schedule": "--schedule",
          "epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "momentum": "--momentum",
          "weight_decay": "--weight-decay", "l1": "--l1", "augment": "--augment", "early_stop": "--early-stop",
          "best_metric": "--best-metric"}


def holds_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_FILES)


def choose(out: Path, *, resume: bool, overwrite: bool, err) -> Path:
    """The folder a run writes into (see the module docstring); nothing is created yet."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: is a file, not a folder")
    if resume or not holds_run(out):
        return out
    if overwrite:
        print(f"--overwrite: the earlier run in {out} is replaced", file=err)
        return out
    k = 2
    while (out.parent / f"{out.name}-{k}").exists():
        k += 1
    sibling = out.parent / f"{out.name}-{k}"
    print(f"{out} holds an earlier run, which is kept: writing to {sibling} (--overwrite replaces it, --resume "
          f"continues it)", file=err)
    return sibling


def prepare(out: Path, *, overwrite: bool) -> list:
    """Create ``out`` (an error names --out), remove the temporary files that a killed write left there and, with
    ``overwrite``, the earlier run's files; returns the temporary files removed."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"--out {out}: cannot create the folder ({e.strerror or e})") from None
    if overwrite:
        for name in RUN_FILES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    return [tmp for name in RUN_FILES for tmp in remove_stale_temps(out / name)]


def merge(given: dict, saved: dict, checkpoint) -> tuple:
    """The options of a resumed run: ``saved`` (the checkpoint's) with the explicitly ``given`` ones (not None)
    applied; returns (options, notices). A FIXED option that differs raises ValueError."""
    options, notices = dict(saved), []
    for key, value in given.items():
        if value is None or key not in saved or value == saved[key]:
            if key not in saved and value is not None:
                options[key] = value
            continue
        if key in FIXED:
            raise ValueError(f"--resume: {checkpoint} was trained with {_show(key, saved[key])}; "
                             f"{_show(key, value)} cannot continue it (start a new run instead)")
        if key != "epochs":  # continuing to another epoch count is what --epochs is for
            notices.append(f"{_show(key, value)} replaces the checkpoint's {_show(key, saved[key])}")
        options[key] = value
    return options, notices


def _show(key: str, value) -> str:
    if key == "model":
        return f"model {value}"
    if isinstance(value, bool):
        return OPTION[key] if value else f"no {OPTION[key]}"
    return f"{OPTION[key]} {'none' if value is None else format(value, 'g') if isinstance(value, float) else value}"
