"""The optional oneDNN backend (the ``cnnkit[onednn]`` extra): oneDNN's primitives driven over ctypes.

    library   finding and loading libdnnl, the C declarations, engine/stream, thread count, execution counter
    memory    memory descriptors of NumPy arrays, reorders, Primitive (one created primitive and its runs)
    cache     the primitive cache, keyed by operation, shapes, strides, geometry and threads
    packed    weights kept reordered into their primitive's layout, dropped when the weight is written
    conv      convolution forward, backward-data and backward-weights (float32)
    pool      max and average pooling, forward and backward (float32)
    inner_product  the fully connected layer: forward (with bias), backward-data, backward-weights and bias (float32)
    batch_norm  batch normalization's passes over channels-last float32 data (partial statistics and gradient
                sums added in float64 by the op, the per-channel affine map)

:func:`active` is what the dispatcher asks: the library loaded and the switch on. The switch is
``cnnkit.backends.onednn.enabled`` (on by default; ``CNNKIT_ONEDNN=0`` turns it off and keeps the library
unloaded). float64 and anything oneDNN has no primitive for run on the NumPy kernels.

The switch has a process-wide default (:func:`set_enabled`, ``cnnkit.backends.onednn.enabled = X``) and a
scoped override (:func:`enabled_for`, ``cnnkit.backends.onednn.flags``) kept in a :class:`contextvars.ContextVar`,
like ``kernels.using``: an override changes nothing in other threads or asyncio tasks.
"""
from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager

from . import batch_norm, cache, conv, inner_product, library, packed, pool
from .library import executions, load_error, version

__all__ = ["available", "active", "enabled", "set_enabled", "enabled_for", "version", "load_error", "executions",
           "batch_norm", "cache", "conv", "inner_product", "library", "packed", "pool"]

_enabled = os.environ.get("CNNKIT_ONEDNN", "") != "0"
_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar("cnnkit_onednn_enabled", default=None)


def available() -> bool:
    """Is the oneDNN library loaded (installed, compatible, not switched off by CNNKIT_ONEDNN=0)?"""
    return library.lib() is not None


def enabled() -> bool:
    """The switch in effect here: the innermost :func:`enabled_for` of this thread / context, else the default."""
    on = _override.get()
    return _enabled if on is None else on


def _checked(on) -> bool:
    if not isinstance(on, bool):
        raise TypeError(f"backends.onednn.enabled: expected a bool, got {on!r}")
    return on


def set_enabled(on: bool) -> None:
    """Set the process-wide default (``cnnkit.backends.onednn.enabled = on``); scoped overrides still win."""
    global _enabled
    _enabled = _checked(on)


@contextmanager
def enabled_for(on: bool):
    """Switch the backend to ``on`` in this thread / context for the ``with`` block (nested blocks stack; the
    previous state returns after it, also on an exception)."""
    token = _override.set(_checked(on))
    try:
        yield
    finally:
        _override.reset(token)


def active() -> bool:
    """Will supported layers run on oneDNN here (switch on and library loaded)?"""
    return enabled() and available()
