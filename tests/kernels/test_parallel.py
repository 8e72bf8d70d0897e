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
