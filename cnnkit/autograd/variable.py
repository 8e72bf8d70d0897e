"""``Variable``: PyTorch's pre-0.4 wrapper, kept by PyTorch for old code and kept here for the same reason.

Since PyTorch 0.4 a Variable is the Tensor itself: ``Variable(t)`` returns ``t`` (with ``requires_grad`` set when
asked); ``volatile`` is ignored, as in PyTorch (use ``no_grad()``).
"""
from __future__ import annotations

__all__ = ["Variable"]


def Variable(data, requires_grad: bool = False, volatile: bool = False):
    """``data`` itself (a Tensor), made to require grad if ``requires_grad``."""
    if not hasattr(data, "requires_grad_"):
        raise TypeError(f"Variable: expected a Tensor, got {type(data).__name__}")
    if requires_grad:
        data.requires_grad_(True)
    return data
