"""The names added because public CNN code uses them (the measured top 200, docs/torch-compatibility.md) against
torch: acos/asin/atan, dot, mv, trace, dist, repeat_interleave, scatter/scatter_add (and in place), unique,
stride, new, random_, detach_, multinomial, pixel_shuffle/unshuffle, the padding layers, nn.DataParallel, pi;
forward and gradient in float64 and float32 where there is a gradient."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.ops.engine_helpers import check_all, normal


@pytest.mark.parametrize("name", ["acos", "asin", "atan"])
def test_inverse_trig(name):
    x = np.linspace(-0.95, 0.95, 12).reshape(3, 4) if name != "atan" else normal((3, 4)) * 3
    check_all(getattr(ck, name), getattr(torch, name), [x], what=name)
    check_all(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], gradcheck=False, what=f"Tensor.{name}")


def test_dot_mv_trace_dist():
    a, b, m = normal((5,)), normal((5,), 1), normal((3, 5), 2)
    check_all(ck.dot, torch.dot, [a, b], what="dot")
    check_all(lambda x, y: x.dot(y), lambda x, y: x.dot(y), [a, b], gradcheck=False, what="Tensor.dot")
    check_all(ck.mv, torch.mv, [m, a], what="mv")
    check_all(ck.trace, torch.trace, [normal((4, 4), 3)], what="trace")
    check_all(ck.trace, torch.trace, [normal((3, 5), 4)], what="trace (3, 5)")
    assert ck.trace(ck.tensor([[1, 2], [3, 4]])).item() == 5
    for p in (2, 1, 3.5, math.inf):
        check_all(lambda x, y: ck.dist(x, y, p), lambda x, y: torch.dist(x, y, p), [m, normal((1, 5), 5)],
                  what=f"dist p={p}")
    with pytest.raises(ValueError, match="dot: inconsistent tensor size"):
        ck.dot(ck.ones(2), ck.ones(3))
    with pytest.raises(ValueError, match="mv: expected a 2-d matrix and a 1-d vector"):
        ck.mv(ck.ones(2), ck.ones(2))


@pytest.mark.parametrize("repeats, dim", [(2, None), (3, 1), ("tensor", 0), ("tensor", -1)])
def test_repeat_interleave(repeats, dim):
    x = normal((3, 3))
    counts = np.array([2, 0, 3])

    def run(lib):
        def fn(t):
            r = lib.tensor(counts) if repeats == "tensor" else repeats
            return lib.repeat_interleave(t, r, dim=dim)
        return fn
    check_all(run(ck), run(torch), [x], what=f"repeat_interleave {repeats} {dim}")
    assert ck.repeat_interleave(ck.tensor([1, 3])).tolist() == torch.repeat_interleave(torch.tensor([1, 3])).tolist()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_and_scatter_add(dim):
    rng = np.random.default_rng(0)
    x = normal((3, 4))
    index = np.stack([rng.permutation(4)[:3] for _ in range(3)]) if dim != 0 else \
        np.stack([rng.permutation(3) for _ in range(4)], axis=1)[:2]
    src = normal(index.shape, 1)  # (torch's backward refuses a src larger than index)
    check_all(lambda a, s: ck.scatter(a, dim, ck.tensor(index), s), lambda a, s: torch.scatter(a, dim, torch.tensor(index), s),
              [x, src], what=f"scatter dim={dim}")
    dup = rng.integers(0, 3, (3, 3))  # repeated indices: scatter_add accumulates
    check_all(lambda a, s: ck.scatter_add(a, dim, ck.tensor(dup), s),
              lambda a, s: torch.scatter_add(a, dim, torch.tensor(dup), s), [x, normal((3, 3), 2)],
              what=f"scatter_add dim={dim}")
    check_all(lambda a: a.scatter(dim, ck.tensor(index), 2.5), lambda a: a.scatter(dim, torch.tensor(index), 2.5),
              [x], what="scatter value")


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_in_place_one_hot():
    labels = [2, 0, 1, 2]
    for lib in (ck, torch):
        oh = lib.zeros(4, 3).scatter_(1, lib.tensor(labels).view(-1, 1), 1)
        assert oh.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    ours = ck.zeros(2, 3).scatter_add_(1, ck.tensor([[0, 0], [2, 1]]), ck.ones(2, 2))
    theirs = torch.zeros(2, 3).scatter_add_(1, torch.tensor([[0, 0], [2, 1]]), torch.ones(2, 2))
    assert ours.tolist() == theirs.tolist()
    ours = ck.full((2, 2), 2.0).scatter_(0, ck.tensor([[1, 0]]), ck.full((1, 2), 3.0), reduce="multiply")
    theirs = torch.full((2, 2), 2.0).scatter_(0, torch.tensor([[1, 0]]), torch.full((1, 2), 3.0), reduce="multiply")
    assert ours.tolist() == theirs.tolist()
    with pytest.raises(RuntimeError, match="scatter_: a tensor that requires grad"):
        ck.zeros(2, requires_grad=True).scatter_(0, ck.tensor([0]), 1.0)
    with pytest.raises(IndexError, match="scatter: index out of range"):
        ck.zeros(2, 2).scatter(1, ck.tensor([[5]]), 1.0)


def test_unique():
    data = [[3, 1, 3], [2, 1, 7]]
    for kwargs in [{}, dict(return_inverse=True), dict(return_counts=True), dict(return_inverse=True, return_counts=True),
                   dict(dim=0), dict(dim=1, return_inverse=True)]:
        ours, theirs = ck.unique(ck.tensor(data), **kwargs), torch.unique(torch.tensor(data), **kwargs)
        ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
        assert [o.tolist() for o in ours] == [t.tolist() for t in theirs], kwargs
    assert ck.tensor([2.0, 1.0, 2.0]).unique().tolist() == [1.0, 2.0]


def test_stride_new_random_detach():
    x = ck.zeros(2, 3, 4)
    t = torch.zeros(2, 3, 4)
    assert x.stride() == t.stride() and x.stride(1) == t.stride(1)
    assert x.transpose(0, 2).stride() == t.transpose(0, 2).stride()
    assert x.new(5, 2).shape == (5, 2) and x.new([1, 2]).dtype == ck.float32 and x.new().shape == (0,)
    assert ck.zeros(2, dtype=ck.int64).new([1.7]).tolist() == torch.zeros(2, dtype=torch.int64).new([1.7]).tolist()
    ck.manual_seed(0)
    r = ck.zeros(1000).random_(3, 7)
    assert set(r.tolist()) == {3.0, 4.0, 5.0, 6.0}
    r = ck.zeros(1000, dtype=ck.int64).random_(5)
    assert r.min().item() == 0 and r.max().item() == 4
    w = ck.ones(3, requires_grad=True)
    y = w * 2
    y.detach_()
    assert not y.requires_grad and y.grad_fn is None


def test_multinomial():
    ck.manual_seed(1)
    w = ck.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]])
    draws = ck.multinomial(w, 4000, replacement=True)
    assert draws.shape == (2, 4000) and draws.dtype == ck.int64
    freq = np.bincount(draws.numpy()[0], minlength=3) / 4000
    assert freq[0] == 0 and abs(freq[2] - 0.75) < 0.03  # 5 standard errors
    assert set(draws.numpy()[1].tolist()) == {0}
    no_rep = ck.multinomial(ck.tensor([1.0, 2.0, 0.0, 4.0]), 3)
    assert sorted(no_rep.tolist()) == [0, 1, 3]
    with pytest.raises(ValueError, match="cannot draw 4 samples without replacement"):
        ck.multinomial(ck.tensor([1.0, 2.0, 0.0, 4.0]), 4)


@pytest.mark.parametrize("shape, r", [((1, 8, 2, 3), 2), ((2, 9, 1, 2), 3), ((3, 4, 2, 2), 1), ((4, 2, 2), 1)])
def test_pixel_shuffle(shape, r):
    check_all(lambda t: F.pixel_shuffle(t, r), lambda t: TF.pixel_shuffle(t, r), [normal(shape)], what="pixel_shuffle")
    n, *rest = shape
    up = tuple(shape[:-3]) + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    check_all(lambda t: F.pixel_unshuffle(t, r), lambda t: TF.pixel_unshuffle(t, r), [normal(up)],
              what="pixel_unshuffle")
    check_all(ck.nn.PixelShuffle(r), torch.nn.PixelShuffle(r), [normal(shape)], gradcheck=False, what="PixelShuffle")


@pytest.mark.parametrize("name, args", [("ZeroPad2d", (1,)), ("ZeroPad2d", ((1, 0, 2, 1),)), ("ConstantPad2d", (2, 1.5)),
                                        ("ReflectionPad2d", ((1, 2, 0, 1),)), ("ReplicationPad2d", (2,)),
                                        ("CircularPad2d", (1,)), ("ZeroPad1d", (2,)), ("ConstantPad1d", ((1, 0), -1.0)),
                                        ("ReflectionPad1d", (2,)), ("ReplicationPad1d", ((0, 3),)),
                                        ("CircularPad1d", (1,))])
def test_padding_layers(name, args):
    shape = (2, 3, 4, 5) if name.endswith("2d") else (2, 3, 5)
    ours, theirs = getattr(ck.nn, name)(*args), getattr(torch.nn, name)(*args)
    check_all(ours, theirs, [normal(shape)], what=repr(ours))
    assert repr(ours) == repr(theirs)


def test_module_level_names():
    assert ck.nn.DataParallel is ck.nn.parallel.DataParallel
    assert (ck.pi, ck.e, ck.inf) == (torch.pi, torch.e, torch.inf) and math.isnan(ck.nan)
