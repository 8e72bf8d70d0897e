"""The batch splitting of cnnkit.kernels.parallel: pieces, their order, and exceptions from workers."""
from __future__ import annotations

import pytest

from cnnkit import kernels
from cnnkit.kernels.parallel import over_batch


def test_over_batch_splits_and_orders():
    """The batch is cut into chunks_per_thread pieces per thread (never more than the images), claimed by
    the threads as they go; the results come back in batch order and a worker's exception is raised."""
    with kernels.using(threads=3, split_blas_kernels=True, parallel_min=10, piece_min=1):
        calls = []
        result = over_batch(lambda a, b: calls.append((a, b)) or (a, b), 13, 10)
        assert result == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 13)] and sorted(calls) == result
        assert over_batch(lambda a, b: (a, b), 7, 9) == [(0, 7)]                    # too little work
        assert over_batch(lambda a, b: (a, b), 2, 100) == [(0, 1), (1, 2)]          # one image per piece
        with kernels.using(chunks_per_thread=1):
            assert over_batch(lambda a, b: (a, b), 7, 10) == [(0, 2), (2, 4), (4, 7)]
        with kernels.using(chunks_per_thread=2, piece_min=4):                      # 10 // 4 = 2 < 3 threads
            assert over_batch(lambda a, b: (a, b), 7, 10) == [(0, 2), (2, 4), (4, 7)]
            assert len(over_batch(lambda a, b: (a, b), 7, 20)) == 5                 # 20 // 4 = 5 pieces

        def fail(a, b):
            if a == 0:
                raise ValueError("piece 0")
            return a

        with pytest.raises(ValueError, match="piece 0"):
            over_batch(fail, 6, 10)


def test_workers_see_the_callers_config():
    """The worker threads run in the caller's context: a scoped option reaches every piece."""
    with kernels.using(threads=3, split_blas_kernels=True, parallel_min=0, piece_min=1, column_budget=12345):
        budgets = over_batch(lambda a, b: kernels.config().column_budget, 6, 100)
    assert budgets == [12345] * 6


def test_workers_leave_the_process_alone():
    """Inside a parallel region BLAS keeps the process's thread count and every thread keeps the process's CPU
    affinity: cnnkit neither pins its workers nor switches BLAS's threads (both are process-wide settings)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import os

    def blas_threads():
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]

    before_blas = blas_threads()
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None

    def probe(a, b):
        affinity = os.sched_getaffinity(0) if cpus is not None else None
        return blas_threads(), affinity

    with kernels.using(threads=2, split_blas_kernels=True, parallel_min=0, piece_min=1):
        for blas in (True, False):
            seen = over_batch(probe, 4, 100, blas=blas)
            assert len(seen) >= 2
            assert all(b == before_blas and a == cpus for b, a in seen)
    assert blas_threads() == before_blas


def test_set_num_threads_sizes_the_pool():
    """ck.set_num_threads / get_num_threads (torch's names) set and read the default of config().threads; a
    kernels.using block still overrides it; bad values name the function."""
    import cnnkit as ck

    old = ck.get_num_threads()
    try:
        ck.set_num_threads(3)
        assert ck.get_num_threads() == 3 and kernels.config().threads == 3
        with kernels.using(parallel_min=0, piece_min=1, chunks_per_thread=1):
            assert over_batch(lambda a, b: (a, b), 6, 100, blas=False) == [(0, 2), (2, 4), (4, 6)]
            with kernels.using(threads=2):
                assert ck.get_num_threads() == 2
        for bad, error in ((0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)):
            with pytest.raises(error, match="set_num_threads: expected a positive int"):
                ck.set_num_threads(bad)
        assert ck.get_num_threads() == 3
    finally:
        ck.set_num_threads(old)
    assert ck.get_num_threads() == old


def test_gemm_kernels_split_when_blas_runs_one_thread():
    """split_blas_kernels=None (the default): a GEMM kernel is split over cnnkit's threads exactly when NumPy's
    BLAS runs one thread (here limited by the test, the user of its process); a non-BLAS kernel always is."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from cnnkit.kernels.parallel import blas_threads

    assert kernels.config().split_blas_kernels is None
    with kernels.using(threads=2, parallel_min=0, piece_min=1, chunks_per_thread=1):
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            assert blas_threads() == 1
            assert over_batch(lambda a, b: (a, b), 4, 100) == [(0, 2), (2, 4)]
            with kernels.using(split_blas_kernels=False):
                assert over_batch(lambda a, b: (a, b), 4, 100) == [(0, 4)]
        with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
            assert blas_threads() == 2
            assert over_batch(lambda a, b: (a, b), 4, 100) == [(0, 4)]
            assert over_batch(lambda a, b: (a, b), 4, 100, blas=False) == [(0, 2), (2, 4)]
            with kernels.using(split_blas_kernels=True):
                assert over_batch(lambda a, b: (a, b), 4, 100) == [(0, 2), (2, 4)]
