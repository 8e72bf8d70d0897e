"""DataLoader: batches of a dataset as Tensors, optionally shuffled each epoch.

Shuffling is deterministic: with ``seed=None`` the permutation is drawn from
cnnkit's project-wide generator (so ``ck.manual_seed`` reproduces it, and its
state travels in checkpoints); with ``seed=s`` epoch *e* uses a generator seeded
with (s, e), so any epoch can be replayed on its own (``set_epoch``); with ``generator=g`` (a
``cnnkit.Generator``) the permutations come from ``g``.

PyTorch's keywords are accepted with PyTorch's meaning and checks, but cnnkit loads every batch in the calling
process: ``num_workers`` (no worker processes are started; ``worker_init_fn`` is therefore never called and
``timeout``, ``prefetch_factor``, ``persistent_workers`` and ``multiprocessing_context`` have nothing to
act on), ``pin_memory`` (there is no GPU memory to pin). ``sampler`` (an iterable of indices) and
``batch_sampler`` (an iterable of index lists) replace the shuffling and batching.
"""
from __future__ import annotations

import numpy as np

from ..ops import validate
from ..random import get_generator
from ..tensor import Tensor


def _stack(values: list) -> np.ndarray:
    arrays = [v._data if isinstance(v, Tensor) else np.asarray(v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"default_collate: samples of one batch must have equal shapes, got {sorted(shapes)}")
    return np.stack(arrays)


def default_collate(samples: list):
    """Stack a list of samples into batched arrays: (x, y, ...) tuples (or lists) give a tuple of arrays.

    Each field is stacked along a new first dim and keeps its dtype (Python ints become int64 and Python
    floats float64, as in PyTorch's ``default_collate``).
    """
    if not samples:
        raise ValueError("default_collate: expected at least one sample")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(not isinstance(s, (tuple, list)) or len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: every sample must have {len(first)} fields like the first")
        return tuple(_stack([s[i] for s in samples]) for i in range(len(first)))
    return _stack(samples)


def _to_tensor(x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (tuple, list)):
        return type(x)(_to_tensor(v) for v in x)
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(np.float32)
    return Tensor._wrap(arr)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` (the last may be smaller unless ``drop_last``).

    ``len(loader)`` is ⌈N / batch_size⌉ (⌊N / batch_size⌋ with ``drop_last``), N the length of the dataset or
    of ``sampler``: an iterable of dataset indices with a length (e.g. ``cnnkit.distributed.DistributedSampler``,
    which gives each process its shard) that replaces ``shuffle``; ``set_epoch`` is passed on to it. Each batch is a
    tuple of Tensors (one per field of the samples) with the dataset's dtypes. A dataset with
    ``supports_batch_indexing`` (``ArrayDataset``, ``TensorDataset`` and their ``Subset``s) is indexed with the
    whole index array at once, so its transform sees the batch; any other dataset is read sample by sample
    and stacked with ``collate_fn`` (``default_collate`` by default).
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None):
        if not validate.is_int(num_workers) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if num_workers == 0 and persistent_workers:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give generator or seed, not both")
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), bool(pin_memory), timeout
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor
        self.persistent_workers, self.generator = bool(persistent_workers), generator
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if batch_sampler is not None:
            batch_size = 1
        shuffle = bool(shuffle)
        if not validate.is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is not None and (not validate.is_int(seed) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset must have __len__ and __getitem__, got {type(dataset).__name__}")
        if sampler is not None and (not hasattr(sampler, "__iter__") or not hasattr(sampler, "__len__")):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices with a length, got "
                            f"{type(sampler).__name__}")
        self.dataset, self.batch_size, self.sampler = dataset, int(batch_size), sampler
        self.shuffle, self.drop_last, self.seed = bool(shuffle), bool(drop_last), seed
        self.collate_fn = collate_fn
        self.epoch = 0

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration produces (with a fixed ``seed``)."""
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            return np.asarray([int(i) for i in self.sampler], dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is not None:
            rng = self.generator.numpy_generator
        else:
            rng = np.random.default_rng([self.seed, self.epoch]) if self.seed is not None else get_generator()
        return rng.permutation(n)

    def _batches(self):
        if self.batch_sampler is not None:
            for idx in self.batch_sampler:
                yield np.asarray([int(i) for i in idx], dtype=np.int64)
            return
        order = self._order()
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            yield idx

    def __iter__(self):
        batches = self._batches()
        self.epoch += 1
        batched = getattr(self.dataset, "supports_batch_indexing", False) and self.collate_fn is None
        for idx in batches:
            if batched:
                batch = self.dataset[idx]
            else:
                batch = (self.collate_fn or default_collate)([self.dataset[int(i)] for i in idx])
            yield _to_tensor(batch)
