"""DataLoader: batching, shuffling, determinism, generic datasets, errors."""
import numpy as np
import pytest

import cnnkit as ck
from cnnkit.data import ArrayDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate
from cnnkit.data.transforms import Compose, RandomCrop, RandomHorizontalFlip


def make(n=10):
    x = np.arange(n, dtype=np.float32)[:, None, None, None] * np.ones((1, 1, 4, 4), np.float32)
    return ArrayDataset(x, np.arange(n, dtype=np.int64))


def labels_of(loader):
    return [b[1].numpy().copy() for b in loader]


@pytest.mark.parametrize("n,bs,drop,sizes", [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (9, 3, False, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]),
    (2, 5, True, []),
    (0, 4, False, []),
    (7, 1, False, [1] * 7),
])
def test_batch_sizes_and_len(n, bs, drop, sizes):
    loader = DataLoader(make(n), batch_size=bs, drop_last=drop)
    got = [b[0].shape[0] for b in loader]
    assert got == sizes
    assert len(loader) == len(sizes)


def test_yields_tensors_with_dtypes_kept_in_order():
    loader = DataLoader(make(10), batch_size=4)
    batches = list(loader)
    x, y = batches[0]
    assert isinstance(x, ck.Tensor) and isinstance(y, ck.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (4, 1, 4, 4) and y.shape == (4,)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(10))
    assert not x.requires_grad


def test_float64_and_uint8_arrays_keep_their_dtype():
    ds = TensorDataset(np.zeros((5, 3), np.float64), np.zeros(5, np.uint8))
    x, y = next(iter(DataLoader(ds, batch_size=2)))
    assert x.dtype == np.float64 and y.dtype == np.uint8


@pytest.mark.parametrize("bs", [1, 3, 4, 10, 32])
def test_shuffle_covers_every_index_once_per_epoch(bs):
    loader = DataLoader(make(10), batch_size=bs, shuffle=True)
    orders = []
    for _ in range(3):
        ys = np.concatenate(labels_of(loader))
        np.testing.assert_array_equal(np.sort(ys), np.arange(10))
        orders.append(ys)
    if bs < 10:
        assert len({tuple(o) for o in orders}) > 1  # every epoch reshuffles


def test_shuffle_with_drop_last_draws_distinct_samples():
    loader = DataLoader(make(10), batch_size=3, shuffle=True, drop_last=True)
    ys = np.concatenate(labels_of(loader))
    assert len(ys) == 9 and len(set(ys.tolist())) == 9


def test_deterministic_under_manual_seed_with_augmentation():
    x = np.random.default_rng(0).random((16, 3, 8, 8)).astype(np.float32)
    aug = Compose([RandomCrop(6, padding=1), RandomHorizontalFlip()])
    ds = ArrayDataset(x, np.arange(16), transform=aug)

    def run():
        loader = DataLoader(ds, batch_size=5, shuffle=True)
        return [[(bx.numpy().copy(), by.numpy().copy()) for bx, by in loader] for _ in range(2)]

    ck.manual_seed(123)
    a = run()
    ck.manual_seed(123)
    b = run()
    for ea, eb in zip(a, b):
        for (xa, ya), (xb, yb) in zip(ea, eb):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(xa, xb)  # same crops and flips
    # epochs differ from each other, and another seed gives another order
    assert not np.array_equal(np.concatenate([y for _, y in a[0]]), np.concatenate([y for _, y in a[1]]))
    ck.manual_seed(124)
    c = run()
    assert not np.array_equal(np.concatenate([y for _, y in a[0]]), np.concatenate([y for _, y in c[0]]))


def test_explicit_seed_and_set_epoch_replay():
    ds = make(20)
    loader = DataLoader(ds, batch_size=6, shuffle=True, seed=7)
    epochs = [np.concatenate(labels_of(loader)) for _ in range(3)]
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    for e in (2, 0, 1):  # any epoch can be replayed on its own, in any order
        loader.set_epoch(e)
        np.testing.assert_array_equal(np.concatenate(labels_of(loader)), epochs[e])
    # a fresh loader with the same seed gives the same epochs, independent of the global generator
    ck.manual_seed(99)
    ck.get_generator().random(17)
    fresh = DataLoader(ds, batch_size=6, shuffle=True, seed=7)
    np.testing.assert_array_equal(np.concatenate(labels_of(fresh)), epochs[0])
    other = DataLoader(ds, batch_size=6, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate(labels_of(other)), epochs[0])


def test_explicit_seed_does_not_consume_the_global_generator():
    ck.manual_seed(3)
    expected = ck.get_generator().random(4)
    ck.manual_seed(3)
    list(DataLoader(make(10), batch_size=3, shuffle=True, seed=1))
    np.testing.assert_array_equal(ck.get_generator().random(4), expected)


class PlainDataset(Dataset):
    """No batch indexing: the loader must read sample by sample and collate."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        assert isinstance(i, int)
        self.calls += 1
        return np.full((2, 3), i, dtype=np.float32), i


def test_generic_dataset_through_default_collate():
    ds = PlainDataset(7)
    loader = DataLoader(ds, batch_size=3, shuffle=True, seed=0)
    seen = []
    for x, y in loader:
        assert isinstance(x, ck.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.numpy()[:, 0, 0], y.numpy())
        seen.extend(y.numpy().tolist())
    assert sorted(seen) == list(range(7)) and ds.calls == 7
    # a Subset of a generic dataset works too
    xs = [b[1].numpy() for b in DataLoader(Subset(ds, [6, 2]), batch_size=2)]
    np.testing.assert_array_equal(xs[0], [6, 2])


def test_default_collate():
    x, y = default_collate([(np.ones((2,), np.float32), 1), (np.zeros((2,), np.float32), 2)])
    assert x.dtype == np.float32 and x.shape == (2, 2)
    assert y.dtype == np.int64 and y.tolist() == [1, 2]
    (f,) = default_collate([(0.5,), (1.5,)])
    assert f.dtype == np.float64  # Python floats -> float64, as PyTorch's default_collate
    single = default_collate([ck.tensor([1.0, 2.0]), ck.tensor([3.0, 4.0])])
    assert single.shape == (2, 2) and single.dtype == np.float32
    lists = default_collate([[1, 2.0], [3, 4.0]])
    assert lists[0].tolist() == [1, 3] and lists[1].tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="default_collate: samples of one batch must have equal shapes"):
        default_collate([(np.ones(2), 0), (np.ones(3), 1)])
    with pytest.raises(ValueError, match="default_collate: every sample must have 2 fields"):
        default_collate([(np.ones(2), 0), (np.ones(2),)])
    with pytest.raises(ValueError, match="default_collate: expected at least one sample"):
        default_collate([])


def test_custom_collate_fn_is_used_even_for_array_datasets():
    calls = []

    def collate(samples):
        calls.append(len(samples))
        return default_collate(samples)

    out = list(DataLoader(make(5), batch_size=2, collate_fn=collate))
    assert calls == [2, 2, 1] and out[0][0].shape == (2, 1, 4, 4)


def test_errors():
    ds = make(4)
    for bad in (0, -1, 2.0, True, None, "3"):
        with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int, got"):
            DataLoader(ds, batch_size=bad)
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(ValueError, match="DataLoader: seed must be a non-negative int or None"):
            DataLoader(ds, seed=bad)
    with pytest.raises(TypeError, match="DataLoader: the dataset must have __len__ and __getitem__, got int"):
        DataLoader(5)
