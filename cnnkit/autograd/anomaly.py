"""Anomaly detection: which op's backward produced a NaN or an infinity, and where the user created it.

    with ck.autograd.detect_anomaly():
        loss = model(x).sum()
        loss.backward()     # RuntimeError: detect_anomaly: SqrtBackward returned nan ... created at train.py:12

Inside the block every op records where it was created (the first line of the call stack outside cnnkit, as
``warn`` reports it), and the backward walk checks each gradient an op's backward returns: the first one holding
a NaN or an infinity stops the walk with a ``RuntimeError`` naming the op, the input, and the user's line (the
ops before it in the walk delivered finite gradients, so this op is where the anomaly starts). With
``check_nan=False`` only the creation sites are recorded (PyTorch's argument); ``check_forward=True`` also
checks every op's forward outputs, as they are computed.

The mode belongs to the calling thread (and asyncio task), like grad mode: a context variable. The backward
walk reads it when it runs, so ``backward()`` must be called inside the block for the check; recording the
sites costs a stack walk per op, so the mode is for debugging, not for training runs.
"""
from __future__ import annotations

import linecache
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from .._warn import user_frame

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_detect_anomaly"]

mode: ContextVar[tuple | None] = ContextVar("cnnkit_detect_anomaly", default=None)
"""None when off, else ``(check_nan, check_forward)`` (read by ``Function.__call__`` and the backward walk)."""


@contextmanager
def set_detect_anomaly(enabled: bool, check_nan: bool = True, check_forward: bool = False):
    """Context manager: anomaly detection on (``enabled=True``) or off inside the block, the previous mode after."""
    for name, v in (("enabled", enabled), ("check_nan", check_nan), ("check_forward", check_forward)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"detect_anomaly: {name} must be a bool, got {v!r}")
    token = mode.set((bool(check_nan), bool(check_forward)) if enabled else None)
    try:
        yield
    finally:
        mode.reset(token)


def detect_anomaly(check_nan: bool = True, check_forward: bool = False):
    """Context manager: name the op (and the line that created it) whose backward produces a NaN or an infinity.

    ``check_nan``: raise on the first non-finite gradient an op's backward returns (else only record the
    creation sites). ``check_forward``: also raise on the first op whose forward output is not finite.
    """
    return set_detect_anomaly(True, check_nan, check_forward)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on in the calling thread."""
    return mode.get() is not None


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection is on and checks gradients for NaN and infinity."""
    m = mode.get()
    return m is not None and m[0]


def creation_site() -> str:
    """'file:line in function: source' of the user's code that is creating an op now (called by Function)."""
    frame = user_frame(2)
    if frame is None:
        return "inside cnnkit"
    code = frame.f_code
    line = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}" + (f": {line}" if line else "")


def _what(a: np.ndarray) -> str:
    kinds = [k for k, bad in (("nan", np.isnan(a).any()), ("inf", np.isinf(a).any())) if bad]
    return " and ".join(kinds)


def _site(f) -> str:
    site = getattr(f, "_site", None)
    return f"created at {site}" if site else "created outside detect_anomaly (its creation site was not recorded)"


def check_gradients(f, gxs: tuple) -> None:
    """Raise if any gradient the backward of ``f`` returned holds a NaN or an infinity."""
    for j, gx in enumerate(gxs):
        if gx is not None and gx.dtype.kind in "fc" and not np.isfinite(gx).all():
            name = repr(f).strip("<>")
            raise RuntimeError(f"detect_anomaly: {name} returned {_what(gx)} values in its gradient for input {j} "
                               f"(shape {tuple(gx.shape)}); the op was {_site(f)}")


def check_outputs(f, ys: tuple) -> None:
    """Raise if a forward output of ``f`` holds a NaN or an infinity (``check_forward=True``)."""
    for i, y in enumerate(ys):
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise RuntimeError(f"detect_anomaly: {type(f).__name__} produced {_what(y)} values in its output {i} "
                               f"(shape {tuple(y.shape)}), {_site(f)}")
