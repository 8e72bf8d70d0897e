"""Grad mode: whether ops record the computation graph, per thread.

While grad mode is on (the default), an op applied to a tensor that requires grad links its output
into the graph so that ``backward()`` can reach the inputs; inside ``no_grad()`` it computes the value
only (inference, optimizer updates). The mode belongs to the calling thread, as in PyTorch: a
``no_grad()`` block in one thread does not stop another thread from recording, and every new thread
starts with grad mode on.

    with ck.no_grad():            # nothing recorded inside
        y = model(x)
        with ck.enable_grad():    # recorded again
            z = model(x)
"""
from __future__ import annotations

import functools
from contextvars import ContextVar

__all__ = ["enable_grad", "enabled", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]

enabled: ContextVar[bool] = ContextVar("cnnkit_grad_enabled", default=True)
"""``enabled.get()``: the calling thread's grad mode (read on every op call; set it through the functions below).

A context variable rather than a ``threading.local``: it is as per-thread (a new thread starts from the
default) and cheaper to read; an asyncio task also keeps its own copy."""


def is_grad_enabled() -> bool:
    """Whether ops in the calling thread currently record the graph for backward."""
    return enabled.get()


class _Mode:
    """A grad-mode switch usable as a context manager and as a decorator (``@no_grad()`` or ``@no_grad``)."""

    mode = False

    def __new__(cls, *args, **kwargs):
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]) and not kwargs:
            return cls()(args[0])  # bare decorator: @no_grad
        return super().__new__(cls)

    def __enter__(self):
        self._previous = enabled.get()
        enabled.set(self.mode)

    def __exit__(self, *exc) -> None:
        enabled.set(self._previous)

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous = enabled.get()
            enabled.set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                enabled.set(previous)
        return wrapper


class set_grad_enabled(_Mode):
    """Grad mode ``mode``: set at once when called (``set_grad_enabled(False)`` alone switches recording off for
    the calling thread, as in PyTorch); as a context manager, the previous mode comes back after the block."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = enabled.get()
        enabled.set(self.mode)

    def __enter__(self):
        return None


class no_grad(_Mode):
    """Context manager and decorator: ops inside record no graph (inference, optimizer updates)."""

    mode = False


class enable_grad(_Mode):
    """Context manager and decorator: record the graph even inside ``no_grad``."""

    mode = True


class inference_mode(_Mode):
    """PyTorch's inference mode; in cnnkit the same as ``no_grad`` (``inference_mode(False)`` changes nothing)."""

    def __init__(self, mode: bool = True):
        self.mode = False if mode else None

    def __enter__(self):
        self._previous = enabled.get()
        if self.mode is not None:
            enabled.set(False)

    def __call__(self, fn):
        if self.mode is None:
            return fn
        return no_grad()(fn)
