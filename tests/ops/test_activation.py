"""Activation functions against torch: relu, leaky_relu, elu, sigmoid, tanh, softmax, log_softmax, glu and
cnnkit's maxout, forward and backward in float64 (rtol 1e-8) and float32 (1e-4), gradcheck in float64,
extreme inputs, the gradient convention at the kink, dtypes and every error."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.oracle import check_op

RTOL = 1e-8
DTYPES = (np.float64, np.float32)
SHAPES = [(7,), (4, 5), (2, 3, 4), (2, 3, 4, 5)]


def values(shape, seed=0, zeros=False, extreme=False, dtype=np.float64) -> np.ndarray:
    """Normal values of ``dtype``; ``zeros`` plants exact zeros (the kinks), ``extreme`` plants ±1e4 and ±80.

    float64 values have std 3 (deep into saturation); float32 ones std 1: in float32 the backward of tanh,
    sigmoid and softmax near saturation amplifies a 1-ulp difference of the forward (NumPy's and PyTorch's
    float32 exp/tanh round differently) beyond the 1e-4 tolerance, for any two correct implementations.
    """
    rng = np.random.default_rng(seed)
    x = (3 if np.dtype(dtype) == np.float64 else 1) * rng.standard_normal(shape)
    flat = x.reshape(-1)
    if zeros:
        flat[::3] = 0.0
    if extreme:
        special = np.array([1e4, -1e4, 80.0, -80.0, 1e4, 0.0])
        flat[::2] = special[np.arange(flat[::2].size) % special.size]
    return x.astype(dtype)


def away_from_kink(shape, seed=0) -> np.ndarray:
    """|v| >= 0.2: finite differences never straddle the kink at 0."""
    v = np.random.default_rng(seed).standard_normal(shape)
    return np.where(v >= 0, v + 0.2, v - 0.2)


def distinct(shape, seed=0) -> np.ndarray:
    """Well separated values in random order (no ties)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.37 - n * 0.1).reshape(shape)


def torch_maxout(x, pieces, dim):
    d = dim % x.dim()
    return x.unflatten(d, (x.shape[d] // pieces, pieces)).max(d + 1).values


# name -> (cnnkit fn, torch fn); element-wise ops with their options
ELEMENTWISE = {
    "relu": (F.relu, TF.relu),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu),
    "leaky_relu(0.2)": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "leaky_relu(0)": (lambda x: F.leaky_relu(x, 0.0), lambda x: TF.leaky_relu(x, 0.0)),
    "leaky_relu(1.5)": (lambda x: F.leaky_relu(x, 1.5), lambda x: TF.leaky_relu(x, 1.5)),
    "leaky_relu(-0.5)": (lambda x: F.leaky_relu(x, -0.5), lambda x: TF.leaky_relu(x, -0.5)),
    "leaky_relu(1)": (lambda x: F.leaky_relu(x, negative_slope=1), lambda x: TF.leaky_relu(x, 1)),
    "elu": (F.elu, TF.elu),
    "elu(0.5)": (lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
    "elu(2)": (lambda x: F.elu(x, alpha=2.0), lambda x: TF.elu(x, alpha=2.0)),
    "elu(-0.5)": (lambda x: F.elu(x, -0.5), lambda x: TF.elu(x, -0.5)),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
}
KINKED = {name for name in ELEMENTWISE if name.startswith(("relu", "leaky", "elu"))}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_against_torch(name, shape, dtype):
    ck_f, th_f = ELEMENTWISE[name]
    x = values(shape, seed=len(name), zeros=name in KINKED, dtype=dtype)
    check_op(ck_f, th_f, [x], rtol=RTOL, what=f"{name}{shape}")


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_gradcheck(name):
    x = ck.tensor(away_from_kink((3, 4), seed=1), requires_grad=True)
    assert ck.autograd.gradcheck(ELEMENTWISE[name][0], [x])


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "leaky_relu(0.2)", "leaky_relu(1.5)", "leaky_relu(-0.5)",
                                  "elu", "elu(0.5)", "elu(2)"])
def test_gradient_at_the_kink_is_pytorchs(name):
    """At exactly x = 0: relu 0, leaky_relu the slope, elu alpha (x <= 0 branch), as PyTorch."""
    ck_f, th_f = ELEMENTWISE[name]
    x = np.array([-1.0, -0.0, 0.0, 1.0, 0.0])
    out = check_op(ck_f, th_f, [x], rtol=RTOL)[0]
    xt = ck.tensor(x, requires_grad=True)
    ck_f(xt).backward(np.ones(5))
    xth = torch.tensor(x, requires_grad=True)
    th_f(xth).backward(torch.ones(5))
    np.testing.assert_array_equal(xt.grad._data, xth.grad.numpy())
    assert out.dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu"])
def test_extreme_values_no_warning(name, dtype):
    ck_f, th_f = ELEMENTWISE[name]
    x = np.array([1e4, -1e4, 100.0, -100.0, 88.0, -88.0, 710.0, -710.0, 0.0]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = check_op(ck_f, th_f, [x], rtol=RTOL)[0]
    assert np.all(np.isfinite(out._data))


def test_sigmoid_exact_limits():
    y = F.sigmoid(ck.tensor(np.array([1e4, -1e4, -745.0, 40.0], np.float64)))._data
    assert y[0] == 1.0 and y[1] == 0.0 and y[3] == 1.0
    assert y[2] >= 0.0
    small = F.sigmoid(ck.tensor(np.array([-30.0])))._data[0]      # relative accuracy far in the tail
    assert abs(small - 1 / (1 + np.exp(30.0))) <= 1e-15 * small


def test_nan_and_inf_propagate_like_torch():
    x = np.array([np.nan, np.inf, -np.inf, 1.0, -1.0])
    for name in ("relu", "leaky_relu", "leaky_relu(0)", "leaky_relu(1.5)", "leaky_relu(-0.5)", "elu", "elu(2)",
                 "sigmoid", "tanh"):
        ck_f, th_f = ELEMENTWISE[name]
        np.testing.assert_array_equal(ck_f(ck.tensor(x))._data, th_f(torch.tensor(x)).numpy(), err_msg=name)


# ----- softmax / log_softmax ---------------------------------------------------------------------

SOFTMAX_CASES = [(shape, dim) for shape in SHAPES for dim in range(-len(shape), len(shape))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", SOFTMAX_CASES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_against_torch(name, shape, dim, dtype):
    ck_f, th_f = getattr(F, name), getattr(TF, name)
    x = values(shape, seed=dim + 7, dtype=dtype)
    check_op(lambda t: ck_f(t, dim), lambda t: th_f(t, dim), [x], rtol=RTOL, what=f"{name}{shape} dim={dim}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", [((6,), 0), ((4, 6), 1), ((4, 6), 0), ((2, 3, 6), -1), ((2, 6, 2, 3), 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_stable_at_extremes(name, shape, dim, dtype):
    ck_f, th_f = getattr(F, name), getattr(TF, name)
    x = values(shape, seed=3, extreme=True).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = check_op(lambda t: ck_f(t, dim), lambda t: th_f(t, dim), [x], rtol=RTOL, what=f"{name} extreme")[0]
    assert np.all(np.isfinite(out._data))
    if name == "softmax":
        np.testing.assert_allclose(out.data.sum(axis=dim), 1.0, rtol=1e-5)


def test_log_softmax_is_log_sum_exp():
    x = ck.tensor(np.array([[1e4, 1e4 - 1.0, -1e4]]))
    y = F.log_softmax(x, 1)._data
    tail = np.log1p(np.exp(-1.0))                      # log Σ e^(x − max) = log(1 + e⁻¹ + e^(−2e4))
    np.testing.assert_allclose(y, [[-tail, -1.0 - tail, -2e4 - tail]], rtol=1e-15)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1), ((2, 3, 2, 2), 1)])
def test_softmax_gradcheck(name, shape, dim):
    x = ck.tensor(values(shape, seed=5) / 3, requires_grad=True)
    assert ck.autograd.gradcheck(lambda t: getattr(F, name)(t, dim), [x])


@pytest.mark.parametrize("ndim, expected_dim", [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_implicit_dim_follows_pytorch(name, ndim, expected_dim):
    x = values((2, 3, 4, 5)[:ndim], seed=ndim)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ck_out = getattr(F, name)(ck.tensor(x))._data
    with pytest.warns(UserWarning):
        th_out = getattr(TF, name)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ck_out, th_out, rtol=1e-12, atol=1e-15)
    if ndim:
        np.testing.assert_allclose(ck_out, getattr(F, name)(ck.tensor(x), expected_dim)._data, rtol=0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument(name):
    x = values((3, 5), seed=2).astype(np.float32)
    out = check_op(lambda t: getattr(F, name)(t, 1, dtype=ck.float64),
                   lambda t: getattr(TF, name)(t, 1, dtype=torch.float64), [x], rtol=1e-4)[0]
    assert out.dtype == np.float64


def test_softmax_of_a_scalar():
    for name in ("softmax", "log_softmax"):
        check_op(lambda t: getattr(F, name)(t, 0), lambda t: getattr(TF, name)(t, 0), [np.array(2.5)], rtol=RTOL)


# ----- glu ---------------------------------------------------------------------------------------

GLU_CASES = [((4,), 0), ((4,), -1), ((3, 6), 1), ((4, 3), 0), ((2, 4, 6), -1), ((2, 4, 6), 1), ((2, 4, 6), -3),
             ((2, 6, 3, 4), 1), ((2, 6, 3, 4), -1), ((2, 6, 3, 4), 0), ((2, 6, 3, 4), 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", GLU_CASES)
def test_glu_against_torch(shape, dim, dtype):
    x = values(shape, seed=abs(dim), dtype=dtype)
    check_op(lambda t: F.glu(t, dim), lambda t: TF.glu(t, dim), [x], rtol=RTOL, what=f"glu{shape} dim={dim}")


def test_glu_default_dim_and_extremes():
    x = values((3, 8), seed=4, extreme=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_op(F.glu, TF.glu, [x], rtol=RTOL)
        check_op(F.glu, TF.glu, [x.astype(np.float32)], rtol=RTOL)


@pytest.mark.parametrize("shape, dim", [((4,), 0), ((3, 4), 1), ((2, 4, 3), 1), ((2, 2, 2, 4), -1)])
def test_glu_gradcheck(shape, dim):
    x = ck.tensor(values(shape, seed=1) / 3, requires_grad=True)
    assert ck.autograd.gradcheck(lambda t: F.glu(t, dim), [x])


# ----- maxout ------------------------------------------------------------------------------------

MAXOUT_CASES = [((2, 6, 3, 3), 1, 1), ((2, 6, 3, 3), 2, 1), ((2, 6, 3, 3), 3, 1), ((2, 6, 3, 3), 6, 1),
                ((4, 6), 2, -1), ((4, 6), 3, 1), ((4, 6), 2, 0), ((2, 3, 8), 4, 2), ((2, 3, 8), 2, -1),
                ((12,), 3, 0), ((2, 4, 2, 6), 3, -1), ((2, 4, 2, 6), 2, -3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, pieces, dim", MAXOUT_CASES)
def test_maxout_against_torch(shape, pieces, dim, dtype):
    x = distinct(shape, seed=pieces).astype(dtype)
    out = check_op(lambda t: F.maxout(t, pieces, dim), lambda t: torch_maxout(t, pieces, dim), [x], rtol=RTOL,
                   what=f"maxout{shape} pieces={pieces} dim={dim}")[0]
    assert out.dtype == dtype


@pytest.mark.parametrize("shape, pieces, dim", [((2, 6, 2, 2), 2, 1), ((3, 6), 3, -1), ((2, 4, 3), 4, 1)])
def test_maxout_gradcheck(shape, pieces, dim):
    x = ck.tensor(distinct(shape, seed=3), requires_grad=True)
    assert ck.autograd.gradcheck(lambda t: F.maxout(t, pieces, dim), [x])


def test_maxout_ties_route_to_the_first_winner():
    x = np.array([[3.0, 3.0, 1.0, 5.0, 5.0, 5.0, 2.0, 2.0, 2.0, -1.0, 0.0, -1.0]]).reshape(1, 12)
    xt = ck.tensor(x, requires_grad=True)
    y = F.maxout(xt, 3, 1)
    np.testing.assert_array_equal(y._data, [[3.0, 5.0, 2.0, 0.0]])
    y.backward(np.array([[10.0, 20.0, 30.0, 40.0]]))
    np.testing.assert_array_equal(xt.grad._data, [[10, 0, 0, 20, 0, 0, 30, 0, 0, 0, 40, 0]])
    # PyTorch's max(dim) makes the same choice on these ties
    xth = torch.tensor(x, requires_grad=True)
    torch_maxout(xth, 3, 1).backward(torch.tensor([[10.0, 20.0, 30.0, 40.0]], dtype=torch.float64))
    np.testing.assert_array_equal(xt.grad._data, xth.grad.numpy())


def test_maxout_all_equal_group_gives_one_gradient():
    xt = ck.tensor(np.zeros((2, 8, 3, 3)), requires_grad=True)
    F.maxout(xt, 4).sum().backward()
    g = xt.grad._data.reshape(2, 2, 4, 3, 3)
    np.testing.assert_array_equal(g.sum(axis=2), 1.0)
    np.testing.assert_array_equal(g[:, :, 0], 1.0)


def test_maxout_nan_propagates():
    x = np.array([[1.0, np.nan, 2.0, 0.5]])
    np.testing.assert_array_equal(F.maxout(ck.tensor(x), 2)._data, torch_maxout(torch.tensor(x), 2, 1).numpy())


def test_maxout_many_pieces_and_integers():
    x = distinct((2, 300), seed=1)
    check_op(lambda t: F.maxout(t, 300, 1), lambda t: torch_maxout(t, 300, 1), [x], rtol=RTOL)
    xi = np.arange(12).reshape(2, 6)[:, ::-1].copy()
    y = F.maxout(ck.tensor(xi), 3)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y._data, torch_maxout(torch.tensor(xi), 3, 1).numpy())


# ----- dtypes, inplace flags, Tensor inputs ------------------------------------------------------

def test_float32_stays_float32_everywhere():
    x = ck.randn(3, 4, requires_grad=True)
    for fn in (F.relu, F.leaky_relu, F.elu, F.sigmoid, F.tanh, lambda t: F.softmax(t, 1),
               lambda t: F.log_softmax(t, 1), F.glu, lambda t: F.maxout(t, 2), lambda t: F.leaky_relu(t, -0.3),
               lambda t: F.leaky_relu(t, 3.0)):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_integer_inputs_follow_pytorch():
    xi = np.array([[1, -2, 0, 3]])
    r = F.relu(ck.tensor(xi))
    assert r.dtype == np.int64
    np.testing.assert_array_equal(r._data, TF.relu(torch.tensor(xi)).numpy())
    for name in ("sigmoid", "tanh"):
        y = getattr(F, name)(ck.tensor(xi))
        assert y.dtype == np.float32
        np.testing.assert_allclose(y._data, getattr(torch, name)(torch.tensor(xi)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("name, ck_f, ck_inplace", [
    ("relu", F.relu, lambda t: F.relu(t, inplace=True)),
    ("relu_", F.relu, F.relu_),
    ("leaky", lambda t: F.leaky_relu(t, 0.1), lambda t: F.leaky_relu(t, 0.1, inplace=True)),
    ("leaky_", lambda t: F.leaky_relu(t, 0.1), lambda t: F.leaky_relu_(t, 0.1)),
    ("elu", lambda t: F.elu(t, 0.7), lambda t: F.elu(t, 0.7, inplace=True)),
    ("elu_", lambda t: F.elu(t, 0.7), lambda t: F.elu_(t, 0.7)),
])
def test_inplace_flag_gives_same_result_and_gradient(name, ck_f, ck_inplace):
    x = values((3, 4), seed=2, zeros=True)
    a, b = ck.tensor(x, requires_grad=True), ck.tensor(x, requires_grad=True)
    ya, yb = ck_f(a), ck_inplace(b)
    np.testing.assert_array_equal(ya._data, yb._data)
    g = np.random.default_rng(0).standard_normal(x.shape)
    ya.backward(g)
    yb.backward(g)
    np.testing.assert_array_equal(a.grad._data, b.grad._data)
    np.testing.assert_array_equal(b._data, x)   # computed out of place: the input is unchanged


def test_no_graph_when_not_needed():
    x = ck.randn(3, 4)
    for fn in (F.relu, F.sigmoid, lambda t: F.softmax(t, 1), lambda t: F.maxout(t, 2), F.glu):
        assert not fn(x).requires_grad
    with ck.no_grad():
        assert not F.relu(ck.randn(3, requires_grad=True)).requires_grad


def test_numpy_array_input_is_accepted():
    x = values((2, 3), seed=1)
    np.testing.assert_array_equal(F.relu(x)._data, np.maximum(x, 0))


# ----- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.glu(ck.randn(2, 5)), ValueError, r"glu: halving dimension must be even, but dimension -1 has size 5"),
    (lambda: F.glu(ck.randn(3, 4), 0), ValueError, r"glu: halving dimension must be even, but dimension 0 has size 3"),
    (lambda: F.glu(ck.tensor(2.0)), ValueError, r"glu: expected a tensor with at least 1 dimension"),
    (lambda: F.glu(ck.randn(2, 4), 2), IndexError, r"glu: dim 2 is out of range"),
    (lambda: F.maxout(ck.randn(2, 5, 3), 2), ValueError,
     r"maxout: the size 5 of dimension 1 is not divisible by pieces=2 \(input shape \(2, 5, 3\)\)"),
    (lambda: F.maxout(ck.randn(2, 4), 0), ValueError, r"maxout: pieces must be positive, got 0$"),
    (lambda: F.maxout(ck.randn(2, 4), 2.0), TypeError, r"maxout: pieces must be an int, got 2.0$"),
    (lambda: F.maxout(ck.randn(2, 4), 2, dim=2), IndexError, r"maxout: dim 2 is out of range"),
    (lambda: F.maxout(ck.tensor(1.0), 1), ValueError, r"maxout: expected a tensor with at least 1 dimension"),
    (lambda: F.softmax(ck.randn(2, 4), 2), IndexError, r"softmax: dim 2 is out of range for a tensor with 2"),
    (lambda: F.log_softmax(ck.randn(2, 4), -3), IndexError, r"log_softmax: dim -3 is out of range"),
    (lambda: F.softmax(ck.randn(2, 4), 1.0), TypeError, r"softmax: dim must be an int"),
    (lambda: F.softmax(ck.tensor([1, 2]), 0), TypeError, r"softmax: expected a floating point tensor, got dtype int64"),
    (lambda: F.log_softmax(ck.tensor([1, 2]), 0), TypeError, r"log_softmax: expected a floating point tensor"),
    (lambda: F.leaky_relu(ck.randn(3), "0.1"), TypeError, r"leaky_relu: negative_slope must be a number"),
    (lambda: F.leaky_relu(ck.tensor([1, 2])), TypeError, r"leaky_relu: expected a floating point tensor"),
    (lambda: F.elu(ck.randn(3), None), TypeError, r"elu: alpha must be a number"),
    (lambda: F.elu(ck.tensor([1, 2])), TypeError, r"elu: expected a floating point tensor"),
    (lambda: F.relu([1.0, 2.0]), TypeError, r"relu: expected a Tensor, got list"),
    (lambda: F.sigmoid("x"), TypeError, r"sigmoid: expected a Tensor, got str"),
    (lambda: F.relu(ck.tensor([True, False])), TypeError, r"relu: expected a numeric tensor, got dtype bool"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----- hypothesis --------------------------------------------------------------------------------

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


@given(shape=shapes, seed=st.integers(0, 2**16), name=st.sampled_from(sorted(ELEMENTWISE)),
       dtype=st.sampled_from(DTYPES))
def test_elementwise_hypothesis(shape, seed, name, dtype):
    ck_f, th_f = ELEMENTWISE[name]
    check_op(ck_f, th_f, [values(shape, seed, zeros=seed % 2 == 0, dtype=dtype)], rtol=RTOL)


@given(shape=shapes, seed=st.integers(0, 2**16), data=st.data(), name=st.sampled_from(["softmax", "log_softmax"]),
       dtype=st.sampled_from(DTYPES), extreme=st.booleans())
def test_softmax_hypothesis(shape, seed, data, name, dtype, extreme):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = values(shape, seed, extreme=extreme, dtype=dtype)
    check_op(lambda t: getattr(F, name)(t, dim), lambda t: getattr(TF, name)(t, dim), [x], rtol=RTOL)


@given(shape=shapes, seed=st.integers(0, 2**16), data=st.data(), dtype=st.sampled_from(DTYPES))
def test_glu_hypothesis(shape, seed, data, dtype):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = tuple(2 * s if i == dim % len(shape) else s for i, s in enumerate(shape))
    check_op(lambda t: F.glu(t, dim), lambda t: TF.glu(t, dim), [values(shape, seed, dtype=dtype)], rtol=RTOL)


@given(shape=shapes, seed=st.integers(0, 2**16), data=st.data(), dtype=st.sampled_from(DTYPES))
def test_maxout_hypothesis(shape, seed, data, dtype):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    pieces = data.draw(st.integers(1, 4))
    shape = tuple(pieces * s if i == dim % len(shape) else s for i, s in enumerate(shape))
    x = distinct(shape, seed).astype(dtype)
    check_op(lambda t: F.maxout(t, pieces, dim), lambda t: torch_maxout(t, pieces, dim), [x], rtol=RTOL)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "nhwc", "flat", "strided"])
def test_relu_of_large_arrays(dtype, layout):
    """Arrays large enough for relu's blocked max(x, 0) (C-contiguous, channels-last, 1-d with a tail shorter than
    a block; a strided view takes NumPy's plain call): the values of torch's relu exactly, NaN kept, −inf and
    −0 to 0, the input's memory layout kept, and dx = dy · [not x ≤ 0] (torch's, NaN included)."""
    shape = (5, 7, 31, 29) if layout != "flat" else (70_001,)
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[::97], flat[5::101], flat[7::103], flat[9::89], flat[11::83] = np.nan, -np.inf, -0.0, np.inf, 0.0
    if layout == "strided":
        x = x[:, :, ::2]
    leaf = ck.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "nhwc" else x, requires_grad=True)
    xt = leaf.permute(0, 3, 1, 2) if layout == "nhwc" else leaf      # NCHW-shaped view of NHWC memory
    assert layout != "nhwc" or (xt._data.base is not None and not xt._data.flags.c_contiguous)
    y = F.relu(xt)
    gy = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    y.backward(ck.tensor(gy))
    tx = torch.tensor(x, requires_grad=True)
    ty = TF.relu(tx)
    ty.backward(torch.tensor(gy))
    np.testing.assert_array_equal(y._data, ty.detach().numpy())
    gx = leaf.grad._data.transpose(0, 3, 1, 2) if layout == "nhwc" else leaf.grad._data
    np.testing.assert_array_equal(gx, tx.grad.numpy())      # at NaN dy passes, as torch's
    assert y._data.dtype == x.dtype and y._data.strides == np.maximum(xt._data, 0).strides
    assert not np.signbit(y._data[~np.isnan(y._data)]).any()
