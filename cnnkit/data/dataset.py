"""Datasets: anything with ``__len__`` and ``__getitem__`` returning (input, target).

``TensorDataset`` and ``ArrayDataset`` hold whole arrays in memory and can be
indexed with an *array* of indices, so the ``DataLoader`` fetches a batch with
one fancy-index instead of a Python loop over samples, and a transform is
applied to the whole batch at once (the transforms in ``transforms.py``
accept a leading batch dim and draw per-sample randomness vectorised).
"""
from __future__ import annotations

import numpy as np

from ..ops import validate
from ..tensor import Tensor


class Dataset:
    """Base class: subclasses implement ``__len__`` and ``__getitem__(i)``."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


def _array(x, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x._data
    arr = np.asarray(x)
    if arr.dtype.kind == "O":
        raise TypeError(f"{name}: expected numeric arrays, got object data")
    return arr


def _check_index(index, n: int, name: str):
    """An int, a slice, or an array of ints / a boolean mask, checked against ``n`` samples (IndexError otherwise)."""
    if isinstance(index, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an int, a slice or an array of indices, got {index!r}")
    if isinstance(index, (int, np.integer)):
        if not -n <= index < n:
            raise IndexError(f"{name}: index {index} is out of range for {n} samples")
        return index
    if isinstance(index, slice):
        return index
    if isinstance(index, Tensor):
        index = index._data
    idx = np.asarray(index)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise IndexError(f"{name}: a boolean mask needs shape ({n},), got {idx.shape}")
        return idx
    if idx.size == 0:
        return idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an int, a slice or an array of indices, got an array of {idx.dtype}")
    lo, hi = idx.min(), idx.max()
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise IndexError(f"{name}: index {int(bad)} is out of range for {n} samples")
    return idx


class ArrayDataset(Dataset):
    """Arrays of equal length (e.g. images (N, C, H, W) and labels (N,)), with an optional batch transform.

    ``dataset[i]`` gives one sample; ``dataset[index_array]`` gives a batch (used by the DataLoader).
    ``transform`` applies to the first array (the inputs), ``target_transform`` to the second.
    """

    supports_batch_indexing = True

    def __init__(self, *arrays, transform=None, target_transform=None):
        if not arrays:
            raise ValueError(f"{type(self).__name__}: expected at least one array")
        self.arrays = [_array(a, type(self).__name__) for a in arrays]
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                raise ValueError(f"{type(self).__name__}: every array needs the same first dim; array 0 has {n} "
                                 f"samples, array {i} has shape {a.shape}")
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        index = _check_index(index, len(self), type(self).__name__)
        items = [a[index] for a in self.arrays]
        if self.transform is not None:
            items[0] = self.transform(items[0])
        if self.target_transform is not None and len(items) > 1:
            items[1] = self.target_transform(items[1])
        return tuple(items)


class TensorDataset(ArrayDataset):
    """PyTorch's ``TensorDataset``: tensors (or arrays) sharing their first dim."""


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"Subset: indices must be integers, got an array of {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise IndexError(f"Subset: index {int(bad)} is out of range for a dataset of {n} samples")
        self.dataset, self.indices = dataset, idx
        self.supports_batch_indexing = getattr(dataset, "supports_batch_indexing", False)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        index = _check_index(index, len(self), "Subset")
        picked = self.indices[index]
        return self.dataset[int(picked) if picked.ndim == 0 else picked]


class TransformedDataset(Dataset):
    """The samples of ``dataset`` with ``transform`` applied to the input and ``target_transform`` to the target,
    e.g. a training and a validation ``Subset`` of one data set, augmented and not. Batch indexing passes through
    (the transform then sees the whole batch)."""

    def __init__(self, dataset, transform=None, target_transform=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"TransformedDataset: expected a dataset, got {type(dataset).__name__}")
        self.dataset, self.transform, self.target_transform = dataset, transform, target_transform
        self.supports_batch_indexing = getattr(dataset, "supports_batch_indexing", False)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        items = list(self.dataset[index])
        if self.transform is not None:
            items[0] = self.transform(items[0])
        if self.target_transform is not None and len(items) > 1:
            items[1] = self.target_transform(items[1])
        return tuple(items)


def random_split(dataset, lengths, generator=None, *, seed: int | None = None) -> list:
    """Split into non-overlapping subsets of the given lengths (or fractions summing to 1).

    Fractions become ``floor(n · f)`` samples each and the remaining samples are dealt one by one to the
    subsets in order (PyTorch's rule). The permutation comes from ``generator`` (a ``cnnkit.Generator``) if
    given, from ``np.random.default_rng(seed)`` when a seed is given, from cnnkit's generator
    (``ck.manual_seed``) otherwise.
    """
    from ..random import get_generator

    n = len(dataset)
    lengths = list(lengths)
    if not lengths or not all(validate.is_int(v) or isinstance(v, (float, np.floating)) for v in lengths):
        raise TypeError(f"random_split: lengths must be a non-empty list of ints (or fractions), got {lengths!r}")
    if any(isinstance(v, (float, np.floating)) for v in lengths):
        if any(v < 0 for v in lengths) or abs(sum(lengths) - 1) > 1e-9:
            raise ValueError(f"random_split: fractions {lengths} must be non-negative and sum to 1")
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    lengths = [int(v) for v in lengths]
    if sum(lengths) != n or any(v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths {lengths} must be non-negative and sum to {n}")
    if generator is not None and seed is not None:
        raise ValueError("random_split: give generator or seed, not both")
    rng = (generator.numpy_generator if generator is not None else
           np.random.default_rng(seed) if seed is not None else get_generator())
    perm = rng.permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, perm[bounds[i]:bounds[i + 1]]) for i in range(len(lengths))]
