"""Gradient averaging: one all-reduce per contiguous bucket of gradients, started while backward still runs.

After every rank's backward pass on its own shard of the batch, each gradient is replaced by the mean over the
R ranks,

    g ← (1/R) Σ_r g_r

which is the gradient of the loss averaged over the union of the shards (each g_r is already a mean over the b
samples of rank r, so this is the mean over the R·b samples of the global batch). Many small all-reduces cost a
latency each; the gradients are copied into a few flat buffers (buckets) of at most ``bucket_cap_mb`` megabytes
(parameters in reverse order of registration, the order backward produces them; one dtype per bucket),
all-reduced, divided by R and copied back.

Overlap with backward: the data-parallel wrapper reports every gradient as it arrives (``arrived``). From the
second backward pass on, a bucket whose parameters have all received as many gradients as in the pass before
(a parameter used twice in the graph receives two) is complete, and its all-reduce starts at once, non-blocking,
while backward goes on with the layers below; buckets start strictly in index order, so that every rank starts the
same all-reduces in the same order. ``finish()`` starts the rest, waits for all of them and copies the means back.
A gradient that arrives for a bucket already started (the graph changed between passes) marks the bucket late;
a small all-reduce of flags tells every rank which buckets to reduce once more, after backward, with the final
gradients: the result is always that of a plain all-reduce after backward.

A parameter without a gradient on a rank (unused in its forward) contributes zeros; the same flags leave ``.grad``
None only where no rank had one, so that the optimizer skips it exactly as a single process would.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["GradientBuckets"]


class GradientBuckets:
    """Averages the gradients of ``params`` over the ranks of ``group`` (a ``ProcessGroup``): ``reduce()`` after
    backward, or ``start()``, ``arrived(param)`` for each gradient during backward, then ``finish()``."""

    def __init__(self, params, group, bucket_cap_mb: float = 25.0):
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ValueError(f"GradientBuckets: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        self.params = [p for p in params if p.requires_grad]
        self.group = group
        cap = int(bucket_cap_mb * 1024 * 1024)
        self.buckets: list[list[int]] = []  # indices into self.params
        size, dtype = 0, None
        for i in reversed(range(len(self.params))):
            p = self.params[i]
            if not self.buckets or p._data.dtype != dtype or (size and size + p._data.nbytes > cap):
                self.buckets.append([])
                size, dtype = 0, p._data.dtype
            self.buckets[-1].append(i)
            size += p._data.nbytes
        self.buffers = [np.empty(sum(self.params[i]._data.size for i in b), self.params[b[0]]._data.dtype)
                        for b in self.buckets]
        self.bucket_of = np.empty(len(self.params), dtype=np.int64)
        for b, bucket in enumerate(self.buckets):
            self.bucket_of[bucket] = b
        self.index = {id(p): i for i, p in enumerate(self.params)}
        self.expected: np.ndarray | None = None  # gradients per parameter in the last pass
        self.started_early = 0  # buckets started during backward, over all passes (overlap at work)
        self.redone = 0  # late buckets reduced once more after backward, over all passes
        self._reset()

    def _reset(self) -> None:
        self.counts = np.zeros(len(self.params), dtype=np.int64)
        self.missing = [len(b) for b in self.buckets]  # parameters of each bucket not complete yet
        if self.expected is not None:  # a parameter that received none last time is complete from the start
            for i in np.flatnonzero(self.expected == 0):
                self.missing[self.bucket_of[i]] -= 1
        self.pending: list = []  # one PendingAllReduce per started bucket, in bucket order
        self.late = np.zeros(len(self.buckets), dtype=bool)

    # ----- during backward ------------------------------------------------------------------------
    def start(self) -> None:
        """A backward pass begins (before its first gradient arrives)."""
        self._reset()
        self._start_ready()

    def arrived(self, param) -> None:
        """``param`` has received a gradient (called from its post-accumulate-grad hook)."""
        i = self.index[id(param)]
        self.counts[i] += 1
        b = self.bucket_of[i]
        if b < len(self.pending):
            self.late[b] = True
        elif self.expected is not None and self.counts[i] == self.expected[i]:
            self.missing[b] -= 1
            self._start_ready()
        if self.pending:
            self.group.progress(self.pending)

    def _start_ready(self) -> None:
        if self.expected is None:
            return
        while len(self.pending) < len(self.buckets) and self.missing[len(self.pending)] == 0:
            self._start_bucket(len(self.pending))
            self.started_early += 1

    def _start_bucket(self, b: int) -> None:
        buf = self.buffers[b]
        self._gather(b)
        self.pending.append(self.group.all_reduce_start(buf))

    def _gather(self, b: int) -> None:
        buf, offset = self.buffers[b], 0
        for i in self.buckets[b]:
            p = self.params[i]
            n = p._data.size
            if p.grad is None:
                buf[offset:offset + n] = 0
            else:
                buf[offset:offset + n] = p.grad._data.reshape(-1)
            offset += n

    # ----- after backward -------------------------------------------------------------------------
    def finish(self) -> None:
        """Start the buckets not started yet, wait for all, redo the late ones, copy the means back."""
        world = self.group.world_size
        for b in range(len(self.pending), len(self.buckets)):
            self._start_bucket(b)
        for pending in self.pending:
            pending.wait()
        flags = np.concatenate([[p.grad is not None for p in self.params], self.late]).astype(np.int32)
        self.group.all_reduce(flags)
        has, late = flags[:len(self.params)], flags[len(self.params):]
        for b in np.flatnonzero(late):
            self.redone += 1
            self._gather(b)
            self.group.all_reduce(self.buffers[b])
        for bucket, buf in zip(self.buckets, self.buffers):
            buf /= world
            offset = 0
            for i in bucket:
                p = self.params[i]
                n = p._data.size
                if has[i]:
                    mean = buf[offset:offset + n].reshape(p._data.shape)
                    if p.grad is None:
                        p.grad = Tensor(mean.copy())
                    else:
                        np.copyto(p.grad._data, mean)
                offset += n
        self.expected = self.counts.copy()
        self._reset()

    def reduce(self) -> None:
        """Replace every gradient by its mean over the ranks, after backward (no overlap)."""
        if self.group.world_size == 1:
            return
        self._reset()
        self.pending = []
        expected, self.expected = self.expected, None
        self.finish()
        self.expected = expected
