"""Dataset, ArrayDataset, TensorDataset, Subset, random_split."""
import numpy as np
import pytest

import cnnkit as ck
from cnnkit.data import ArrayDataset, Dataset, Subset, TensorDataset, random_split


def make(n=10):
    x = np.arange(n * 2 * 3 * 3, dtype=np.float32).reshape(n, 2, 3, 3)
    y = np.arange(n, dtype=np.int64) % 4
    return x, y


@pytest.mark.parametrize("cls", [ArrayDataset, TensorDataset])
def test_length_and_int_indexing(cls):
    x, y = make()
    ds = cls(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == y[3] and xi.dtype == np.float32
    xi, yi = ds[-1]  # negative indices like a sequence
    np.testing.assert_array_equal(xi, x[9])
    xi, yi = ds[np.int64(2)]
    np.testing.assert_array_equal(xi, x[2])


def test_tensors_are_accepted():
    x, y = make()
    ds = TensorDataset(ck.tensor(x), ck.tensor(y))
    xi, yi = ds[np.array([4, 1])]
    np.testing.assert_array_equal(xi, x[[4, 1]])
    np.testing.assert_array_equal(yi, y[[4, 1]])
    assert yi.dtype == np.int64


def test_batch_indexing_with_index_arrays_slices_and_masks():
    x, y = make()
    ds = ArrayDataset(x, y)
    idx = np.array([7, 0, 3, 3])
    xb, yb = ds[idx]
    np.testing.assert_array_equal(xb, x[idx])
    np.testing.assert_array_equal(yb, y[idx])
    xb, yb = ds[[1, 2]]
    np.testing.assert_array_equal(xb, x[[1, 2]])
    xb, _ = ds[2:5]
    np.testing.assert_array_equal(xb, x[2:5])
    mask = np.arange(10) % 3 == 0
    _, yb = ds[mask]
    np.testing.assert_array_equal(yb, y[mask])
    xb, yb = ds[np.array([], dtype=np.int64)]
    assert xb.shape == (0, 2, 3, 3) and yb.shape == (0,)


def test_single_array_and_three_arrays():
    x, y = make()
    (only,) = ArrayDataset(x)[1]
    np.testing.assert_array_equal(only, x[1])
    w = np.linspace(0, 1, 10)
    a, b, c = ArrayDataset(x, y, w)[np.array([5])]
    assert a.shape == (1, 2, 3, 3) and b.shape == (1,) and c[0] == w[5]


def test_transform_and_target_transform():
    x, y = make()
    seen = []

    def t(v):
        seen.append(v.shape)
        return v * 2

    ds = ArrayDataset(x, y, transform=t, target_transform=lambda v: v + 100)
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi, x[4] * 2)
    assert yi == y[4] + 100
    xb, yb = ds[np.array([1, 2, 3])]
    np.testing.assert_array_equal(xb, x[1:4] * 2)
    np.testing.assert_array_equal(yb, y[1:4] + 100)
    assert seen == [(2, 3, 3), (3, 2, 3, 3)]  # one call per sample / per batch


def test_errors():
    x, y = make()
    with pytest.raises(ValueError,
                       match=r"ArrayDataset: every array needs the same first dim.*array 1 has shape \(9,\)"):
        ArrayDataset(x, y[:9])
    with pytest.raises(ValueError, match="TensorDataset: expected at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="array 1 has shape"):
        ArrayDataset(x, np.float32(3))
    with pytest.raises(TypeError, match="ArrayDataset: expected numeric arrays, got object"):
        ArrayDataset(np.array([{}, None], dtype=object))
    ds = ArrayDataset(x, y)
    with pytest.raises(IndexError, match="ArrayDataset: index 10 is out of range for 10 samples"):
        ds[10]
    with pytest.raises(IndexError, match="index -11 is out of range"):
        ds[-11]
    with pytest.raises(IndexError, match="ArrayDataset: index 12 is out of range for 10 samples"):
        ds[np.array([0, 12, 3])]
    with pytest.raises(IndexError, match="index -20 is out of range"):
        ds[np.array([-20])]
    with pytest.raises(IndexError, match=r"boolean mask needs shape \(10,\)"):
        ds[np.ones(3, dtype=bool)]
    with pytest.raises(TypeError, match="ArrayDataset: expected an int, a slice or an array of indices"):
        ds[np.array([0.5])]
    with pytest.raises(TypeError, match="expected an int"):
        ds[True]


def test_base_dataset_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_subset():
    x, y = make()
    ds = ArrayDataset(x, y)
    sub = Subset(ds, [8, 2, 5])
    assert len(sub) == 3 and sub.supports_batch_indexing
    np.testing.assert_array_equal(sub[0][0], x[8])
    np.testing.assert_array_equal(sub[-1][0], x[5])
    xb, yb = sub[np.array([2, 0])]
    np.testing.assert_array_equal(xb, x[[5, 8]])
    np.testing.assert_array_equal(yb, y[[5, 8]])
    subsub = Subset(sub, np.array([1]))
    np.testing.assert_array_equal(subsub[0][0], x[2])
    with pytest.raises(IndexError, match="Subset: index 3 is out of range for 3 samples"):
        sub[3]
    with pytest.raises(IndexError, match="Subset: index 4 is out of range"):
        sub[np.array([4])]
    with pytest.raises(IndexError, match="Subset: index 10 is out of range for a dataset of 10 samples"):
        Subset(ds, [0, 10])
    with pytest.raises(IndexError, match="Subset: index -1 is out of range"):
        Subset(ds, [-1])
    with pytest.raises(TypeError, match="Subset: indices must be integers"):
        Subset(ds, [0.5])


class ListDataset(Dataset):
    """A plain Dataset (no batch indexing) returning Python values."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full((1, 2, 2), i, dtype=np.float32), i


def test_subset_of_generic_dataset():
    sub = Subset(ListDataset(6), [5, 1])
    assert not sub.supports_batch_indexing
    x, yy = sub[0]
    assert yy == 5 and x[0, 0, 0] == 5


def test_random_split_lengths_cover_everything_once():
    x, y = make(10)
    ds = ArrayDataset(x, y)
    parts = random_split(ds, [3, 7], seed=1)
    assert [len(p) for p in parts] == [3, 7]
    allidx = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(allidx), np.arange(10))
    again = random_split(ds, [3, 7], seed=1)
    np.testing.assert_array_equal(again[0].indices, parts[0].indices)
    other = random_split(ds, [3, 7], seed=2)
    assert not np.array_equal(np.concatenate([p.indices for p in other]), allidx)


@pytest.mark.filterwarnings("ignore:Length of split")
def test_random_split_fractions_follow_pytorch():
    import torch
    ds = ArrayDataset(*make(11))
    for fr in ([0.5, 0.5], [0.3, 0.3, 0.4], [0.1, 0.9], [1.0, 0.0]):
        ours = [len(p) for p in random_split(ds, fr, seed=0)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(11), fr)]
        assert ours == theirs, fr


def test_random_split_uses_the_project_generator():
    ds = ArrayDataset(*make(20))
    ck.manual_seed(5)
    a = random_split(ds, [10, 10])[0].indices
    ck.manual_seed(5)
    b = random_split(ds, [10, 10])[0].indices
    c = random_split(ds, [10, 10])[0].indices
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_random_split_errors():
    ds = ArrayDataset(*make(10))
    with pytest.raises(ValueError, match=r"random_split: lengths \[3, 3\] must be non-negative and sum to 10"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="must be non-negative and sum to 10"):
        random_split(ds, [11, -1])
    with pytest.raises(ValueError, match="random_split: fractions .* sum to 1"):
        random_split(ds, [0.5, 0.2])
    with pytest.raises(TypeError, match="random_split: lengths must be a non-empty list"):
        random_split(ds, [])
    with pytest.raises(TypeError, match="random_split: lengths must be"):
        random_split(ds, ["a", 10])
