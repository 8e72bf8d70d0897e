"""``warn``: a warning attributed to the user's line, not to cnnkit's internals.

Python's ``warnings.warn`` needs a ``stacklevel`` counted by hand from the call site, which breaks as
soon as a function is reached through another path (a layer, a functional, an alias). Here the level is
found instead: the first frame outside the cnnkit package is the one the warning points at.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent)

__all__ = ["user_frame", "warn"]


def user_frame(depth: int = 1):
    """The first frame outside the cnnkit package, searched from the caller's caller (``depth`` frames up from
    this function's caller); None when every frame is inside cnnkit."""
    frame = sys._getframe(depth + 1)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame = frame.f_back
    return frame


def _outside_level() -> int:
    """The ``stacklevel`` (as ``warnings.warn`` counts it from its caller) of the first frame outside cnnkit."""
    frame, level = sys._getframe(2), 1          # frame 2 = warn's caller; level 1 means that caller
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` reported at the user's code that led here."""
    warnings.warn(message, category, stacklevel=_outside_level() + 1)
