"""``cnnkit.accelerator``: PyTorch's device-agnostic accelerator query; cnnkit has none (it runs on the CPU)."""
from __future__ import annotations

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator."""
    return None
