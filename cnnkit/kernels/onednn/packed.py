"""Pre-packed weights: a convolution weight reordered once into the layout its primitive chose, and kept.

oneDNN's fast convolutions read the weight in a blocked layout (e.g. ``OIhw16i16o``), not cnnkit's
(O, C/g, kH, kW). Reordering it costs a pass over the weight (and a fresh buffer's page faults) at every
call. Here the reordered copy is kept per (weight array, target memory descriptor) when the caller says the
weight is not being trained (``keep``: a forward pass that will not ask for the weight gradient — inference
under ``no_grad``, a frozen layer), so every inference call after the first reorders nothing. A weight being
trained is not kept: oneDNN's backward-data primitive wants another layout than the forward one (measured:
39 layouts for ResNet-18's 20 convolutions), so a kept copy would never be read before the optimizer step
drops it, and it would add the weights' size to the training peak (ResNet-50: +156 MiB, 12%). Any kept copy
of the right layout is used by every call (lookups are always made).

A kept copy is valid only while the weight's values are unchanged. Every write that cnnkit makes to an array in
place calls :func:`written` (the in-place Tensor ops and ``t[...] = v``, which also bump the Tensor's version,
the optimizers' ``step``, ``load_state_dict``, ``nn.init``, ``vector_to_parameters``, the gradient check's
perturbations, the training guard's rollback, the distributed broadcasts), which drops the copies of every
weight sharing memory with that array (same base buffer). ``t.data = other`` gives the weight another array:
it is looked up afresh. A write made with NumPy directly on the array (``t.numpy()[...] = v``) is not seen:
call :func:`written` (or :func:`clear`) after one.

Beside its copies, a weight's entry keeps whether all its values are finite (:func:`finite`, asked by the fused
convolution + ReLU), forgotten on the same writes.

Bounded: at most :data:`CAPACITY` weights and :data:`MAX_BYTES` of packed copies, least recently used dropped
first; a weight array's copies are dropped when the array is freed (a weak reference).
"""
from __future__ import annotations

import ctypes
import threading
import weakref
from collections import OrderedDict

import numpy as np

from . import library

__all__ = ["ENABLED", "CAPACITY", "MAX_BYTES", "get", "finite", "all_finite", "written", "clear", "size", "nbytes",
           "stats"]

ENABLED = True
"""Keep packed weights (``bench/models.py --prepack-ab`` switches it off for its A/B rows; nothing else
needs to): off, every call reorders the weight into a fresh buffer, as before pre-packing."""

CAPACITY = 512
"""Weight arrays whose packed copies are kept at most."""

MAX_BYTES = 512 * 2 ** 20
"""Bytes of packed copies kept at most."""

_lock = threading.RLock()
_entries: OrderedDict = OrderedDict()        # id(weight array) -> _Entry
_by_root: dict = {}                           # id(base buffer) -> {id(weight array), ...}
_bytes = 0
_counts = {"hits": 0, "packs": 0}


def _root(a: np.ndarray):
    """The owner of ``a``'s memory: the bottom of its chain of views (``a`` itself when it owns its memory), or
    the object it was made from (``np.frombuffer``'s bytes, a memory map), which every view of it shares."""
    while a.base is not None:
        if not isinstance(a.base, np.ndarray):
            return a.base.obj if isinstance(a.base, memoryview) else a.base   # frombuffer: a memoryview per call
        a = a.base
    return a


class _Entry:
    """The packed copies of one weight array: [(cloned memory descriptor, buffer), ...]."""

    def __init__(self, key: int, array: np.ndarray):
        self.ref = weakref.ref(array, lambda _, key=key: _drop(key))
        self.root = id(_root(array))
        self.packs: list = []
        self.finite: bool | None = None     # all values finite? (asked by the fused conv + ReLU), None: not asked

    def nbytes(self) -> int:
        return sum(buf.nbytes for _, buf in self.packs)

    def release(self) -> None:
        destroy = library.lib().dnnl_memory_desc_destroy
        for md, _ in self.packs:
            destroy(md)
        self.packs = []


def _drop(key: int) -> None:
    """Forget the copies of weight ``key`` (an id)."""
    global _bytes
    with _lock:
        entry = _entries.pop(key, None)
        if entry is None:
            return
        _bytes -= entry.nbytes()
        keys = _by_root.get(entry.root)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del _by_root[entry.root]
        entry.release()


def get(weight: np.ndarray, want, pack, keep: bool = True) -> np.ndarray:
    """The buffer holding ``weight`` in the layout ``want`` (a memory descriptor): the kept one, or
    ``pack(buffer)`` run on a buffer of ``want``'s size (it reorders the weight into it): a fresh one, kept, if
    ``keep``, else this thread's transient one (:func:`.memory.transient`), valid until the calling thread's next
    request, i.e. for the one primitive run it is asked for."""
    from .memory import aligned, md_equal, md_size, transient

    global _bytes
    key = id(weight)
    if ENABLED:
        with _lock:
            entry = _entries.get(key)
            if entry is not None and entry.ref() is weight:
                for md, buf in entry.packs:
                    if md_equal(md, want):
                        _entries.move_to_end(key)
                        _counts["hits"] += 1
                        return buf
    if not (ENABLED and keep):
        buf = transient("weights", md_size(want))
        pack(buf)
        return buf
    buf = aligned(md_size(want))
    pack(buf)
    md = ctypes.c_void_p()
    library.check(library.lib().dnnl_memory_desc_clone(ctypes.byref(md), want), "dnnl_memory_desc_clone")
    with _lock:
        _counts["packs"] += 1
        entry = _entry(weight)
        entry.packs.append((md, buf))
        _bytes += buf.nbytes
        _keep(key)
    return buf


def _keep(key: int) -> None:
    """Mark weight ``key`` most recently used and drop the least recently used beyond the bounds (lock held)."""
    _entries.move_to_end(key)
    while len(_entries) > CAPACITY or (_bytes > MAX_BYTES and len(_entries) > 1):
        _drop(next(iter(_entries)))


def _entry(weight: np.ndarray) -> _Entry:
    """The entry of ``weight`` (made if it has none); the caller holds the lock."""
    key = id(weight)
    entry = _entries.get(key)
    if entry is None or entry.ref() is not weight:
        if entry is not None:
            _drop(key)
        entry = _entries[key] = _Entry(key, weight)
        _by_root.setdefault(entry.root, set()).add(key)
    return entry


def finite(weight: np.ndarray) -> bool:
    """Are all of ``weight``'s values finite (no NaN, no ±inf)? Kept beside its packed copies and forgotten on
    the same writes, so a weight is read once while unchanged (the fused convolution + ReLU asks at each call:
    oneDNN's ReLU post-op maps NaN to 0)."""
    with _lock:
        entry = _entries.get(id(weight))
        if entry is not None and entry.ref() is weight and entry.finite is not None:
            return entry.finite
    ok = all_finite(weight)
    if ENABLED:
        with _lock:
            _entry(weight).finite = ok
            _keep(id(weight))
    return ok


def all_finite(a: np.ndarray) -> bool:
    """No NaN or ±inf in ``a`` (two reductions: min and max propagate NaN)."""
    return bool(np.isfinite(a.min()) and np.isfinite(a.max()))


def written(array: np.ndarray) -> None:
    """``array``'s memory has been changed in place: forget the packed copies of every weight sharing its base
    buffer (cheap when none is kept)."""
    if not _entries or not isinstance(array, np.ndarray):
        return
    with _lock:
        for key in list(_by_root.get(id(_root(array)), ())):
            _drop(key)


def clear() -> None:
    """Forget every packed weight."""
    with _lock:
        for key in list(_entries):
            _drop(key)


def size() -> int:
    """Weight arrays with packed copies kept."""
    with _lock:
        return sum(1 for entry in _entries.values() if entry.packs)


def nbytes() -> int:
    """Bytes of packed copies kept."""
    return _bytes


def stats() -> dict:
    """{'packs': packed copies kept, 'hits': reorders saved by a kept copy} since the process started."""
    return dict(_counts)
