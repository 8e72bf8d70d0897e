"""Gradient averaging: one all-reduce per contiguous bucket of gradients.

After every rank's backward pass on its own shard of the batch, each gradient is replaced by the mean over the
R ranks,

    g ← (1/R) Σ_r g_r

which is the gradient of the loss averaged over the union of the shards (each g_r is already a mean over the b
samples of rank r, so this is the mean over the R·b samples of the global batch). Many small all-reduces cost a
latency each; the gradients are copied into a few flat buffers (buckets) of at most ``bucket_cap_mb`` megabytes
(parameters in reverse order of registration, the order backward produces them; one dtype per bucket),
all-reduced, divided by R and copied back.

A parameter without a gradient on a rank (unused in its forward) contributes zeros; a small all-reduce of
"has a gradient" flags leaves ``.grad`` None only where no rank had one, so that the optimizer skips it exactly as
a single process would.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["GradientBuckets"]


class GradientBuckets:
    """Averages the gradients of ``params`` over the ranks of ``group`` (a ``ProcessGroup``) with ``reduce()``."""

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
            if not self.buckets or p.data.dtype != dtype or (size and size + p.data.nbytes > cap):
                self.buckets.append([])
                size, dtype = 0, p.data.dtype
            self.buckets[-1].append(i)
            size += p.data.nbytes
        self.buffers = [np.empty(sum(self.params[i].data.size for i in b), self.params[b[0]].data.dtype)
                        for b in self.buckets]

    def reduce(self) -> None:
        """Replace every gradient by its mean over the ranks (see the module docstring)."""
        world = self.group.world_size
        if world == 1:
            return
        has = np.array([p.grad is not None for p in self.params], dtype=np.int32)
        self.group.all_reduce(has)
        for bucket, buf in zip(self.buckets, self.buffers):
            offset = 0
            for i in bucket:
                p = self.params[i]
                n = p.data.size
                if p.grad is None:
                    buf[offset:offset + n] = 0
                else:
                    buf[offset:offset + n] = p.grad.data.reshape(-1)
                offset += n
            self.group.all_reduce(buf)
            buf /= world
            offset = 0
            for i in bucket:
                p = self.params[i]
                n = p.data.size
                if has[i]:
                    mean = buf[offset:offset + n].reshape(p.data.shape)
                    if p.grad is None:
                        p.grad = Tensor(mean.copy())
                    else:
                        np.copyto(p.grad.data, mean)
                offset += n
