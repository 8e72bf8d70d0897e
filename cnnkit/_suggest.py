"""The nearest known name to an unknown one, for "did you mean" hints in error messages.

    did_you_mean("resnt18", models.list())     -> " (did you mean 'resnet18'?)"
    did_you_mean("xyz", models.list())         -> ""

The match is difflib's ratio (2·matches / total length) on lower-cased names, at least :data:`CUTOFF`.
"""
from __future__ import annotations

import difflib

CUTOFF = 0.6

__all__ = ["did_you_mean", "nearest"]


def nearest(name: str, names) -> str | None:
    """The name of ``names`` closest to ``name`` (difflib, case-insensitive), or None if none is close."""
    names = [str(n) for n in names]
    by_lower = {n.lower(): n for n in names}
    found = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=CUTOFF)
    return by_lower[found[0]] if found else None


def did_you_mean(name: str, names) -> str:
    """``" (did you mean 'X'?)"`` for the nearest name X of ``names``, or ``""``."""
    found = nearest(name, names)
    return f" (did you mean '{found}'?)" if found is not None else ""
