"""DistributedDataParallel: data-parallel training by wrapping the model, the one line a training script changes.

    world = ck.distributed.init()
    model = ck.distributed.DistributedDataParallel(model)      # the one line
    loader = DataLoader(train, batch_size=b, sampler=ck.distributed.DistributedSampler(train))
    ... the usual loop: out = model(x); loss = ...; optimizer.zero_grad(); loss.backward(); optimizer.step()

At construction every rank checks that its model has rank 0's parameter and buffer names, shapes and dtypes (a
``ValueError`` otherwise) and takes rank 0's values. Each rank runs forward and backward on its own shard; when a
backward pass has delivered its gradients, they are averaged over the ranks (:mod:`.buckets`), so every rank's
optimizer makes the same step and the replicas stay identical; the all-reduce of a bucket of gradients starts as
soon as backward has delivered all of them, overlapping with the rest of backward (from the second step on). Then
the buffers (BatchNorm's running statistics) are broadcast from rank 0, so that evaluation and checkpoints see one
model on every rank.

BatchNorm: by default each rank normalizes with the statistics of its own shard (per-rank BatchNorm, PyTorch's
default too): with b samples per rank the batch statistics are those of b samples, not of the global batch, and
the result differs from a single process with batch R·b. :class:`~cnnkit.distributed.SyncBatchNorm` (via
``SyncBatchNorm.convert_sync_batchnorm(model)`` before wrapping) normalizes with the global batch's statistics.

Every rank must run the same number of backward passes (each ends in collective operations); ``no_sync()``
skips the averaging for gradient accumulation (the next synchronized backward averages the accumulated sum).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..autograd.backward import queue_callback
from ..nn import Module
from .broadcast import broadcast_state, check_same_model
from .buckets import GradientBuckets
from .group import init

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, process_group=None, bucket_cap_mb=25, broadcast_buffers=True,
    overlap=True)`` (``overlap=False``: all buckets are reduced after backward, for measuring the overlap): the
    network is ``.module`` (its ``state_dict`` keys get the prefix ``module.``, as in PyTorch; ``is_wrapper`` tells
    the Trainer to save and load the network's own state, so a checkpoint of a distributed run is a plain one)."""

    is_wrapper = True

    def __init__(self, module, process_group=None, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True,
                 overlap: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        self.module = module
        self.process_group = process_group if process_group is not None else init()
        self.broadcast_buffers, self.overlap = bool(broadcast_buffers), bool(overlap)
        check_same_model(module, self.process_group)
        broadcast_state(module, self.process_group)
        self.reducer = GradientBuckets(module.parameters(), self.process_group, bucket_cap_mb)
        self.require_backward_grad_sync = True
        self._queued = False
        self._handles = [p.register_post_accumulate_grad_hook(self._on_gradient) for p in self.reducer.params]

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _on_gradient(self, param) -> None:
        if not self.require_backward_grad_sync or self.process_group.world_size == 1:
            return
        if not self._queued:
            self._queued = True
            if self.overlap:
                self.reducer.start()
            queue_callback(self._after_backward)
        if self.overlap:
            self.reducer.arrived(param)

    def _after_backward(self) -> None:
        self._queued = False
        if self.overlap:
            self.reducer.finish()
        else:
            self.reducer.reduce()
        if self.broadcast_buffers:
            self.sync_buffers()

    def sync_buffers(self) -> None:
        """Overwrite every buffer with rank 0's (one broadcast per dtype)."""
        group = self.process_group
        if group.world_size == 1:
            return
        by_dtype: dict = {}
        for b in self.module.buffers():
            by_dtype.setdefault(b._data.dtype, []).append(b)
        for dtype, buffers in by_dtype.items():
            flat = group.broadcast(np.concatenate([b._data.reshape(-1) for b in buffers]).astype(dtype, copy=False))
            offset = 0
            for b in buffers:
                b._data[...] = flat[offset:offset + b._data.size].reshape(b._data.shape)
                offset += b._data.size

    @contextmanager
    def no_sync(self):
        """Backward passes inside leave the gradients local (accumulating); the first one after averages them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
