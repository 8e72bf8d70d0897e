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

from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["enable_grad", "enabled", "is_grad_enabled", "no_grad", "set_grad_enabled"]

enabled: ContextVar[bool] = ContextVar("cnnkit_grad_enabled", default=True)
"""``enabled.get()``: the calling thread's grad mode (read on every op call; set it through the functions below).

A context variable rather than a ``threading.local``: it is as per-thread (a new thread starts from the
default) and cheaper to read; an asyncio task also keeps its own copy."""


def is_grad_enabled() -> bool:
    """Whether ops in the calling thread currently record the graph for backward."""
    return enabled.get()


@contextmanager
def set_grad_enabled(mode: bool):
    """Context manager: grad mode ``mode`` in the calling thread inside the block, the previous mode after it."""
    previous = enabled.get()
    enabled.set(bool(mode))
    try:
        yield
    finally:
        enabled.set(previous)


def no_grad():
    """Context manager: ops inside it record no graph (inference, optimizer updates)."""
    return set_grad_enabled(False)


def enable_grad():
    """Context manager: record the graph even inside ``no_grad``."""
    return set_grad_enabled(True)
