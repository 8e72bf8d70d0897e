"""``cnnkit.cuda``: the answers PyTorch's ``torch.cuda`` gives on a machine without a GPU.

cnnkit runs on the CPU, so ``is_available()`` is False and ``device_count()`` is 0. Seeding and
synchronisation are no-ops (there is no CUDA generator or stream); asking about a device that does not exist
(``current_device``, ``get_device_name``, ``set_device``) raises ``RuntimeError`` saying cnnkit runs on the CPU.
"""
from __future__ import annotations

__all__ = ["current_device", "device_count", "empty_cache", "get_device_name", "is_available", "manual_seed",
           "manual_seed_all", "seed", "seed_all", "set_device", "synchronize"]


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """No-op: there is no CUDA generator (``cnnkit.manual_seed`` seeds everything cnnkit draws)."""


def manual_seed_all(seed: int) -> None:
    """No-op, as :func:`manual_seed`."""


def seed() -> None:
    """No-op."""


def seed_all() -> None:
    """No-op."""


def synchronize(device=None) -> None:
    """No-op: CPU work is synchronous."""


def empty_cache() -> None:
    """No-op: there is no CUDA cache."""


def _no_device(fn: str):
    raise RuntimeError(f"cuda.{fn}: no CUDA device: cnnkit runs on the CPU only (cuda.is_available() is False)")


def current_device() -> int:
    _no_device("current_device")


def get_device_name(device=None) -> str:
    _no_device("get_device_name")


def set_device(device) -> None:
    _no_device("set_device")
