"""Inverted dropout and channel dropout. The masks come from cnnkit's generator (not torch's), so values are
checked by their defining properties: the kept fraction, the kept values exactly x · dtype(1/(1−p)) (the
scaling PyTorch uses, checked on torch's own output), the gradient equal to the output pattern, identity
in eval mode, reproducibility under ck.manual_seed, and gradcheck with the seed fixed inside."""
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

DTYPES = (np.float64, np.float32)
PS = (0.1, 0.3, 0.5, 0.8)


def nonzero_values(shape, seed=0, dtype=np.float64) -> np.ndarray:
    """Values with |v| >= 0.5, so a zero in the output can only come from the mask."""
    v = np.random.default_rng(seed).standard_normal(shape)
    return np.where(v >= 0, v + 0.5, v - 0.5).astype(dtype)


def scale_of(p, dtype):
    return np.dtype(dtype).type(1.0 / (1.0 - p))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", PS)
def test_kept_fraction_and_kept_values(p, dtype):
    n = 200_000
    x = nonzero_values(n, seed=1, dtype=dtype)
    y = F.dropout(ck.tensor(x), p)._data
    assert y.dtype == dtype
    kept = y != 0
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept.mean() - (1 - p)) < 5 * sigma
    np.testing.assert_array_equal(y[kept], x[kept] * scale_of(p, dtype))       # bit-exact
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", PS)
def test_pytorch_scales_kept_values_the_same_way(p, dtype):
    """The oracle for the values: torch's own dropout output, on its kept units, is x · dtype(1/(1−p))."""
    x = nonzero_values(50_000, seed=2, dtype=dtype)
    yt = TF.dropout(torch.from_numpy(x), p).numpy()
    kept = yt != 0
    np.testing.assert_array_equal(yt[kept], x[kept] * scale_of(p, dtype))
    y = F.dropout(ck.tensor(x), p)._data
    k2 = y != 0
    np.testing.assert_array_equal(y[k2], x[k2] * scale_of(p, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", PS)
def test_gradient_is_mask_over_keep_probability(p, dtype):
    x = ck.tensor(nonzero_values((8, 16, 5, 5), seed=3, dtype=dtype), requires_grad=True)
    y = F.dropout(x, p)
    y.backward(np.ones(x.shape, dtype))
    assert x.grad.dtype == dtype
    pattern = (y._data != 0)
    np.testing.assert_array_equal(x.grad._data, pattern * scale_of(p, dtype))
    # with a random cotangent: dx = dy ⊙ m · s, exactly
    x.grad = None
    y2 = F.dropout(x, p)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    y2.backward(g)
    np.testing.assert_array_equal(x.grad._data, np.where(y2._data != 0, g * scale_of(p, dtype), 0))


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_eval_mode_and_p_zero_are_identity(fn):
    x = ck.tensor(nonzero_values((4, 3, 5, 5), seed=4), requires_grad=True)
    for kwargs in ({"training": False}, {"p": 0.0}, {"p": 0.0, "training": True}, {"p": 0.9, "training": False}):
        y = fn(x, **kwargs)
        np.testing.assert_array_equal(y._data, x._data)
        x.grad = None
        (y * 2).sum().backward()
        np.testing.assert_array_equal(x.grad._data, 2.0)


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
@pytest.mark.parametrize("dtype", DTYPES)
def test_p_one_gives_zeros_and_zero_gradient(fn, dtype):
    x = ck.tensor(nonzero_values((2, 3, 4, 4), seed=5, dtype=dtype), requires_grad=True)
    y = fn(x, 1.0)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y._data, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, 0.0)
    np.testing.assert_array_equal(y._data, TF.dropout(torch.from_numpy(x._data), 1.0).numpy())


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_masks_are_reproducible_under_manual_seed(fn):
    x = ck.tensor(nonzero_values((4, 6, 3, 3), seed=6))
    ck.manual_seed(123)
    a = fn(x, 0.5)._data
    b = fn(x, 0.5)._data
    ck.manual_seed(123)
    a2 = fn(x, 0.5)._data
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)      # consecutive calls draw fresh masks


def test_masks_come_from_the_project_generator():
    x = ck.ones(1000)
    ck.manual_seed(7)
    y = F.dropout(x, 0.25)._data
    ck.manual_seed(7)
    u = ck.get_generator().random(1000, dtype=np.float32)
    np.testing.assert_array_equal(y != 0, u >= np.float32(0.25))


@pytest.mark.parametrize("p", [0.2, 0.6])
@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_gradcheck_with_fixed_seed(fn, p):
    def f(t):
        ck.manual_seed(11)
        return fn(t, p)
    x = ck.tensor(nonzero_values((2, 3, 2, 2), seed=7), requires_grad=True)
    assert ck.autograd.gradcheck(f, [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.2, 0.5])
@pytest.mark.parametrize("shape", [(16, 32, 6, 6), (16, 32, 40)])
def test_dropout2d_drops_whole_channels(shape, p, dtype):
    x = nonzero_values(shape, seed=8, dtype=dtype)
    xt = ck.tensor(x, requires_grad=True)
    y = F.dropout2d(xt, p)
    assert y.dtype == dtype
    kept = y._data != 0
    per_channel = kept.reshape(shape[0], shape[1], -1)
    assert np.all(per_channel.all(axis=2) | ~per_channel.any(axis=2))   # all or nothing per (n, c)
    frac = per_channel[:, :, 0].mean()
    assert abs(frac - (1 - p)) < 5 * np.sqrt(p * (1 - p) / (shape[0] * shape[1]))
    np.testing.assert_array_equal(y.data[kept], x[kept] * scale_of(p, dtype))
    y.backward(np.ones(shape, dtype))
    np.testing.assert_array_equal(xt.grad.data, kept * scale_of(p, dtype))


def test_dropout2d_pattern_matches_torchs_structure():
    """torch's dropout2d on (N, C, H, W) and on 3-d (N, C, L) input also drops per (n, c): same shapes."""
    for shape in [(4, 8, 3, 3), (4, 8, 5)]:
        x = nonzero_values(shape, seed=9)
        yt = TF.dropout2d(torch.from_numpy(x), 0.5).numpy() if len(shape) == 4 else None
        if yt is not None:
            kt = (yt != 0).reshape(4, 8, -1)
            assert np.all(kt.all(axis=2) | ~kt.any(axis=2))
        y = F.dropout2d(ck.tensor(x), 0.5)._data
        assert y.shape == shape


def test_empty_input():
    x = ck.zeros(0, 3, requires_grad=True)
    assert F.dropout(x, 0.5).shape == (0, 3)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.dropout(ck.randn(3), 1.5), ValueError, r"dropout: p must be a probability in \[0, 1\], got 1.5"),
    (lambda: F.dropout(ck.randn(3), -0.1), ValueError, r"dropout: p must be a probability in \[0, 1\], got -0.1"),
    (lambda: F.dropout(ck.randn(3), "0.5"), TypeError, r"dropout: p must be a number"),
    (lambda: F.dropout(ck.randn(3), 1.5, training=False), ValueError, r"dropout: p must be a probability"),
    (lambda: F.dropout(ck.tensor([1, 2]), 0.5), TypeError, r"dropout: expected a floating point tensor, got dtype int64"),
    (lambda: F.dropout([1.0, 2.0], 0.5), TypeError, r"dropout: expected a Tensor, got list"),
    (lambda: F.dropout2d(ck.randn(5), 0.5), ValueError,
     r"dropout2d: expected input of shape \(N, C, H, W\) or \(N, C, L\), got shape \(5,\)"),
    (lambda: F.dropout2d(ck.randn(2, 3), 2.0), ValueError, r"dropout2d: p must be a probability"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6), seed=st.integers(0, 2**16),
       p=st.floats(0.0, 1.0), dtype=st.sampled_from(DTYPES))
def test_dropout_hypothesis(shape, seed, p, dtype):
    x = ck.tensor(nonzero_values(shape, seed, dtype), requires_grad=True)
    y = F.dropout(x, p)
    assert y.shape == shape and y.dtype == dtype
    kept = y._data != 0
    if p < 1:
        np.testing.assert_array_equal(y._data[kept], x._data[kept] * scale_of(p, dtype))
    g = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    y.backward(g)
    expected = g * scale_of(p, dtype) if p < 1 else np.zeros(shape, dtype)
    np.testing.assert_array_equal(x.grad._data, np.where(kept | (p == 0), expected, 0))


def test_infinities_silently_follow_pytorch():
    """A kept ±inf stays ±inf; a dropped one becomes nan (inf·0), without a NumPy warning, as in torch."""
    x = np.tile([np.inf, -np.inf, 1.0], 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.dropout(ck.tensor(x), 0.5)._data
    scale = scale_of(0.5, np.float64)
    dropped = np.isnan(y) | (y == 0)
    np.testing.assert_array_equal(y[~dropped], x[~dropped] * scale)
    np.testing.assert_array_equal(np.isnan(y[dropped]), np.isinf(x[dropped]))
    yt = TF.dropout(torch.from_numpy(x), 0.5).numpy()
    assert np.all(np.isnan(yt[np.isinf(x) & ~np.isinf(yt)]))
