"""layer_norm, group_norm, instance_norm (functional and layers) against PyTorch: forward, the gradients of the
input, weight and bias, float64 and float32 (long groups with a large mean: float32 sums at torch's accuracy),
instance norm's running statistics, gradcheck, hypothesis shapes, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.ops.engine_helpers import check_all
from tests.oracle import check_module, check_op

pytestmark = pytest.mark.usefixtures("torch_one_thread")
DTYPES = [np.float64, np.float32]


def _values(shape, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * (rng.random(shape[-1]) + 0.5) + offset


@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                               ((2, 3, 2, 2), (3, 2, 2)), ((7,), (7,)), ((3, 2), (2,))])
@pytest.mark.parametrize("affine", ["wb", "w", "b", ""])
def test_layer_norm(shape, normalized, affine):
    rng = np.random.default_rng(1)
    x = _values(shape)
    w, b = rng.standard_normal(normalized) + 0.5, rng.standard_normal(normalized)
    arrays = [x] + ([w] if "w" in affine else []) + ([b] if "b" in affine else [])

    def run(lib):
        def fn(x, *p):
            weight = p[0] if "w" in affine else None
            bias = p[-1] if "b" in affine else None
            return lib.layer_norm(x, normalized, weight, bias, 1e-5)
        return fn

    check_all(run(F), run(TF), arrays, rtol=1e-8, what=f"layer_norm {shape} {normalized}")


@pytest.mark.parametrize("shape, groups", [((2, 6, 3, 3), 3), ((2, 6, 3, 3), 1), ((2, 6, 3, 3), 6), ((3, 4), 2),
                                           ((2, 4, 5), 2), ((1, 4, 2, 2, 2), 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(shape, groups, affine):
    rng = np.random.default_rng(2)
    c = shape[1]
    arrays = [_values(shape)] + ([rng.standard_normal(c) + 0.5, rng.standard_normal(c)] if affine else [])

    def run(lib):
        return lambda x, *p: lib.group_norm(x, groups, *p, eps=1e-5)

    check_all(run(F), run(TF), arrays, rtol=1e-8, what=f"group_norm {shape} G={groups}")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 6)])
def test_instance_norm(shape):
    rng = np.random.default_rng(3)
    c = shape[1]
    w, b = rng.standard_normal(c) + 0.5, rng.standard_normal(c)
    check_all(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
              lambda x, w, b: TF.instance_norm(x, weight=w, bias=b), [_values(shape), w, b], rtol=1e-8,
              what=f"instance_norm {shape}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_long_groups_with_a_large_mean(dtype):
    """64·64·8 values per group around 100: float32 sums added naively would lose digits; cnnkit stays within
    2× torch float32's own error against float64 (forward and every gradient)."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 16, 64, 64)) * 0.1 + 100).astype(dtype)
    w, b = (rng.standard_normal(16) + 1).astype(dtype), rng.standard_normal(16).astype(dtype)
    check_op(lambda x, w, b: F.group_norm(x, 2, w, b), lambda x, w, b: TF.group_norm(x, 2, w, b), [x, w, b],
             what="group_norm long groups")
    x2 = (rng.standard_normal((8, 3000)) * 0.1 + 100).astype(dtype)
    w2, b2 = (rng.standard_normal(3000) + 1).astype(dtype), rng.standard_normal(3000).astype(dtype)
    check_op(lambda x, w, b: F.layer_norm(x, (3000,), w, b), lambda x, w, b: TF.layer_norm(x, (3000,), w, b),
             [x2, w2, b2], what="layer_norm long rows")


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), g=st.integers(1, 3), per=st.integers(1, 3), hw=st.integers(1, 4),
       seed=st.integers(0, 2 ** 16))
def test_group_norm_hypothesis(n, g, per, hw, seed):
    c = g * per
    if per * hw == 1:
        return  # one value per group: x̂ is 0 whatever x is
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, c, hw)), rng.standard_normal(c), rng.standard_normal(c)]
    for dt in DTYPES:
        check_op(lambda x, w, b: F.group_norm(x, g, w, b), lambda x, w, b: TF.group_norm(x, g, w, b),
                 [a.astype(dt) for a in arrays], rtol=1e-8, what=f"group_norm {n, c, hw} G={g}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_layers(dtype):
    x = _values((2, 4, 3, 3)).astype(dtype)
    for ck_layer, th_layer in [(ck.nn.LayerNorm((3, 3)), torch.nn.LayerNorm((3, 3))),
                               (ck.nn.LayerNorm(3, elementwise_affine=False), torch.nn.LayerNorm(3, elementwise_affine=False)),
                               (ck.nn.LayerNorm([4, 3, 3], bias=False), torch.nn.LayerNorm([4, 3, 3], bias=False)),
                               (ck.nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
                               (ck.nn.GroupNorm(4, 4, affine=False), torch.nn.GroupNorm(4, 4, affine=False)),
                               (ck.nn.InstanceNorm2d(4), torch.nn.InstanceNorm2d(4)),
                               (ck.nn.InstanceNorm2d(4, affine=True), torch.nn.InstanceNorm2d(4, affine=True))]:
        ck_layer.to(dtype=dtype)
        th_layer.to(torch.float64 if dtype == np.float64 else torch.float32)
        with torch.no_grad():
            for p in ck_layer.parameters():
                p._data[...] = np.random.default_rng(5).standard_normal(p.shape)
        check_module(ck_layer, th_layer, [x], rtol=1e-8)
        assert repr(ck_layer) == repr(th_layer)


def test_instance_norm_running_statistics():
    x = _values((3, 4, 5, 5))
    ck_layer = ck.nn.InstanceNorm2d(4, track_running_stats=True, momentum=0.3, affine=True).double()
    th_layer = torch.nn.InstanceNorm2d(4, track_running_stats=True, momentum=0.3, affine=True).double()
    check_module(ck_layer, th_layer, [x], rtol=1e-8)  # training: the buffers after the call are compared
    check_module(ck_layer, th_layer, [x * 2 + 1], rtol=1e-8, train=False)  # evaluation: the running statistics


def test_errors():
    x = ck.randn(2, 6, 3)
    with pytest.raises(ValueError, match="group_norm: the number of channels 6 must be divisible by num_groups 4"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match=r"layer_norm: the input's last 1 dims must be normalized_shape \[4\]"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape \(3,\), got \(4,\)"):
        F.layer_norm(x, 3, ck.ones(4))
    with pytest.raises(TypeError, match="group_norm: expected a floating point input"):
        F.group_norm(ck.tensor([[1, 2]]), 1)
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        ck.nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="expected more than 1 spatial element"):
        F.instance_norm(ck.randn(2, 3, 1))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(x, approximate="fast")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    x = np.linspace(-6, 6, 25).reshape(5, 5) + 0.013
    check_all(lambda t: F.gelu(t, approximate=approximate), lambda t: TF.gelu(t, approximate=approximate), [x],
              what=f"gelu {approximate}")
    check_all(ck.nn.GELU(approximate), torch.nn.GELU(approximate), [np.random.default_rng(6).standard_normal((2, 3, 4)) * 3],
              gradcheck=False, what=f"GELU {approximate}")
    assert repr(ck.nn.GELU(approximate)) == repr(torch.nn.GELU(approximate))


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), scale=st.floats(0.1, 10),
       approximate=st.sampled_from(["none", "tanh"]), seed=st.integers(0, 2 ** 16))
def test_gelu_hypothesis(shape, scale, approximate, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    for dt in DTYPES:
        check_op(lambda t: F.gelu(t, approximate=approximate), lambda t: TF.gelu(t, approximate=approximate),
                 [np.asarray(x, dt)], what=f"gelu {approximate}")
