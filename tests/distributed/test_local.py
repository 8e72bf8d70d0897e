"""cnnkit.distributed in one process (a world of 1, no MPI needed): the sampler against PyTorch's
DistributedSampler, SyncBatchNorm against torch's BatchNorm, the wrapper's bookkeeping."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.data import ArrayDataset, DataLoader
from cnnkit.distributed import DistributedDataParallel, DistributedSampler, ProcessGroup, SyncBatchNorm


@pytest.mark.parametrize("n", [0, 1, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shards_like_torch_without_shuffle(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


@pytest.mark.parametrize("n, replicas", [(10, 3), (12, 4), (9, 2)])
def test_shuffled_shards_are_disjoint_cover_the_data_and_change_per_epoch(n, replicas):
    data = list(range(n))
    samplers = [DistributedSampler(data, replicas, r, seed=7) for r in range(replicas)]
    shards = [list(s) for s in samplers]
    assert len({len(s) for s in shards}) == 1
    every = sorted(i for s in shards for i in s)
    assert set(every) == set(data) and len(every) == -(-n // replicas) * replicas  # padded with repeats
    if n % replicas == 0:
        assert every == data  # disjoint
    for s in samplers:
        s.set_epoch(1)
    assert [list(s) for s in samplers] != shards
    again = DistributedSampler(data, replicas, 0, seed=7)
    again.set_epoch(1)
    assert list(again) == list(samplers[0])


def test_step_k_of_all_ranks_is_batch_k_of_one_process_with_the_global_batch():
    data, replicas, b = list(range(24)), 3, 2
    shards = [list(DistributedSampler(data, replicas, r, seed=5)) for r in range(replicas)]
    single = list(DistributedSampler(data, 1, 0, seed=5))
    for k in range(len(shards[0]) // b):
        together = sorted(i for s in shards for i in s[k * b:(k + 1) * b])
        assert together == sorted(single[replicas * b * k:replicas * b * (k + 1)])


def test_sampler_drop_last_drops_the_tail():
    shards = [list(DistributedSampler(list(range(10)), 3, r, seed=1, drop_last=True)) for r in range(3)]
    assert all(len(s) == 3 for s in shards)
    flat = [i for s in shards for i in s]
    assert len(set(flat)) == 9


@pytest.mark.parametrize("bad, match", [(dict(num_replicas=2, rank=2), "expected 0 <= rank < num_replicas"),
                                        (dict(num_replicas=0, rank=0), "expected 0 <= rank < num_replicas"),
                                        (dict(num_replicas=2, rank=-1), "rank must be a non-negative int"),
                                        (dict(num_replicas=2, rank=0, seed=1.5), "seed must be")])
def test_sampler_rejects_bad_arguments(bad, match):
    with pytest.raises(ValueError, match="DistributedSampler: " + match):
        DistributedSampler(list(range(4)), **bad)


def test_dataloader_takes_a_sampler_and_passes_set_epoch_on():
    data = ArrayDataset(np.arange(10.0)[:, None], np.arange(10))
    sampler = DistributedSampler(data, 2, 1, seed=3)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    loader.set_epoch(4)
    assert sampler.epoch == 4
    seen = np.concatenate([y._data for _, y in loader])
    assert seen.tolist() == list(sampler)
    with pytest.raises(ValueError, match="DataLoader: sampler option is mutually exclusive with shuffle"):
        DataLoader(data, batch_size=2, sampler=sampler, shuffle=True)
    with pytest.raises(TypeError, match="DataLoader: sampler must be an iterable"):
        DataLoader(data, batch_size=2, sampler=3)


@pytest.mark.parametrize("shape", [(6, 3), (5, 3, 4), (4, 3, 5, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_sync_batchnorm_in_one_process_is_torch_batchnorm(shape, affine):
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=shape)
    gy = rng.normal(size=shape)
    layer = SyncBatchNorm(3, momentum=0.3, affine=affine, process_group=ProcessGroup(None)).double()
    reference = torch.nn.BatchNorm1d(3, momentum=0.3, affine=affine) if len(shape) < 4 else \
        torch.nn.BatchNorm2d(3, momentum=0.3, affine=affine)
    reference = reference.double()
    if affine:
        w, b = rng.normal(size=3), rng.normal(size=3)
        layer.weight._data[...], layer.bias._data[...] = w, b
        reference.weight.data[...], reference.bias.data[...] = torch.tensor(w), torch.tensor(b)
    for _ in range(2):  # the second step uses a non-zero running mean as the shift
        xt = ck.tensor(x, requires_grad=True)
        y = layer(xt)
        (y * ck.tensor(gy)).sum().backward()
        xr = torch.tensor(x, requires_grad=True)
        yr = reference(xr)
        yr.backward(torch.tensor(gy))
        np.testing.assert_allclose(y._data, yr.detach().numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(xt.grad._data, xr.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(layer.running_mean._data, reference.running_mean.numpy(), rtol=1e-10)
        np.testing.assert_allclose(layer.running_var._data, reference.running_var.numpy(), rtol=1e-10)
        if affine:
            np.testing.assert_allclose(layer.weight.grad._data, reference.weight.grad.numpy(), rtol=1e-8)
            np.testing.assert_allclose(layer.bias.grad._data, reference.bias.grad.numpy(), rtol=1e-8)
        x = x + 1.5
    layer.eval()
    reference.eval()
    np.testing.assert_allclose(layer(ck.tensor(x))._data, reference(torch.tensor(x)).detach().numpy(), rtol=1e-8)


def test_convert_sync_batchnorm_keeps_the_parameters_and_the_state_dict_keys():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4)))
    keys = list(model.state_dict())
    weight = model[1].weight
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], SyncBatchNorm) and isinstance(converted[2][0], SyncBatchNorm)
    assert converted[1].weight is weight
    assert list(converted.state_dict()) == keys
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(2.*expected input with 2 channels"):
        converted[1](ck.zeros(2, 3, 4, 4))


def test_wrapper_in_one_process_trains_like_the_bare_model():
    ck.manual_seed(0)
    bare = nn.Sequential(nn.Linear(3, 2))
    ck.manual_seed(0)
    wrapped = DistributedDataParallel(nn.Sequential(nn.Linear(3, 2)), process_group=ProcessGroup(None))
    assert list(wrapped.state_dict()) == ["module.0.weight", "module.0.bias"]
    x = ck.tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    for model in (bare, wrapped):
        model(x).sum().backward()
    assert np.array_equal(bare[0].weight.grad._data, wrapped.module[0].weight.grad._data)


def test_process_group_of_one_and_its_argument_checks():
    group = ProcessGroup(None)
    a = np.arange(3.0)
    assert group.all_reduce(a) is a and a.tolist() == [0.0, 1.0, 2.0]
    assert group.broadcast_bytes(b"abc") == b"abc"
    with pytest.raises(ValueError, match="all_reduce: op must be one of sum, max, min, got 'prod'"):
        group.all_reduce(a, "prod")
    with pytest.raises(TypeError, match="all_reduce: expected a C-contiguous NumPy array"):
        group.all_reduce(np.zeros((3, 3))[:, 0])
    with pytest.raises(ValueError, match="GradientBuckets: bucket_cap_mb must be a positive number"):
        DistributedDataParallel(nn.Linear(2, 2), process_group=group, bucket_cap_mb=0)


class _TwoRanks(ProcessGroup):
    """A process group that says it has 2 ranks (for the argument checks that run before any communication)."""

    def __init__(self):
        super().__init__(None)
        self.world_size = 2


def test_trainer_checks_its_process_group_and_the_sharding_of_the_training_data():
    model = nn.Linear(2, 2)
    opt = ck.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="Trainer: distributed must be a process group"):
        ck.train.Trainer(model, opt, nn.MSELoss(), distributed=3)
    trainer = ck.train.Trainer(model, opt, nn.MSELoss(), distributed=_TwoRanks(), quiet=True)
    data = ArrayDataset(np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="Trainer.fit: a distributed run needs a DataLoader whose sampler"):
        trainer.fit(DataLoader(data, batch_size=2, shuffle=True), 1)


def test_sync_batchnorm_keeps_float32():
    layer = SyncBatchNorm(3, process_group=ProcessGroup(None))
    x = ck.tensor(np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == layer.weight.grad.dtype == layer.running_var.dtype == np.float32
