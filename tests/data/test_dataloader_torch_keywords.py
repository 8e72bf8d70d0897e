"""DataLoader with PyTorch's keywords: same batches as torch's DataLoader, drop_last really drops, the worker
keywords are accepted (loading stays in-process) and refused in the combinations torch refuses."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import cnnkit as ck
from cnnkit.utils.data import BatchSampler, DataLoader, SequentialSampler, SubsetRandomSampler, TensorDataset


def _data(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64)
    return x, y


@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (5, True), (4, False), (11, True)])
def test_batches_equal_torch(batch_size, drop_last):
    x, y = _data()
    kw = dict(batch_size=batch_size, shuffle=False, num_workers=2, pin_memory=True, drop_last=drop_last,
              persistent_workers=True, prefetch_factor=2, worker_init_fn=lambda i: None, timeout=5)
    ours = list(DataLoader(TensorDataset(ck.tensor(x), ck.tensor(y)), **kw))
    theirs = list(tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), **kw))
    assert len(ours) == len(theirs) == len(DataLoader(TensorDataset(ck.tensor(x), ck.tensor(y)), **kw))
    for (a, b), (ta, tb) in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), ta.numpy())
        np.testing.assert_array_equal(b.numpy(), tb.numpy())


def test_drop_last_drops_the_short_batch():
    x, y = _data(10)
    sizes = [len(b[0]) for b in DataLoader(TensorDataset(ck.tensor(x), ck.tensor(y)), batch_size=4, drop_last=True,
                                           shuffle=True)]
    assert sizes == [4, 4]


def test_torch_refusals():
    ds = TensorDataset(ck.tensor(_data()[0]))
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 2, False), batch_size=3)


def test_sampler_and_batch_sampler():
    x, y = _data(10)
    ds = TensorDataset(ck.tensor(x), ck.tensor(y))
    picked = [4, 1, 7]
    got = np.concatenate([b[1].numpy() for b in DataLoader(ds, batch_size=2, sampler=SubsetRandomSampler(picked))])
    assert sorted(got.tolist()) == sorted(picked)
    batches = [b[1].numpy().tolist() for b in
               DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(range(5)), 2, drop_last=True))]
    assert batches == [[0, 1], [2, 3]]


def test_generator_makes_shuffling_reproducible():
    x, y = _data(20)
    ds = TensorDataset(ck.tensor(x), ck.tensor(y))
    runs = [[b[1].numpy().tolist() for b in DataLoader(ds, batch_size=5, shuffle=True,
                                                       generator=ck.Generator().manual_seed(3))] for _ in range(2)]
    assert runs[0] == runs[1] and sorted(sum(runs[0], [])) == list(range(20)) and runs[0][0] != [0, 1, 2, 3, 4]
