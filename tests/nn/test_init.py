"""nn.init: in place, dtype kept, the project generator, the formulas' statistics and torch's gains and fans."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.nn import Parameter, init

# Every random initializer with keyword arguments for it; the same call works on torch.nn.init.
RANDOM = {
    "uniform_": dict(a=-0.5, b=2.0),
    "normal_": dict(mean=1.0, std=0.3),
    "trunc_normal_": dict(mean=0.5, std=1.0, a=-1.0, b=1.5),
    "xavier_uniform_": dict(gain=1.5),
    "xavier_normal_": dict(gain=0.7),
    "kaiming_uniform_": dict(a=0.1, mode="fan_in", nonlinearity="leaky_relu"),
    "kaiming_normal_": dict(mode="fan_out", nonlinearity="relu"),
}
CONSTANT = {"constant_": dict(val=0.25), "zeros_": {}, "ones_": {}}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(RANDOM) + sorted(CONSTANT))
def test_fills_in_place_keeps_dtype_returns_tensor(name, dtype):
    kwargs = {**RANDOM, **CONSTANT}[name]
    for t in (ck.zeros(6, 5, 3, 3, dtype=dtype), Parameter(ck.zeros(6, 5, dtype=dtype))):
        data = t._data
        out = getattr(init, name)(t, **kwargs)
        assert out is t and t._data is data and t.dtype == dtype and t.shape == data.shape
        assert not isinstance(t, Parameter) or t.requires_grad
        if name in RANDOM:
            assert len(np.unique(t.numpy())) > t.numel() // 2
    if name in CONSTANT:
        assert np.all(t.numpy() == {"constant_": 0.25, "zeros_": 0.0, "ones_": 1.0}[name])


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_project_generator_reproducible(name):
    kwargs = RANDOM[name]

    def draw(seed, np_seed):
        ck.manual_seed(seed)
        np.random.seed(np_seed)                     # NumPy's global state must play no part
        return getattr(init, name)(ck.empty(20, 10), **kwargs).numpy().copy()

    a = draw(3, 0)
    np.testing.assert_array_equal(a, draw(3, 99))
    assert not np.array_equal(a, draw(4, 0))
    ck.manual_seed(3)
    first = getattr(init, name)(ck.empty(20, 10), **kwargs).numpy().copy()
    second = getattr(init, name)(ck.empty(20, 10), **kwargs).numpy().copy()
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)        # the generator advances


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_generator_argument(name):
    kwargs = RANDOM[name]
    ck.manual_seed(5)
    expected_next = init.uniform_(ck.empty(4)).numpy().copy()
    ck.manual_seed(5)
    a = getattr(init, name)(ck.empty(8, 4), **kwargs, generator=np.random.default_rng(1)).numpy().copy()
    b = getattr(init, name)(ck.empty(8, 4), **kwargs, generator=np.random.default_rng(1)).numpy().copy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(init.uniform_(ck.empty(4)).numpy(), expected_next)   # project rng untouched
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator"):
        getattr(init, name)(ck.empty(8, 4), **kwargs, generator=7)


# ===== statistics on a large tensor =================================================================

SHAPE = (128, 64, 5, 5)            # 204800 values; fan_in 1600, fan_out 3200
FAN_IN, FAN_OUT = 64 * 25, 128 * 25


def _normal_cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _truncated_moments(mean, std, a, b):
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)   # noqa: E731
    z = _normal_cdf(beta) - _normal_cdf(alpha)
    m = mean + std * (pdf(alpha) - pdf(beta)) / z
    var = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    return m, math.sqrt(var)


def _gain_leaky(a):
    return math.sqrt(2 / (1 + a * a))


# name, kwargs, (low, high) support or None for unbounded, expected mean, expected std
STATS = [
    ("uniform_", dict(a=-0.5, b=2.0), (-0.5, 2.0), 0.75, 2.5 / math.sqrt(12)),
    ("normal_", dict(mean=1.0, std=0.3), None, 1.0, 0.3),
    ("trunc_normal_", dict(mean=0.5, std=1.0, a=-1.0, b=1.5), (-1.0, 1.5), *_truncated_moments(0.5, 1.0, -1.0, 1.5)),
    ("trunc_normal_", dict(), (-2.0, 2.0), *_truncated_moments(0.0, 1.0, -2.0, 2.0)),
    ("xavier_uniform_", dict(), "bound", 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_uniform_", dict(gain=2.0), "bound", 0.0, 2 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_normal_", dict(gain=0.5), None, 0.0, 0.5 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("kaiming_uniform_", dict(), "bound", 0.0, _gain_leaky(0) / math.sqrt(FAN_IN)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), "bound", 0.0, _gain_leaky(math.sqrt(5)) / math.sqrt(FAN_IN)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), "bound", 0.0, math.sqrt(2 / FAN_OUT)),
    ("kaiming_uniform_", dict(nonlinearity="tanh"), "bound", 0.0, 5 / 3 / math.sqrt(FAN_IN)),
    ("kaiming_normal_", dict(), None, 0.0, _gain_leaky(0.01) / math.sqrt(FAN_IN)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), None, 0.0, math.sqrt(2 / FAN_OUT)),
    ("kaiming_normal_", dict(a=0.2, mode="fan_in", nonlinearity="leaky_relu"), None, 0.0,
     _gain_leaky(0.2) / math.sqrt(FAN_IN)),
    ("kaiming_normal_", dict(nonlinearity="linear"), None, 0.0, 1 / math.sqrt(FAN_IN)),
]


@pytest.mark.parametrize("name,kwargs,support,mean,std", STATS,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(STATS)])
def test_statistics_match_formula_and_torch(name, kwargs, support, mean, std):
    n = int(np.prod(SHAPE))
    w = getattr(init, name)(ck.empty(*SHAPE), **kwargs).numpy().astype(np.float64)
    tw = getattr(torch.nn.init, name)(torch.empty(SHAPE), **kwargs).numpy().astype(np.float64)
    for values in (w, tw):                           # torch's own sample checks the expected values
        assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
        assert values.std() == pytest.approx(std, rel=0.01)
    if support == "bound":                           # a uniform U(-b, b) with b = sqrt(3) * std
        support = (-math.sqrt(3) * std, math.sqrt(3) * std)
    if support is not None:
        low, high = support
        span = high - low
        assert low <= w.min() < low + 1e-3 * span and high - 1e-3 * span < w.max() <= high
    else:                                            # unbounded: the tails are there
        assert w.max() > mean + 4 * std and w.min() < mean - 4 * std
    # The two samples come from the same distribution: their quantiles agree (the standard error of a
    # quantile difference here is at most ~0.007 std, the tolerance is > 4 of them).
    q = [0.05, 0.25, 0.5, 0.75, 0.95]
    np.testing.assert_allclose(np.quantile(w, q), np.quantile(tw, q), atol=0.03 * std)


def test_kaiming_mode_is_case_insensitive_like_torch():
    ck.manual_seed(1)
    a = init.kaiming_uniform_(ck.empty(30, 20), mode="FAN_OUT").numpy().copy()
    ck.manual_seed(1)
    b = init.kaiming_uniform_(ck.empty(30, 20), mode="fan_out").numpy()
    np.testing.assert_array_equal(a, b)
    torch.nn.init.kaiming_uniform_(torch.empty(30, 20), mode="FAN_OUT")


# ===== calculate_gain and fans ======================================================================

@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
    ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0), ("leaky_relu", 0.2), ("leaky_relu", 1), ("leaky_relu", 3),
    ("leaky_relu", math.sqrt(5)), ("leaky_relu", np.float64(0.3)), ("selu", None), ("relu", 0.5),
])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("nonlinearity,param,message", [
    ("gelu", None, "unsupported nonlinearity 'gelu'"),
    ("ReLU", None, "unsupported nonlinearity 'ReLU'"),
    ("leaky_relu", "0.1", "negative_slope '0.1' is not a number"),
    ("leaky_relu", True, "negative_slope True is not a number"),
    ("leaky_relu", [0.1], "is not a number"),
])
def test_calculate_gain_errors_like_torch(nonlinearity, param, message):
    with pytest.raises(ValueError, match=message):
        init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (5, 3, 2, 2), (16, 1, 3, 3), (2, 3, 4, 5, 6), (4, 0, 3),
                                   (7, 2, 1), (1, 1)])
def test_fan_in_and_fan_out_equal_torch(shape):
    fans = init._calculate_fan_in_and_fan_out(ck.zeros(*shape))
    assert fans == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert all(type(f) is int for f in fans)


@pytest.mark.parametrize("shape", [(5,), ()])
def test_fan_needs_two_dims(shape):
    with pytest.raises(ValueError, match=rf"at least 2 dims, got shape {re_shape(shape)}"):
        init._calculate_fan_in_and_fan_out(ck.zeros(*shape))
    with pytest.raises(ValueError):
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


# ===== errors ======================================================================================

@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_fan_based_init_rejects_1d(name):
    t = ck.zeros(5)
    with pytest.raises(ValueError, match="at least 2 dims"):
        getattr(init, name)(t)
    with pytest.raises(ValueError):
        getattr(torch.nn.init, name)(torch.zeros(5))
    assert not np.any(t.numpy())


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("mode", ["fan_avg", "in", 3])
def test_kaiming_bad_mode(name, mode):
    t = ck.zeros(4, 3)
    with pytest.raises(ValueError, match=rf"{name}: mode must be 'fan_in' or 'fan_out', got"):
        getattr(init, name)(t, mode=mode)
    assert not np.any(t.numpy())
    if isinstance(mode, str):
        with pytest.raises(ValueError):
            getattr(torch.nn.init, name)(torch.zeros(4, 3), mode=mode)


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_bad_nonlinearity(name):
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        getattr(init, name)(ck.zeros(4, 3), nonlinearity="swish")
    with pytest.raises(ValueError):
        getattr(torch.nn.init, name)(torch.zeros(4, 3), nonlinearity="swish")


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_init_rejects_integer_tensors(name):
    t = ck.zeros(4, 3, dtype=np.int64)
    with pytest.raises(TypeError, match=f"{name}: random initialization needs a floating point tensor"):
        getattr(init, name)(t, **RANDOM[name])
    assert not np.any(t.numpy())


def test_constant_on_integer_tensor():
    t = ck.zeros(3, dtype=np.int64)
    assert init.constant_(t, 4) is t and t.dtype == np.int64 and np.all(t.numpy() == 4)
    assert np.all(init.ones_(t).numpy() == 1)


@pytest.mark.parametrize("name", sorted(RANDOM) + sorted(CONSTANT))
def test_rejects_non_tensor(name):
    arr = np.zeros((4, 3), np.float32)
    with pytest.raises(TypeError, match=f"{name}: expected a Tensor, got ndarray"):
        getattr(init, name)(arr, **{**RANDOM, **CONSTANT}[name])


@pytest.mark.parametrize("call,message", [
    (lambda t: init.uniform_(t, 1.0, 0.0), r"uniform_: expected a <= b, got a=1.0, b=0.0"),
    (lambda t: init.normal_(t, 0.0, -1.0), r"normal_: expected std >= 0, got -1.0"),
    (lambda t: init.trunc_normal_(t, a=1.0, b=1.0), r"trunc_normal_: expected a < b, got a=1.0, b=1.0"),
    (lambda t: init.trunc_normal_(t, std=0.0), r"trunc_normal_: expected std > 0, got 0.0"),
])
def test_bad_arguments(call, message):
    t = ck.zeros(4, 3)
    with pytest.raises(ValueError, match=message):
        call(t)
    assert not np.any(t.numpy())


def test_normal_with_zero_std_is_the_mean():
    t = init.normal_(ck.empty(3, 2), mean=2.5, std=0.0)
    assert np.all(t.numpy() == 2.5)


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_"])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3, 3)])
def test_zero_element_tensor_is_a_no_op(name, shape):
    """As torch: a warning, the tensor returned untouched, and no draw from the generator."""
    t = ck.zeros(*shape)
    state = ck.random.get_rng_state()
    with pytest.warns(UserWarning, match="zero-element"):
        assert getattr(init, name)(t) is t
    assert ck.random.get_rng_state() == state
    if name.startswith("kaiming"):
        with pytest.warns(UserWarning, match="zero-element"):
            getattr(torch.nn.init, name)(torch.zeros(shape))
