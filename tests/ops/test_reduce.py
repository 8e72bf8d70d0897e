"""Reductions against torch: sum, mean, var/std, max/min (with and without dim), amax/amin, argmax/argmin,
over dim None / int / tuple with keepdim, including ties."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnkit as ck
from tests.ops.engine_helpers import check_all, distinct, normal
from tests.oracle import check_op


@st.composite
def shape_and_dim(draw, tuples=True, min_side=1, min_dims=0):
    """A shape and a dim for it: None, an int (negative too) or a tuple of distinct dims; and keepdim."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=4))
    nd = len(shape)
    kinds = ["none", "int"] + (["tuple"] if tuples and nd else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        dim = None
    elif kind == "int":
        dim = draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        dim = tuple(a - nd if draw(st.booleans()) else a for a in axes)
    return shape, dim, draw(st.booleans()), draw(st.integers(0, 2**16))


def _call(obj, name, dim, keepdim, **kw):
    """obj.name(dim, keepdim=...) in the spelling both frameworks accept (no dim argument for dim=None)."""
    if dim is None:
        return getattr(obj, name)(**kw) if not keepdim else getattr(obj, name)(dim=None, keepdim=True, **kw)
    return getattr(obj, name)(dim, keepdim=keepdim, **kw)


DIMS = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), ()]


# ----- sum / mean ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean(name, dim, keepdim):
    x = normal((2, 3, 4), 0)
    check_all(lambda t: _call(t, name, dim, keepdim), lambda t: _call(t, name, dim, keepdim), [x],
              what=f"{name}({dim}, keepdim={keepdim})")
    check_all(lambda t: getattr(ck, name)(t, dim, keepdim), lambda t: _call(t, name, dim, keepdim), [x],
              what=f"ck.{name}")


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=shape_and_dim())
def test_sum_mean_hypothesis(name, case):
    shape, dim, keepdim, seed = case
    fn = lambda t: _call(t, name, dim, keepdim)  # noqa: E731
    check_all(fn, fn, [normal(shape, seed)], what=f"{name}{shape} dim={dim} keepdim={keepdim}")


def test_sum_dtypes():
    check_op(lambda t: t.sum(), lambda t: t.sum(), [np.array([True, False, True])])
    check_op(lambda t: t.sum(0), lambda t: t.sum(0), [np.array([[1, 2], [3, 4]], np.int32)])
    check_op(lambda t: t.sum(1), lambda t: t.sum(1), [np.array([[1, 2], [3, 4]], np.int64)])
    assert ck.tensor(np.ones(3, np.float32)).sum().dtype == np.float32
    x = ck.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    x.mean().backward()
    assert x.grad.dtype == np.float32


def test_sum_empty():
    check_op(lambda t: t.sum(0), lambda t: t.sum(0), [np.zeros((0, 3))])
    check_op(lambda t: t.sum(), lambda t: t.sum(), [np.zeros((2, 0))])


def test_mean_of_integers_raises():
    with pytest.raises(TypeError, match="mean: expected a floating point tensor, got dtype int64"):
        ck.tensor([1, 2, 3]).mean()


# ----- var / std ------------------------------------------------------------------------------------------

VAR_OPTIONS = [dict(), dict(unbiased=True), dict(unbiased=False), dict(correction=0), dict(correction=1),
               dict(correction=2)]


@pytest.mark.parametrize("kw", VAR_OPTIONS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (1, 2)])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name, dim, keepdim, kw):
    x = normal((3, 4, 5), 1)
    fn = lambda t: _call(t, name, dim, keepdim, **kw)  # noqa: E731
    check_all(fn, fn, [x], what=f"{name}({dim}, keepdim={keepdim}, {kw})")


def test_var_function_form():
    x = normal((4, 5), 2)
    check_all(lambda t: ck.var(t, 1, False, True), lambda t: torch.var(t, 1, False, True), [x], what="ck.var")
    check_all(lambda t: ck.std(t, dim=0, correction=0), lambda t: torch.std(t, dim=0, correction=0), [x],
              what="ck.std")


@given(case=shape_and_dim(min_side=2, min_dims=1), correction=st.sampled_from([0, 1]))
def test_var_hypothesis(case, correction):
    shape, dim, keepdim, seed = case
    fn = lambda t: _call(t, "var", dim, keepdim, correction=correction)  # noqa: E731
    check_all(fn, fn, [normal(shape, seed)], what=f"var{shape} dim={dim} keepdim={keepdim} c={correction}")


def test_var_of_one_element_is_nan_like_torch():
    # (compared by hand: the oracle's tolerance is NaN when every expected value is NaN)
    assert np.isnan(ck.tensor([2.0]).var().item())
    with pytest.warns(UserWarning):  # torch warns about the degrees of freedom
        assert np.isnan(torch.tensor([2.0]).var().item())
    check_op(lambda t: t.var(correction=0), lambda t: t.var(correction=0), [np.array([2.0])])


def test_var_errors():
    x = ck.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="var: give either unbiased or correction, not both"):
        x.var(unbiased=True, correction=0)
    with pytest.raises(TypeError, match="var: expected a floating point tensor, got dtype int64"):
        ck.tensor([1, 2]).var()


# ----- max / min / amax / amin ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_full_reduction(name):
    x = distinct((3, 4), 0)
    check_all(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], what=f"{name}()")
    check_all(lambda t: getattr(ck, name)(t), lambda t: getattr(torch, name)(t), [x], what=f"ck.{name}")


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim_returns_values_and_indices(name, dim, keepdim):
    x = distinct((2, 3, 4), 1)
    out = check_op(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(dim, keepdim), [x])
    check_op(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(dim, keepdim),
             [x.astype(np.float32)])
    assert ck.autograd.gradcheck(lambda t: getattr(ck, name)(t, dim=dim, keepdim=keepdim),
                                 [ck.tensor(x, requires_grad=True)])
    r = getattr(ck.tensor(x), name)(dim, keepdim=keepdim)
    values, indices = r  # unpacks like torch's return type
    assert r.values is values and r.indices is indices
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert out[1].dtype == np.int64


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin(name, dim, keepdim):
    x = distinct((2, 3, 4), 2)
    th_dim = () if dim is None else dim
    check_all(lambda t: getattr(ck, name)(t, dim, keepdim), lambda t: getattr(torch, name)(t, th_dim, keepdim),
              [x], what=f"{name}({dim}, {keepdim})")
    check_all(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim),
              lambda t: getattr(t, name)(dim=th_dim, keepdim=keepdim), [x], what=f"t.{name}")


@pytest.mark.parametrize("name", ["amax", "amin"])
@given(case=shape_and_dim())
def test_amax_amin_hypothesis(name, case):
    shape, dim, keepdim, seed = case
    th_dim = () if dim is None else dim
    check_all(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(th_dim, keepdim),
              [distinct(shape, seed)], what=f"{name}{shape} dim={dim}")


@pytest.mark.parametrize("name", ["max", "min"])
@given(case=shape_and_dim(tuples=False))
def test_max_min_hypothesis(name, case):
    shape, dim, keepdim, seed = case
    if dim is None:
        fn = lambda t: getattr(t, name)()  # noqa: E731
    else:
        fn = lambda t: getattr(t, name)(dim, keepdim)  # noqa: E731
    check_all(fn, fn, [distinct(shape, seed)], what=f"{name}{shape} dim={dim}")


TIES = np.array([[1.0, 3.0, 3.0, 0.0],
                 [2.0, 2.0, 2.0, 2.0],
                 [-1.0, 5.0, 4.0, 5.0]])


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["max", "min"])
def test_ties(name, dt):
    x = TIES.astype(dt)
    # with a dim: the index of the first extreme value, and the whole gradient goes to it
    for dim in (0, 1):
        for keepdim in (False, True):
            check_op(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(dim, keepdim), [x])
    # without a dim, and amax/amin: the gradient is shared evenly among the tied elements
    check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
    a = "a" + name
    for dim in (None, 0, 1, (0, 1)):
        th_dim = () if dim is None else dim
        check_op(lambda t: getattr(t, a)(dim), lambda t: getattr(t, a)(th_dim), [x])


def test_max_of_0d_tensor():
    x = np.array(3.0)
    for dim in (0, -1):
        check_op(lambda t: t.max(dim), lambda t: t.max(dim), [x])
        check_op(lambda t: t.amin(dim), lambda t: t.amin(dim), [x])
        check_op(lambda t: t.argmax(dim), lambda t: t.argmax(dim), [x], grad=[])
        check_op(lambda t: t.sum(dim), lambda t: t.sum(dim), [x])
        check_op(lambda t: t.var(dim, correction=0), lambda t: t.var(dim, correction=0), [x])


def test_max_nan_propagates():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0], [np.nan, 0.0, np.nan]])
    for name in ("max", "min"):
        v, i = getattr(ck.tensor(x), name)(1)
        tv, ti = getattr(torch.from_numpy(x), name)(1)
        np.testing.assert_array_equal(v._data, tv.numpy())  # NaNs in the same places
        np.testing.assert_array_equal(i._data, ti.numpy())
        np.testing.assert_array_equal(getattr(ck.tensor(x), "a" + name)(1)._data,
                                      getattr(torch.from_numpy(x), "a" + name)(1).numpy())


# ----- argmax / argmin -----------------------------------------------------------------------------------

@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, dim, keepdim):
    for x in (distinct((3, 4), 3), TIES, TIES.astype(np.float32), np.array([[3, 1, 3], [0, 7, 7]])):
        check_op(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(dim, keepdim), [x], grad=[])
        check_op(lambda t: getattr(ck, name)(t, dim=dim, keepdim=keepdim),
                 lambda t: getattr(torch, name)(t, dim=dim, keepdim=keepdim), [x], grad=[])
    r = getattr(ck.tensor(TIES, requires_grad=True), name)(dim)
    assert r.dtype == np.int64 and not r.requires_grad


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(case=shape_and_dim(tuples=False))
def test_argmax_argmin_hypothesis(name, case):
    shape, dim, keepdim, seed = case
    x = np.random.default_rng(seed).integers(0, 3, shape).astype(np.float32)  # many ties
    check_op(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(dim, keepdim), [x], grad=[])


# ----- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "mean", "var", "amax", "amin", "max", "min", "argmax", "argmin"])
def test_dim_errors(name):
    x = ck.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match=rf"{name}: dim 2 is out of range for a tensor with 2 dimensions "
                                         rf"\(expected -2 to 1\)"):
        getattr(x, name)(2)
    with pytest.raises(IndexError, match=rf"{name}: dim -3 is out of range"):
        getattr(x, name)(-3)
    with pytest.raises(TypeError, match=rf"{name}: dim must be an int"):
        getattr(x, name)(1.0)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "amax", "amin"])
def test_duplicate_dims(name):
    with pytest.raises(ValueError, match=rf"{name}: dim \(0, -2\) names the same dimension twice"):
        getattr(ck.tensor(np.ones((2, 3))), name)((0, -2))


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_tuple_dim_rejected_where_torch_takes_an_int(name):
    with pytest.raises(TypeError, match=rf"{name}: dim must be an int, got \(0, 1\)"):
        getattr(ck.tensor(np.ones((2, 3))), name)((0, 1))


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_empty_reduction_errors(name):
    with pytest.raises(ValueError, match=rf"{name}: cannot reduce an empty tensor"):
        getattr(ck.tensor(np.ones((0, 3))), name)()
