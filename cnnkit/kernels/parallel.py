"""Threads, scratch memory and chunking for the convolution kernels.

A kernel over a batch of N images is cut into pieces [n0, n1) that threads claim as they become free
(:func:`over_batch`); within a piece, images are processed in chunks whose columns fit in
``column_budget`` bytes (:func:`chunks`). The kernels built on GEMMs split the batch over ``threads`` threads
of our own when NumPy's BLAS runs on one thread (OPENBLAS_NUM_THREADS=1, the steady setting on a shared
machine: docs/performance.md), and otherwise run on the calling thread and let BLAS's threads split each GEMM
(``split_blas_kernels`` forces either); the depthwise kernels, which call no BLAS, always split the batch.
The workers are never pinned to cores, and BLAS's thread count is only read, never changed.
Scratch arrays (:func:`workspace`) stay mapped between calls: a fresh buffer of megabytes costs more in page
faults than filling it does.
"""
from __future__ import annotations

import contextvars
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from . import contention
from .config import config

__all__ = ["blas_threads", "parts_for", "over_batch", "over_images_or_rows", "workspace", "release_workspace", "chunks",
           "BLOCK", "blockwise"]

_local = threading.local()   # per thread: scratch buffers, and whether it is running a part of a parallel kernel
_all_buffers: list = []      # every thread's scratch buffers, for release_workspace
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)  # a forked child has none of the parent's threads


_blas_libs: list | None = None


def blas_threads() -> int | None:
    """The thread count NumPy's BLAS runs with now (the smallest over the BLAS libraries loaded), read through
    threadpoolctl's handles, which only read it here; None if threadpoolctl is missing or finds no BLAS."""
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas_libs = [lc for lc in ThreadpoolController().lib_controllers if lc.user_api == "blas"]
        except Exception:  # threadpoolctl missing or unable to inspect the process
            _blas_libs = []
    counts = [lc.get_num_threads() for lc in _blas_libs]
    return min(counts) if counts else None


def parts_for(n: int, work: int, blas: bool = True) -> int:
    """How many parts a kernel over n images with ``work`` elements is split into (``blas``: a kernel whose
    work is mostly GEMMs, split as ``split_blas_kernels`` says: by default only when BLAS runs one thread)."""
    cfg = config()
    if work < cfg.parallel_min or getattr(_local, "inside", False):
        return 1
    if blas:
        split = cfg.split_blas_kernels
        if not (split or (split is None and blas_threads() == 1)):
            return 1
    return max(1, min(contention.configured(cfg), n))


def over_batch(fn, n: int, work: int, blas: bool = True) -> list:
    """Run ``fn(n0, n1)`` over the batch [0, n) on :func:`parts_for` threads; returns the results in batch order.

    The batch is cut into up to ``chunks_per_thread`` pieces per thread (of at least ``piece_min`` work),
    which the threads claim as they become free (a core slowed down by something else then does less of the
    work). The worker threads take pieces from the front, the calling thread from the back: it has usually
    just written the arrays involved (an input copy, an incoming gradient), and their tail is still in its
    core's cache. Workers run in a copy of the caller's context (they see its :func:`config`).

    The workers are plain threads: cnnkit never pins them to cores nor changes BLAS's thread count (both are
    settings of the whole process, which belongs to the user). A BLAS call inside a piece runs with BLAS's
    own threads."""
    global _pool
    parts = parts_for(n, work, blas)
    if parts <= 1:
        return [fn(0, n)]
    cfg = config()
    with _pool_lock:  # a larger pool replaces a smaller one (whose idle threads stay parked: no shutdown race)
        if _pool is None or _pool._max_workers < parts - 1:
            _pool = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="cnnkit-conv")
        pool = _pool
    pieces = min(n, max(parts, min(parts * cfg.chunks_per_thread, work // cfg.piece_min)))
    bounds = [n * i // pieces for i in range(pieces + 1)]
    results = [None] * pieces
    lock = threading.Lock()
    ends = [0, pieces]                       # the next piece from the front, one past the next from the back

    def run(front: bool) -> None:
        _local.inside = True
        try:
            while True:
                with lock:
                    if ends[0] >= ends[1]:
                        return
                    if front:
                        i = ends[0]
                        ends[0] += 1
                    else:
                        ends[1] -= 1
                        i = ends[1]
                results[i] = fn(bounds[i], bounds[i + 1])
        finally:
            _local.inside = False

    futures = [pool.submit(contextvars.copy_context().run, run, True) for _ in range(parts - 1)]
    try:
        run(False)
    finally:
        wait(futures)  # the other threads write into shared arrays: never leave before they are done
    for f in futures:
        f.result()  # re-raises a worker's exception
    return results


def over_images_or_rows(fn, n: int, rows: int, work: int) -> None:
    """Run ``fn(i0, i1, r0, r1)`` over images [i0, i1) × rows [r0, r1) of a batch of n images of ``rows``
    rows each: split over the images when there are at least as many as threads, else (a batch of one
    at inference) over the rows."""
    if n >= config().threads or rows < 2:
        over_batch(lambda a, b: fn(a, b, 0, rows), n, work)
    else:
        over_batch(lambda a, b: fn(0, n, a, b), rows, work)


def workspace(shape: tuple, dtype, slot: str = "cols") -> np.ndarray:
    """A scratch array that is used up before the next request for the same ``slot`` (one buffer per slot
    and thread, grown as needed): "cols" for columns, "pad" for a padded input, "out" and "aux" for
    Winograd's products and transforms."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
        _all_buffers.append(buffers)
    buf = buffers.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[slot] = np.empty(max(nbytes, 1), np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def release_workspace() -> None:
    """Free the scratch buffers of every thread (they are allocated again by the next convolution)."""
    for buffers in _all_buffers:
        buffers.clear()


def chunks(a: int, b: int, bytes_per_image: int, parts: int):
    """The image ranges of part [a, b) whose columns fit in this part's share of ``column_budget``."""
    step = max(1, (config().column_budget // parts) // max(bytes_per_image, 1))
    for c0 in range(a, b, step):
        yield c0, min(c0 + step, b)


BLOCK = 1 << 18
"""Elements per block of :func:`blockwise` (1 MiB of float32 per array): measured fastest for ResNet-18's SGD and
Adam steps among 2¹³ – 2²⁰ on 2 threads (smaller blocks pay more in per-call costs and in contention for the
interpreter lock; docs/performance.md, "Optimizer updates in blocks")."""


def blockwise(items: list) -> None:
    """Run elementwise updates in blocks, over threads for a large total.

    ``items`` is a list of ``(fn, arrays)``: ``fn(*blocks, s0, s1)`` updates matching blocks of ``arrays`` (all
    of one shape) in place, with two scratch arrays of the block's shape and the first array's dtype. A block's
    passes run one after another while it is still in the cache, and the blocks of all items are split over
    :func:`parts_for` threads (pieces claimed as threads become free, as in :func:`over_batch`). The arithmetic
    is the same elementwise arithmetic as on whole arrays, so the results are bitwise identical. An item whose
    arrays are not all C-contiguous, or one of at most a block when the total is too small to split, runs
    whole on the calling thread; so do all items, in order, when two items' first arrays (the ones updated) may
    overlap in memory (e.g. two parameters over one array), which blocks on two threads could race on."""
    work = sum(arrays[0].size for _, arrays in items)
    small = work < config().parallel_min
    if _overlapping([arrays[0] for _, arrays in items]):
        _scratched(items, lambda arrays: arrays)
        return
    whole, flat, blocks = [], [], []
    for fn, arrays in items:
        n = arrays[0].size
        if (small and n <= BLOCK) or not all(a.flags.c_contiguous for a in arrays):
            whole.append((fn, arrays))
            continue
        flat.append((fn, [a.reshape(-1) for a in arrays]))
        blocks.extend((len(flat) - 1, b, min(b + BLOCK, n)) for b in range(0, n, BLOCK))
    if whole:
        _scratched(whole, lambda arrays: arrays)
    if blocks:
        def run(i0: int, i1: int) -> None:
            _scratched([(flat[k][0], (k, b, e)) for k, b, e in blocks[i0:i1]],
                       lambda kbe: [a[kbe[1]:kbe[2]] for a in flat[kbe[0]][1]])
        over_batch(run, len(blocks), sum(e - b for _, b, e in blocks), blas=False)


def _overlapping(arrays: list) -> bool:
    """May two of ``arrays`` share memory? Only arrays over one owner are compared (by their bounds)."""
    owners = [_owner(a) for a in arrays]
    if len(set(map(id, owners))) == len(owners):
        return False
    return any(np.may_share_memory(a, b) for i, a in enumerate(arrays) for j, b in enumerate(arrays[i + 1:], i + 1)
               if owners[i] is owners[j])


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (``a`` itself, or the base its views lead to)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _scratched(calls: list, arrays_of) -> None:
    """``fn(*arrays, s0, s1)`` for each ``(fn, what)`` of ``calls`` (``arrays = arrays_of(what)``), with this
    thread's two scratch arrays ("block0", "block1" workspaces) viewed in the first array's shape."""
    calls = [(fn, arrays_of(what)) for fn, what in calls]
    longest = {}
    for _, arrays in calls:
        a = arrays[0]
        longest[a.dtype] = max(longest.get(a.dtype, 0), a.size)
    pairs = {dt: (workspace((n,), dt, "block0"), workspace((n,), dt, "block1")) for dt, n in longest.items()}
    for fn, arrays in calls:
        a = arrays[0]
        s0, s1 = pairs[a.dtype]
        fn(*arrays, s0[:a.size].reshape(a.shape), s1[:a.size].reshape(a.shape))
