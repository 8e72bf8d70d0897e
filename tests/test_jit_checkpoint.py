"""``cnnkit.jit`` answers eager code as ``torch.jit`` does outside TorchScript, and ``cnnkit.utils.checkpoint`` gives
the values and gradients of PyTorch's checkpointing (forward and gradient, float64 and float32)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.checkpoint

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.utils.checkpoint import checkpoint, checkpoint_sequential
from tests.oracle import check_module, check_op


def test_jit_eager_answers_like_torch():
    assert ck.jit.is_scripting() is torch.jit.is_scripting() is False
    assert ck.jit.is_tracing() is torch.jit.is_tracing() is False
    assert ck.jit.annotate(list, [1, 2]) == torch.jit.annotate(list, [1, 2]) == [1, 2]

    def f(x):
        return x + 1

    for decorate in (ck.jit.unused, ck.jit.export, ck.jit.ignore, ck.jit.ignore(drop=True),
                     ck.jit._overload_method, ck.jit._overload):
        assert decorate(f) is f and decorate(f)(1) == 2


def test_jit_marks_on_a_module_keep_it_running():
    """The pattern of torchvision's GoogLeNet and DenseNet: marked methods, a scripting test in forward."""

    class Net(ck.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = ck.nn.Linear(3, 2)

        @ck.jit.unused
        def eager_outputs(self, x):
            return x * 2

        def forward(self, x):
            if ck.jit.is_scripting():
                raise AssertionError("never scripting")
            return self.eager_outputs(self.fc(x))

    out = Net()(ck.ones(4, 3))
    assert out.shape == (4, 2)


@pytest.mark.parametrize("name", ["script", "trace", "save", "load"])
def test_jit_compilation_is_absent_with_the_reason(name):
    with pytest.raises(AttributeError, match="deliberately absent.*TorchScript"):
        getattr(ck.jit, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_checkpoint_values_and_gradients(dtype):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 6)).astype(dtype), rng.standard_normal((4, 3, 3, 3)).astype(dtype)

    def block(f):
        return lambda a, b: f.relu(f.conv2d(a, b, padding=1)) * 2

    check_op(lambda a, b: checkpoint(block(F), a, b, use_reentrant=False),
             lambda a, b: torch.utils.checkpoint.checkpoint(block(torch.nn.functional), a, b, use_reentrant=False),
             [x, w], what="checkpoint")


def test_checkpoint_passes_keywords_and_refuses_a_non_callable():
    out = checkpoint(lambda a, scale: a * scale, ck.ones(2), scale=3.0, use_reentrant=False)
    np.testing.assert_array_equal(out.numpy(), [3.0, 3.0])
    with pytest.raises(TypeError, match="checkpoint: expected a callable function, got int"):
        checkpoint(3, ck.ones(2))


class _Seq(ck.nn.Module):
    def __init__(self, nn, run):
        super().__init__()
        self.seq = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 1))
        self.run = run

    def forward(self, x):
        return self.run(self.seq, 2, x, use_reentrant=False)


class _TorchSeq(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(3, 2, 1))

    def forward(self, x):
        return torch.utils.checkpoint.checkpoint_sequential(self.seq, 2, x, use_reentrant=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_checkpoint_sequential_values_and_gradients(dtype):
    ck.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5)).astype(dtype)
    module = _Seq(ck.nn, checkpoint_sequential)
    if dtype == np.float64:
        module = module.double()
    check_module(module, _TorchSeq().to(torch.float64 if dtype == np.float64 else torch.float32), [x],
                 rtol=1e-8 if dtype == np.float64 else None)
    with pytest.raises(ValueError, match="checkpoint_sequential: expected segments a positive int, got 0"):
        checkpoint_sequential(module.seq, 0, ck.ones(1, 2, 5, 5))
