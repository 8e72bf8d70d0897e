"""The names real PyTorch programs use that cnnkit lacked: trig functions, bmm/mm, topk/sort, meshgrid,
masked_fill, one_hot, creation functions (linspace, eye, normal, size=), axis= spellings, div rounding modes;
against torch, forward and gradient, float64 and float32 (check_all: the oracle in both dtypes + gradcheck)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.ops.engine_helpers import check_all, distinct, normal
from tests.oracle import assert_close

SHAPES = [(), (4,), (2, 3), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["sin", "cos", "tan", "sinh", "cosh"])
def test_trig_functions_and_methods(name, shape):
    x = np.asarray(normal(shape, 3) * (0.5 if name == "tan" else 1.0))
    check_all(getattr(ck, name), getattr(torch, name), [x], what=name)
    check_all(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], gradcheck=False, what=name)


def test_trig_promotes_integers():
    assert ck.sin(ck.arange(3)).dtype == np.float32 == torch.sin(torch.arange(3)).numpy().dtype


@pytest.mark.parametrize("sa, sb", [((3, 2, 4), (3, 4, 5)), ((1, 1, 1), (1, 1, 2)), ((2, 3, 3), (2, 3, 3))])
def test_bmm(sa, sb):
    check_all(ck.bmm, torch.bmm, [normal(sa, 0), normal(sb, 1)], what="bmm")
    check_all(lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), [normal(sa, 0), normal(sb, 1)], gradcheck=False)


def test_mm_and_bmm_errors():
    check_all(ck.mm, torch.mm, [normal((2, 3), 0), normal((3, 4), 1)], what="mm")
    with pytest.raises(ValueError, match="bmm: expected two 3-d tensors"):
        ck.bmm(ck.zeros(2, 3), ck.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"bmm: shapes \(2, 3, 4\) and \(3, 4, 5\) do not fit"):
        ck.bmm(ck.zeros(2, 3, 4), ck.zeros(3, 4, 5))


@pytest.mark.parametrize("shape, k, dim, largest", [((6,), 3, -1, True), ((3, 5), 2, 1, False), ((4, 3, 2), 4, 0, True),
                                                    ((2, 5), 5, -1, True), ((3, 4), 0, 1, True), ((), 1, 0, True)])
def test_topk(shape, k, dim, largest):
    x = distinct(shape, k)
    for dt in (np.float64, np.float32):
        out = ck.topk(ck.tensor(x.astype(dt)), k, dim, largest)
        ref = torch.topk(torch.from_numpy(x.astype(dt)), k, dim, largest)
        np.testing.assert_array_equal(out.indices.numpy(), ref.indices.numpy())
    check_all(lambda t: ck.topk(t, k, dim, largest)[0], lambda t: torch.topk(t, k, dim, largest)[0], [x],
              what="topk values")
    check_all(lambda t: t.topk(k, dim=dim, largest=largest).values,
              lambda t: t.topk(k, dim=dim, largest=largest).values, [x], gradcheck=False, what="Tensor.topk")


@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort(descending):
    x = distinct((3, 5), 2)
    check_all(lambda t: ck.sort(t, 1, descending)[0], lambda t: torch.sort(t, 1, descending)[0], [x], what="sort")
    np.testing.assert_array_equal(ck.argsort(ck.tensor(x), 0, descending).numpy(),
                                  torch.argsort(torch.from_numpy(x), 0, descending).numpy())


def test_topk_errors():
    with pytest.raises(ValueError, match=r"topk: k \(4\) is out of range"):
        ck.topk(ck.zeros(3), 4)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3,), (3, 4), (2, 3, 4)])
def test_meshgrid(sizes, indexing):
    xs = [normal((n,), i) for i, n in enumerate(sizes)]
    for k in range(len(sizes)):
        check_all(lambda *ts, k=k: ck.meshgrid(*ts, indexing=indexing)[k],
                  lambda *ts, k=k: torch.meshgrid(*ts, indexing=indexing)[k], xs, grad=[k], what=f"meshgrid[{k}]")
    assert len(ck.meshgrid(*[ck.tensor(x) for x in xs])) == len(sizes)


@pytest.mark.parametrize("xs, ms", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1, 2), (1, 3, 2))[0:1] * 2])
def test_masked_fill(xs, ms):
    mask = np.random.default_rng(0).random(ms) > 0.5
    check_all(lambda t, m: ck.masked_fill(t, m, -1.5), lambda t, m: t.masked_fill(m, -1.5), [normal(xs), mask],
              grad=[0], what="masked_fill")
    check_all(lambda t, m: t.masked_fill(m, 2.0), lambda t, m: t.masked_fill(m, 2.0), [normal(xs), mask],
              grad=[0], gradcheck=False, what="Tensor.masked_fill")


@pytest.mark.parametrize("shape, n", [((5,), -1), ((2, 3), 7), ((), 4), ((0,), 3)])
def test_one_hot(shape, n):
    idx = np.random.default_rng(1).integers(0, 4, shape).astype(np.int64)
    np.testing.assert_array_equal(F.one_hot(ck.tensor(idx), n).numpy(),
                                  torch.nn.functional.one_hot(torch.from_numpy(idx), n).numpy())
    assert F.one_hot(ck.tensor(idx), n).dtype == np.int64


def test_one_hot_errors():
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(ck.tensor([0, 5]), 3)
    with pytest.raises(TypeError, match="int64"):
        F.one_hot(ck.tensor([0.0, 1.0]))


def test_creation_functions_like_torch():
    for dt, tdt in ((None, None), (ck.float64, torch.float64)):
        assert_close(ck.linspace(-1, 2, 7, dtype=dt), torch.linspace(-1, 2, 7, dtype=tdt), 1e-6, "linspace")
        assert_close(ck.eye(3, dtype=dt), torch.eye(3, dtype=tdt), 0, "eye")
        assert_close(ck.eye(2, 4, dtype=dt), torch.eye(2, 4, dtype=tdt), 0, "eye n m")
    assert ck.linspace(0, 1, 1).tolist() == torch.linspace(0, 1, 1).tolist()
    assert ck.rand(size=(2, 3)).shape == (2, 3) == ck.randn(size=(2, 3)).shape == ck.zeros(size=(2, 3)).shape
    assert ck.rand(2, 3).dtype == np.float32 and ck.eye(2).requires_grad is False
    assert ck.is_tensor(ck.zeros(1)) and not ck.is_tensor(np.zeros(1))
    with pytest.raises(TypeError, match="either positionally or as size="):
        ck.rand(2, size=(2,))


def test_normal_moments_and_shapes():
    ck.manual_seed(0)
    x = ck.normal(2.0, 3.0, size=(200_000,))
    assert x.shape == (200_000,) and x.dtype == np.float32
    assert abs(float(x.mean()) - 2.0) < 0.05 and abs(float(x.std()) - 3.0) < 0.05
    m = ck.tensor([[0.0, 100.0]], dtype=ck.float64)
    y = ck.normal(m, ck.tensor([1e-9, 1e-9], dtype=ck.float64))
    assert y.shape == (1, 2) and y.dtype == np.float64 and np.allclose(y.numpy(), m.numpy())
    with pytest.raises(ValueError, match="std must be non-negative"):
        ck.normal(0.0, -1.0, size=(2,))


@pytest.mark.parametrize("name", ["argmax", "argmin", "sum", "mean", "amax", "amin"])
def test_axis_spelling(name):
    x = distinct((3, 4), 0)
    ours = getattr(ck, name)(ck.tensor(x), axis=1)
    theirs = getattr(torch, name)(torch.from_numpy(x), axis=1)
    assert_close(ours, theirs, 1e-12, f"{name}(axis=1)")
    assert_close(getattr(ck.tensor(x), name)(axis=0), getattr(torch.from_numpy(x), name)(axis=0), 1e-12, name)
    with pytest.raises(TypeError, match="dim or axis"):
        getattr(ck, name)(ck.tensor(x), 0, axis=1)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_modes(mode):
    a, b = np.asarray(normal((3, 4), 0) * 5), normal((4,), 1)
    assert_close(ck.div(ck.tensor(a), ck.tensor(b), rounding_mode=mode),
                 torch.div(torch.from_numpy(a), torch.from_numpy(b), rounding_mode=mode), 0, mode)
    ia, ib = np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2])
    assert_close(ck.div(ck.tensor(ia), ck.tensor(ib), rounding_mode=mode),
                 torch.div(torch.from_numpy(ia), torch.from_numpy(ib), rounding_mode=mode), 0, mode)
    assert_close(ck.tensor(ia) // 2, torch.from_numpy(ia) // 2, 0, "//")
