"""The optional oneDNN backend (the ``cnnkit[onednn]`` extra): oneDNN's primitives driven over ctypes.

    library   finding and loading libdnnl, the C declarations, engine/stream, thread count, execution counter
    memory    memory descriptors of NumPy arrays, reorders, Primitive (one created primitive and its runs)
    cache     the primitive cache, keyed by operation, shapes, strides, geometry and threads
    conv      convolution forward, backward-data and backward-weights (float32)
    batch_norm  batch normalization's passes over channels-last float32 data (partial statistics and gradient
                sums added in float64 by the op, the per-channel affine map)

:func:`active` is what the dispatcher asks: the library loaded and the switch on. The switch is
``cnnkit.backends.onednn.enabled`` (on by default; ``CNNKIT_ONEDNN=0`` turns it off and keeps the library
unloaded). float64 and anything oneDNN has no primitive for run on the NumPy kernels.
"""
from __future__ import annotations

import os

from . import batch_norm, cache, conv, library
from .library import executions, load_error, version

__all__ = ["available", "active", "enabled", "set_enabled", "version", "load_error", "executions", "cache",
           "conv", "library", "batch_norm"]

_enabled = os.environ.get("CNNKIT_ONEDNN", "") != "0"


def available() -> bool:
    """Is the oneDNN library loaded (installed, compatible, not switched off by CNNKIT_ONEDNN=0)?"""
    return library.lib() is not None


def enabled() -> bool:
    """The switch (``cnnkit.backends.onednn.enabled``)."""
    return _enabled


def set_enabled(on: bool) -> None:
    global _enabled
    if not isinstance(on, bool):
        raise TypeError(f"backends.onednn.enabled: expected a bool, got {on!r}")
    _enabled = on


def active() -> bool:
    """Will supported layers run on oneDNN (switch on and library loaded)?"""
    return _enabled and available()
