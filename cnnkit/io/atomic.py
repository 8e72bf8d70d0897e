"""Atomic file writes: write to a temporary file beside the target, sync it, rename it over the target.

A reader never sees a half-written file, and an interrupted write leaves the old file untouched. A process
killed during a write leaves its temporary file (``.<name>.<random>.tmp`` beside ``<name>``);
:func:`remove_stale_temps` removes those of a target when a new run starts.
"""
from __future__ import annotations

import glob
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_prefix(path) -> str:
    """The name prefix of :func:`atomic_output`'s temporary files for ``path``."""
    return f".{Path(path).name}."


def remove_stale_temps(path) -> list:
    """Remove the temporary files that interrupted writes of ``path`` left beside it (``.<name>.*.tmp``);
    returns the paths removed. Call it only when no other process is writing ``path``."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(temp_prefix(path))}*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:
            pass
    return removed


@contextmanager
def atomic_output(path):
    """``with atomic_output(p) as f: f.write(...)`` — ``p`` appears (or is replaced) only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
