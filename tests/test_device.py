"""The honest device model: the CPU is accepted everywhere PyTorch accepts a device; CUDA is refused clearly;
the torch import paths that scripts touch (cuda, accelerator, backends.cudnn, nn.parallel) answer like PyTorch
on a machine without a GPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.nn.parallel import DataParallel
from tests.oracle import assert_close


def test_device_names_like_torch():
    for spec in ["cpu", "cpu:0", "cuda", "cuda:1", "mps"]:
        assert str(ck.device(spec)) == str(torch.device(spec))
        assert repr(ck.device(spec)) == repr(torch.device(spec))
    assert ck.device("cuda", 1) == ck.device("cuda:1") and ck.device("cuda", 1).index == 1
    assert ck.device("cpu").type == "cpu" and ck.device("cpu").index is None
    assert ck.device(ck.device("cpu")) == "cpu"
    with pytest.raises(ValueError, match="device: expected one of"):
        ck.device("gpu")
    with pytest.raises(ValueError, match="invalid device string"):
        ck.device("cuda:x")


def test_cpu_accepted_everywhere():
    cpu = ck.device("cpu")
    x = ck.randn(2, 3, device=cpu)
    assert x.device == cpu and x.device.type == "cpu" and not x.is_cuda
    assert x.to(cpu) is x and x.to("cpu") is x and x.cpu() is x
    assert x.to(cpu, ck.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=ck.float64).dtype == np.float64
    assert x.to("cpu", copy=True) is not x
    for make in (lambda: ck.zeros(2, device="cpu"), lambda: ck.ones(2, device=cpu), lambda: ck.empty(2, device=cpu),
                 lambda: ck.full((2,), 1.0, device=cpu), lambda: ck.arange(3, device=cpu),
                 lambda: ck.tensor([1.0], device=cpu), lambda: ck.rand(2, device=cpu),
                 lambda: ck.randint(0, 3, (2,), device=cpu), lambda: ck.linspace(0, 1, 3, device=cpu),
                 lambda: ck.eye(2, device=cpu), lambda: ck.zeros_like(x, device=cpu)):
        assert make().device == cpu
    m = ck.nn.Linear(3, 2).to(cpu)
    assert m.cpu() is m and next(m.parameters()).device == cpu
    assert m.to(cpu, dtype=ck.float64).weight.dtype == np.float64


@pytest.mark.parametrize("call", [
    lambda: ck.zeros(2, device="cuda"), lambda: ck.randn(2, device=ck.device("cuda:0")),
    lambda: ck.tensor([1.0], device="cuda"), lambda: ck.ones(2).to("cuda"), lambda: ck.ones(2).to(0),
    lambda: ck.ones(2).cuda(), lambda: ck.nn.Linear(2, 2).cuda(), lambda: ck.nn.Linear(2, 2).to("cuda"),
    lambda: ck.ones(2).type("torch.cuda.FloatTensor"), lambda: DataParallel(ck.nn.Linear(2, 2), device_ids=[0]),
    lambda: ck.Generator("cuda"), lambda: ck.ones(2).to("mps")])
def test_accelerators_refused_with_a_clear_error(call):
    with pytest.raises(RuntimeError, match="cnnkit runs on the CPU only"):
        call()


def test_cuda_module_answers_like_a_cpu_only_torch():
    assert ck.cuda.is_available() is False and ck.cuda.device_count() == 0
    assert ck.accelerator.is_available() is False and ck.accelerator.current_accelerator() is None
    ck.cuda.manual_seed(1)
    ck.cuda.manual_seed_all(1)
    ck.cuda.synchronize()
    ck.cuda.empty_cache()
    with pytest.raises(RuntimeError, match="no CUDA device"):
        ck.cuda.get_device_name(0)
    assert ck.backends.cudnn.is_available() is False and ck.backends.mps.is_available() is False


def test_cudnn_flags_are_plain_attributes():
    import cnnkit.backends.cudnn as cudnn
    before = (cudnn.benchmark, cudnn.deterministic)
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert ck.backends.cudnn.benchmark is True and ck.backends.cudnn.deterministic is True
    finally:
        cudnn.benchmark, cudnn.deterministic = before


def test_data_parallel_runs_the_module_with_torch_keys():
    ck.manual_seed(0)
    inner = ck.nn.Sequential(ck.nn.Linear(3, 4), ck.nn.ReLU(), ck.nn.Linear(4, 2))
    wrapped = DataParallel(inner)
    th = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)))
    assert list(wrapped.state_dict()) == list(th.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 3))
    th.load_state_dict({k: torch.from_numpy(v._data.astype(np.float64)) for k, v in wrapped.state_dict().items()})
    th.double()
    wrapped.double()
    assert_close(wrapped(ck.tensor(x)), th(torch.from_numpy(x)), 1e-12, "DataParallel forward")
    assert wrapped.module is inner


def test_import_paths_exist():
    import cnnkit.nn.parallel
    import cnnkit.optim.lr_scheduler
    import cnnkit.utils.data as data
    assert data.DataLoader is ck.data.DataLoader and data.TensorDataset is ck.data.TensorDataset
    assert data.random_split is ck.data.random_split and data.Subset is ck.data.Subset
    assert cnnkit.nn.parallel.DataParallel is DataParallel
    assert cnnkit.optim.lr_scheduler.StepLR is ck.optim.lr_scheduler.StepLR


def test_size_is_a_tuple_subclass():
    x = ck.zeros(2, 3)
    assert isinstance(x.shape, ck.Size) and isinstance(x.size(), ck.Size) and isinstance(x.shape, tuple)
    assert x.shape == (2, 3) == torch.zeros(2, 3).shape and x.size(1) == 3
    assert x.shape.numel() == 6 == torch.Size([2, 3]).numel()
    assert str(x.shape) == "(2, 3)"  # prints like a tuple (a documented difference from torch.Size([2, 3]))


def test_tensor_type_like_torch():
    x = ck.zeros(2)
    t = torch.zeros(2)
    assert x.type() == t.type() == "torch.FloatTensor"
    assert x.type(ck.int64).type() == t.type(torch.int64).type() == "torch.LongTensor"
    assert x.type("torch.DoubleTensor").dtype == np.float64
    with pytest.raises(ValueError, match="unknown type name"):
        x.type("torch.QuantTensor")


def test_generator_seeds_random_functions_and_split():
    a = ck.randn(3, generator=ck.Generator().manual_seed(5))
    b = ck.randn(3, generator=ck.Generator().manual_seed(5))
    assert np.array_equal(a.numpy(), b.numpy())
    ds = ck.data.TensorDataset(ck.arange(10))
    s1 = ck.utils.data.random_split(ds, [4, 6], generator=ck.Generator().manual_seed(1))
    s2 = ck.utils.data.random_split(ds, [4, 6], generator=ck.Generator().manual_seed(1))
    assert np.array_equal(s1[0].indices, s2[0].indices) and sorted(np.concatenate([s1[0].indices, s1[1].indices])) \
        == list(range(10))


def test_load_takes_torch_keywords(tmp_path):
    path = tmp_path / "m.pt"
    layer = ck.nn.Linear(2, 3)
    ck.save(layer.state_dict(), path)
    for kw in ({"map_location": "cpu"}, {"map_location": ck.device("cpu"), "weights_only": True},
               {"map_location": lambda storage, loc: storage}):
        state = ck.load(path, **kw)
        np.testing.assert_array_equal(state["weight"].numpy(), layer.weight.numpy())
    with pytest.raises(RuntimeError, match="cnnkit runs on the CPU only"):
        ck.load(path, map_location="cuda:0")


def test_functional_data_parallel_runs_the_module():
    ck.manual_seed(1)
    layer = ck.nn.Linear(3, 2)
    x = ck.randn(4, 3)
    np.testing.assert_array_equal(ck.nn.parallel.data_parallel(layer, x, None).numpy(), layer(x).numpy())
    with pytest.raises(RuntimeError, match="cnnkit runs on the CPU only"):
        ck.nn.parallel.data_parallel(layer, x, [0, 1])


@pytest.mark.parametrize("make", [lambda d: ck.nn.Linear(2, 3, device=d), lambda d: ck.nn.Conv2d(1, 2, 3, device=d),
                                  lambda d: ck.nn.ConvTranspose2d(1, 2, 3, device=d),
                                  lambda d: ck.nn.BatchNorm2d(4, device=d), lambda d: ck.nn.LazyLinear(2, device=d),
                                  lambda d: ck.nn.LazyBatchNorm2d(device=d)])
def test_layers_take_device_cpu_and_refuse_cuda(make):
    assert next(make("cpu").parameters()).device == ck.device("cpu")
    with pytest.raises(RuntimeError, match="cnnkit runs on the CPU only"):
        make("cuda")


def test_batch_norm_dtype_like_torch():
    ours = ck.nn.BatchNorm2d(3, dtype=ck.float64)
    theirs = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    for (k, v), (tk, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k == tk and v.numpy().dtype == tv.numpy().dtype


def test_variable_is_the_tensor_like_torch_since_0_4():
    from cnnkit.autograd import Variable
    t = ck.ones(2)
    assert Variable(t) is t and not t.requires_grad
    assert Variable(t, requires_grad=True) is t and t.requires_grad
    assert torch.autograd.Variable(torch.ones(2)).requires_grad is False


def test_bernoulli():
    ck.manual_seed(0)
    p = ck.full((100_000,), 0.3, dtype=ck.float64)
    draws = ck.bernoulli(p)
    assert draws.dtype == np.float64 and set(np.unique(draws.numpy())) <= {0.0, 1.0}
    assert abs(float(draws.mean()) - 0.3) < 0.01
    mask = ck.empty(100_000).bernoulli_(0.8)
    assert mask.dtype == np.float32 and abs(float(mask.mean()) - 0.8) < 0.01
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        ck.empty(2).bernoulli_(1.5)
