"""The primitive cache: a created oneDNN primitive per (operation, shapes, strides, dtype, geometry, threads).

Creating a primitive costs 0.1–10 ms (oneDNN generates its kernel's code); running one costs from a few µs.
So each is created once per layer shape and kept, least recently used dropped first beyond
:data:`CAPACITY`. A primitive dropped while another thread still runs it lives until that run ends (it is
destroyed with its last Python reference).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["CAPACITY", "get", "clear", "size"]

CAPACITY = 1024
"""Primitives kept at most (each holds a few kB of generated code and descriptors)."""

_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def get(key: tuple, create):
    """The cached value of ``key``, else ``create()`` stored under it (None is stored too: "unsupported")."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = create()
    with _lock:
        value = _cache.setdefault(key, value)
        _cache.move_to_end(key)
        while len(_cache) > CAPACITY:
            _cache.popitem(last=False)
    return value


def clear() -> None:
    """Drop every cached primitive."""
    with _lock:
        _cache.clear()


def size() -> int:
    return len(_cache)
