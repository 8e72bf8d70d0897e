"""index_select, gather, narrow, unbind, flip, roll, repeat; square, reciprocal, rsqrt, log1p, expm1,
floor/ceil/round/trunc, cumsum, logsumexp, norm: against torch, forward and gradient, float64 and float32;
and the grad-mode switches in PyTorch's forms (set_grad_enabled called alone, bare decorators, inference_mode)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
from tests.ops.engine_helpers import away_from_zero, check_all, normal, positive
from tests.oracle import assert_close

X = normal((3, 4, 2), 0)


@pytest.mark.parametrize("dim, index", [(0, [2, 0, 2]), (1, [3]), (2, [1, 0, 1, 1]), (-1, [0])])
def test_index_select(dim, index):
    idx = np.array(index)
    check_all(lambda t: ck.index_select(t, dim, ck.tensor(idx)), lambda t: torch.index_select(t, dim,
              torch.from_numpy(idx)), [X], what="index_select")
    check_all(lambda t: t.index_select(dim, ck.tensor(idx)), lambda t: t.index_select(dim, torch.from_numpy(idx)),
              [X], gradcheck=False, what="Tensor.index_select")


@pytest.mark.parametrize("dim, shape", [(0, (2, 4, 2)), (1, (3, 6, 2)), (2, (2, 3, 3)), (-1, (3, 4, 1))])
def test_gather(dim, shape):
    idx = np.random.default_rng(1).integers(0, X.shape[dim], shape)
    check_all(lambda t: ck.gather(t, dim, ck.tensor(idx)), lambda t: torch.gather(t, dim, torch.from_numpy(idx)),
              [X], what="gather")


def test_narrow_unbind():
    check_all(lambda t: ck.narrow(t, 1, 1, 2), lambda t: torch.narrow(t, 1, 1, 2), [X], what="narrow")
    for k in range(4):
        check_all(lambda t, k=k: ck.unbind(t, 1)[k], lambda t, k=k: torch.unbind(t, 1)[k], [X], what="unbind")


@pytest.mark.parametrize("dims", [0, (1,), (0, 2), (-1, 0)])
def test_flip(dims):
    check_all(lambda t: ck.flip(t, dims), lambda t: torch.flip(t, dims if isinstance(dims, tuple) else (dims,)), [X],
              what="flip")


@pytest.mark.parametrize("shifts, dims", [(1, None), (-2, 1), ((1, 3), (0, 1)), (5, 2)])
def test_roll(shifts, dims):
    check_all(lambda t: ck.roll(t, shifts, dims), lambda t: torch.roll(t, shifts, dims), [X], what="roll")


@pytest.mark.parametrize("reps", [(1, 1, 1), (2, 1, 3), (2, 1, 1, 2), (1, 3, 1)])
def test_repeat(reps):
    check_all(lambda t: t.repeat(*reps), lambda t: t.repeat(*reps), [X], what=f"repeat{reps}")
    np.testing.assert_array_equal(ck.arange(3).repeat(2).numpy(), torch.arange(3).repeat(2).numpy())


@pytest.mark.parametrize("name, values", [("square", normal), ("reciprocal", away_from_zero), ("rsqrt", positive),
                                          ("log1p", positive), ("expm1", normal)])
def test_unary(name, values):
    x = values((2, 3), 4)
    check_all(getattr(ck, name), getattr(torch, name), [x], what=name)
    check_all(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], gradcheck=False, what=name)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_rounding(name):
    x = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.7])
    assert_close(getattr(ck, name)(ck.tensor(x)), getattr(torch, name)(torch.from_numpy(x)), 0, name)
    assert_close(getattr(ck.tensor(x), name)(), getattr(torch.from_numpy(x), name)(), 0, name)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum(dim):
    check_all(lambda t: ck.cumsum(t, dim), lambda t: torch.cumsum(t, dim), [X], what="cumsum")
    np.testing.assert_array_equal(ck.cumsum(ck.tensor([1, 2, 3]), 0).numpy(), torch.cumsum(torch.tensor([1, 2, 3]),
                                                                                            0).numpy())


@pytest.mark.parametrize("dim, keepdim", [(0, False), ((1, 2), True), (-1, False)])
def test_logsumexp(dim, keepdim):
    check_all(lambda t: ck.logsumexp(t, dim, keepdim), lambda t: torch.logsumexp(t, dim, keepdim), [X * 30],
              what="logsumexp")


@pytest.mark.parametrize("p, dim, keepdim", [("fro", None, False), (2, 1, True), (1, (0, 2), False),
                                             (3, -1, False), (float("inf"), None, False)])
def test_norm(p, dim, keepdim):
    x = away_from_zero((3, 4, 2), 2)
    check_all(lambda t: ck.norm(t, p, dim, keepdim), lambda t: torch.norm(t, p, dim, keepdim), [x], what="norm")
    check_all(lambda t: t.norm(p, dim, keepdim), lambda t: t.norm(p, dim, keepdim), [x], gradcheck=False)


def test_grad_mode_in_torchs_forms():
    w = ck.ones(2, requires_grad=True)
    previous = ck.is_grad_enabled()
    try:
        ck.set_grad_enabled(False)  # called alone: switches recording off at once, like torch
        assert not ck.is_grad_enabled() and not (w * 2).requires_grad
    finally:
        ck.set_grad_enabled(previous)
    assert ck.is_grad_enabled()

    @ck.no_grad
    def bare(x):
        return x * 2

    @ck.inference_mode()
    def inference(x):
        return x * 2

    assert not bare(w).requires_grad and not inference(w).requires_grad and (w * 2).requires_grad
    with ck.inference_mode():
        assert not (w * 2).requires_grad
    with ck.inference_mode(False):
        assert (w * 2).requires_grad
    with ck.no_grad():
        with ck.enable_grad():
            assert (w * 2).requires_grad
        assert not (w * 2).requires_grad


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False)])
@pytest.mark.parametrize("with_zero", [False, True])
def test_prod(dim, keepdim, with_zero):
    x = normal((3, 4), 5)
    if with_zero:
        x[1, 2] = 0.0  # the gradient of the other factors stays exact (no division by x)
        x[2, 0] = x[2, 1] = 0.0
    ck_fn = (lambda t: ck.prod(t)) if dim is None else (lambda t: ck.prod(t, dim, keepdim))
    th_fn = (lambda t: torch.prod(t)) if dim is None else (lambda t: torch.prod(t, dim, keepdim))
    check_all(ck_fn, th_fn, [x], what=f"prod dim={dim}")
    assert ck.prod(ck.tensor([2, 3, 4])).item() == 24 and ck.tensor([[1, 2], [3, 4]]).prod(1).tolist() == [2, 12]
    assert ck.numel(ck.zeros(2, 3)) == torch.numel(torch.zeros(2, 3))
