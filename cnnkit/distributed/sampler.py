"""DistributedSampler: each process's share of a data set, PyTorch's semantics.

Every rank draws the same permutation π of the N indices (a generator seeded with ``seed + epoch``, the same
``seed`` on every rank; ``set_epoch`` before each epoch gives a new order) and takes every ``num_replicas``-th
index from its rank on:

    shard_r = (π_0, π_1, ...)[r :: R]        (R = num_replicas)

The shards are disjoint and together cover the data once per epoch, with S = len(shard) on every rank so that
all ranks run the same number of steps:

- ``drop_last=False``: S = ⌈N / R⌉, the order padded to R·S with its own first indices (a few samples are seen
  twice per epoch);
- ``drop_last=True``: S = ⌊N / R⌋ (the tail of the order, fewer than R samples, is dropped).

With a batch of b per rank, the ranks' step k together see π_{R·b·k} … π_{R·b·(k+1) − 1}: the batch of R·b of a
single process that walks the same permutation (``num_replicas=1``).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["DistributedSampler"]


def _non_negative_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"DistributedSampler: {what} must be a non-negative int, got {value!r}")
    return int(value)


class DistributedSampler:
    """``DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False)``;
    ``num_replicas`` and ``rank`` default to the process group's (``cnnkit.distributed.init()``). Pass it as the
    ``sampler`` of a DataLoader."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: the dataset must have a length, got {type(dataset).__name__}")
        if num_replicas is None or rank is None:
            from .group import init

            world = init()
            num_replicas = world.world_size if num_replicas is None else num_replicas
            rank = world.rank if rank is None else rank
        num_replicas = _non_negative_int(num_replicas, "num_replicas")
        rank = _non_negative_int(rank, "rank")
        if num_replicas < 1 or rank >= num_replicas:
            raise ValueError(f"DistributedSampler: expected 0 <= rank < num_replicas, got rank {rank} of "
                             f"{num_replicas}")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed, self.epoch = _non_negative_int(seed, "seed"), 0
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration gives (the same on every rank)."""
        self.epoch = _non_negative_int(epoch, "epoch")

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch (int64)."""
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            order = np.concatenate([order, np.resize(order, self.total_size - n)]) if n else order
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples
