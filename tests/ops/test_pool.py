"""Pooling against torch: max_pool2d, avg_pool2d, lp_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d.

Forward, indices and input gradients on explicit grids covering every option and their combinations
(float64, rtol 1e-8) plus float32 (1e-4), hypothesis-drawn geometries, gradcheck in float64, ties
(PyTorch's first-in-scan-order arg-max), NaN and −∞ inputs, the LP-pool gradient at zero, dtypes and
every error message.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.autograd import gradcheck
from tests.oracle import assert_close32, check_op

RTOL = 1e-8


def values(shape, seed=0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def distinct(shape, seed=0) -> np.ndarray:
    """Well separated values in random order: no ties, and finite differences never reorder them."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.37 - n * 0.1).reshape(shape)


def check_with_nans(ck_fn, torch_fn, x, seed=0):
    """check_op for inputs holding NaN (the oracle's relative scale is NaN then): outputs, indices and
    gradients must agree element by element, NaN where torch has NaN."""
    a, b = ck.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ck_fn(a), torch_fn(b)
    ya, yb = (ya, yb) if isinstance(ya, tuple) else ((ya,), (yb,))
    for u, v in zip(ya[1:], yb[1:]):
        np.testing.assert_array_equal(u._data, v.numpy())
    np.testing.assert_allclose(ya[0]._data, yb[0].detach().numpy(), rtol=RTOL, equal_nan=True)
    g = np.random.default_rng(seed).standard_normal(ya[0].shape)
    ya[0].backward(g)
    yb[0].backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad._data, b.grad.numpy(), rtol=RTOL, atol=1e-12, equal_nan=True)


def valid_window(size, k, s, p, d, ceil) -> bool:
    """The geometry is accepted by PyTorch (padding at most half the kernel, at least one output) and
    every window sees an input pixel (with dilation a window can hold only padding: PyTorch's backward
    then writes out of bounds and crashes, see test_max_pool2d_window_of_padding_only)."""
    if p > k // 2:
        return False
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out >= 1 and all(any(0 <= o * s - p + i * d < size for i in range(k)) for o in range(out))


def pair(v):
    return v if isinstance(v, tuple) else (v, v)


def valid(shape, kernel, stride, padding, dilation, ceil) -> bool:
    k, p, d = pair(kernel), pair(padding), pair(dilation)
    s = k if stride is None else pair(stride)
    return all(valid_window(shape[-2 + a], k[a], s[a], p[a], d[a], ceil) for a in (0, 1))


# ===== max_pool2d ==================================================================================

MAX_SHAPES = [(2, 3, 7, 9), (1, 2, 8, 8), (3, 6, 5), (2, 2, 10, 11)]
KERNELS = [1, 2, 3, (2, 3), (3, 1), 4]
STRIDES = [None, 1, 2, (1, 2), (2, 1), 3]   # stride 2 along W runs the phase-split path, the others not
PADDINGS = [0, 1, (1, 0), 2]
MAX_OPTIONS = [KERNELS, STRIDES, PADDINGS, [1, 2, (1, 3)], [False, True]]
MAX_GRID = [
    (MAX_SHAPES[n % len(MAX_SHAPES)], *cfg)
    for n, cfg in enumerate(itertools.product(*MAX_OPTIONS))
    if valid(MAX_SHAPES[n % len(MAX_SHAPES)], *cfg)
][::3]  # every third of the product keeps each option value and most pairs of them


def covers_every_option(grid, options) -> bool:
    return all({repr(cfg[position + 1]) for cfg in grid} == {repr(o) for o in values}
               for position, values in enumerate(options))


def test_max_grid_is_large_and_covers_every_option():
    assert len(MAX_GRID) >= 100
    assert covers_every_option(MAX_GRID, MAX_OPTIONS)


@pytest.mark.parametrize("shape,k,s,p,d,ceil", MAX_GRID)
def test_max_pool2d_grid(shape, k, s, p, d, ceil):
    x = values(shape, seed=len(MAX_GRID))
    check_op(lambda t: F.max_pool2d(t, k, s, p, d, ceil, return_indices=True),
             lambda t: TF.max_pool2d(t, k, s, p, d, ceil, return_indices=True), [x], rtol=RTOL,
             what=f"max_pool2d({shape}, k={k}, s={s}, p={p}, d={d}, ceil={ceil})")


@pytest.mark.parametrize("shape,k,s,p,d,ceil", MAX_GRID[::6])
def test_max_pool2d_float32(shape, k, s, p, d, ceil):
    x = values(shape, seed=1, dtype=np.float32)
    out = check_op(lambda t: F.max_pool2d(t, k, s, p, d, ceil), lambda t: TF.max_pool2d(t, k, s, p, d, ceil), [x])
    assert out[0].dtype == np.float32


@pytest.mark.parametrize("shape,k,s,p", [
    ((2, 96, 27, 27), 3, 2, 0),      # AlexNet's overlapping pooling
    ((1, 4, 13, 13), 3, 2, 0),
    ((2, 3, 16, 16), 3, 2, 1),       # ResNet's stem pooling
    ((2, 5, 14, 14), 2, 2, 0),       # VGG
    ((8, 3, 28, 28), 2, 2, 0),       # LeNet's subsampling
    ((1, 2, 9, 9), 3, 1, 1),         # GoogLeNet's 3x3/1 branch pooling
])
def test_max_pool2d_classic_layers(shape, k, s, p):
    for dtype in (np.float64, np.float32):
        x = values(shape, seed=2, dtype=dtype)
        check_op(lambda t: F.max_pool2d(t, k, s, p), lambda t: TF.max_pool2d(t, k, s, p), [x],
                 rtol=RTOL if dtype == np.float64 else None)


@pytest.mark.parametrize("k,s,p,d", [(3, 1, 1, 1), (3, 2, 1, 1), (2, 2, 0, 1), (2, 1, 1, 2), (4, 3, 2, 1)])
@pytest.mark.parametrize("fill", ["constant", "integers"])
def test_max_pool2d_ties_follow_torch(k, s, p, d, fill):
    """With ties the gradient goes to the first maximum in window scan order, as in PyTorch."""
    shape = (2, 3, 9, 8)
    x = np.full(shape, 1.5) if fill == "constant" else np.round(values(shape, seed=3))
    check_op(lambda t: F.max_pool2d(t, k, s, p, d, return_indices=True),
             lambda t: TF.max_pool2d(t, k, s, p, d, return_indices=True), [x], rtol=RTOL)
    x32 = x.astype(np.float32)
    check_op(lambda t: F.max_pool2d(t, k, s, p, d), lambda t: TF.max_pool2d(t, k, s, p, d), [x32])


def test_max_pool2d_tie_gradient_explicit():
    x = ck.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    assert idx._data.tolist() == [[[[0]]]]
    np.testing.assert_array_equal(x.grad._data, [[[[1.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("k,s,p,d", [(3, 2, 1, 1), (2, 1, 1, 1), (3, 1, 1, 2)])
def test_max_pool2d_nan_and_neg_inf(k, s, p, d):
    """NaN wins (the last NaN of the window), padding never wins even over −∞ input."""
    x = values((2, 2, 7, 7), seed=4)
    x[0, 0, 1, 1] = x[0, 0, 2, 3] = x[1, 1, 5, 5] = np.nan
    x[1, 0] = -np.inf
    x[0, 1, :3, :3] = -np.inf
    check_with_nans(lambda t: F.max_pool2d(t, k, s, p, d, return_indices=True),
                    lambda t: TF.max_pool2d(t, k, s, p, d, return_indices=True), x)


def test_max_pool2d_padding_never_wins():
    x = np.full((1, 1, 3, 3), -5.0)
    y = F.max_pool2d(ck.tensor(x), 3, 1, 1)
    assert np.all(y._data == -5.0)


def test_max_pool2d_window_of_padding_only():
    """Dilation can make a window see only padding: the output is −∞ and no gradient flows (PyTorch
    returns the same value and index; its backward writes out of bounds)."""
    x = ck.tensor(values((1, 1, 2, 2)), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, 1, 1, 3, return_indices=True)
    th = TF.max_pool2d(torch.tensor(x._data), 2, 1, 1, 3, return_indices=True)
    assert y._data.tolist() == th[0].tolist() == [[[[-np.inf]]]]
    assert idx._data.tolist() == th[1].tolist()
    y.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(x.grad._data, np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("k,s,p,d,ceil", [(2, 2, 0, 1, False), (3, 2, 1, 1, True), ((2, 3), (1, 2), 1, (2, 1), False)])
def test_max_pool2d_gradcheck(k, s, p, d, ceil):
    x = ck.tensor(distinct((2, 2, 7, 8)), requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, ceil), [x])


# ===== avg_pool2d ==================================================================================

AVG_SHAPES = [(2, 3, 7, 9), (1, 2, 8, 8), (3, 6, 5), (2, 2, 11, 10)]
AVG_OPTIONS = [KERNELS, STRIDES, PADDINGS, [False, True], [True, False], [None, 3, -2]]
AVG_GRID = [
    (AVG_SHAPES[n % len(AVG_SHAPES)], *cfg)
    for n, cfg in enumerate(itertools.product(*AVG_OPTIONS))
    if valid(AVG_SHAPES[n % len(AVG_SHAPES)], cfg[0], cfg[1], cfg[2], 1, cfg[3])
][::7]


def test_avg_grid_is_large_and_covers_every_option():
    assert len(AVG_GRID) >= 100
    assert covers_every_option(AVG_GRID, AVG_OPTIONS)
    # the edge windows where the divisors differ: padding together with ceil_mode, both pad counts
    assert any(c and (p != 0) and not inc for _, _, _, p, c, inc, div in AVG_GRID if div is None)


@pytest.mark.parametrize("shape,k,s,p,ceil,inc,div", AVG_GRID)
def test_avg_pool2d_grid(shape, k, s, p, ceil, inc, div):
    x = values(shape, seed=5)
    check_op(lambda t: F.avg_pool2d(t, k, s, p, ceil, inc, div), lambda t: TF.avg_pool2d(t, k, s, p, ceil, inc, div),
             [x], rtol=RTOL, what=f"avg_pool2d({shape}, k={k}, s={s}, p={p}, ceil={ceil}, inc={inc}, div={div})")


@pytest.mark.parametrize("shape,k,s,p,ceil,inc,div", AVG_GRID[::5])
def test_avg_pool2d_float32(shape, k, s, p, ceil, inc, div):
    x = values(shape, seed=6, dtype=np.float32)
    out = check_op(lambda t: F.avg_pool2d(t, k, s, p, ceil, inc, div),
                   lambda t: TF.avg_pool2d(t, k, s, p, ceil, inc, div), [x])
    assert out[0].dtype == np.float32


@pytest.mark.parametrize("size,k,s,p", [(5, 3, 2, 1), (5, 2, 3, 1), (6, 3, 2, 1), (7, 4, 3, 2), (2, 3, 2, 0),
                                        (4, 2, 3, 0)])
@pytest.mark.parametrize("inc", [True, False])
def test_avg_pool2d_ceil_mode_edge_divisors(size, k, s, p, inc):
    """Partial last windows (ceil_mode) divide by the window clipped to the padded input (or by its real
    pixels): on a constant input the output reveals each divisor."""
    x = np.ones((1, 1, size, size + 1))
    check_op(lambda t: F.avg_pool2d(t, k, s, p, True, inc), lambda t: TF.avg_pool2d(t, k, s, p, True, inc), [x],
             rtol=RTOL)


def test_avg_pool2d_gradcheck():
    x = ck.tensor(values((2, 2, 7, 6)), requires_grad=True)
    assert gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), [x])
    assert gradcheck(lambda t: F.avg_pool2d(t, (2, 3), (1, 2), (1, 0), False, True, 5), [x])


# ===== lp_pool2d ===================================================================================

LP_GRID = [(p, k, s, c, shape) for (p, k, s, c), shape in zip(
    itertools.product([2, 1, 3, 1.5, 2.0, float("inf"), -float("inf")], [2, 3, (2, 3)], [None, 1, (2, 1)],
                      [False, True]),
    itertools.cycle([(2, 3, 7, 9), (3, 6, 5), (1, 2, 8, 8)]))][::2]


@pytest.mark.parametrize("p,k,s,ceil,shape", LP_GRID)
def test_lp_pool2d_grid(p, k, s, ceil, shape):
    x = values(shape, seed=7)
    if p != 2:  # odd and fractional powers of negative numbers are NaN: keep the inputs positive
        x = np.abs(x) + 0.1
    check_op(lambda t: F.lp_pool2d(t, p, k, s, ceil), lambda t: TF.lp_pool2d(t, p, k, s, ceil), [x], rtol=RTOL,
             what=f"lp_pool2d({shape}, p={p}, k={k}, s={s}, ceil={ceil})")


@pytest.mark.parametrize("p", [2, 3, 1.5])
def test_lp_pool2d_float32(p):
    x = np.abs(values((2, 3, 8, 7), seed=8, dtype=np.float32)) + 0.1
    out = check_op(lambda t: F.lp_pool2d(t, p, 3, 2, True), lambda t: TF.lp_pool2d(t, p, 3, 2, True), [x])
    assert out[0].dtype == np.float32


@pytest.mark.parametrize("p", [2, 1, 3, 1.5])
def test_lp_pool2d_at_zero(p):
    """A window whose Σ x^p is zero gets a zero gradient (PyTorch's rule), not NaN."""
    x = np.zeros((1, 2, 4, 4))
    x[0, 0, :2, :2] = 0.5
    x[0, 1, 2:, :] = 1.0
    out = check_op(lambda t: F.lp_pool2d(t, p, 2), lambda t: TF.lp_pool2d(t, p, 2), [x], rtol=RTOL)
    t = ck.tensor(x, requires_grad=True)
    F.lp_pool2d(t, p, 2).sum().backward()
    assert np.all(np.isfinite(t.grad._data)) and np.all(t.grad._data[0, 0, 2:, 2:] == 0)
    assert np.all(np.isfinite(out[0]._data))


def test_lp_pool2d_negative_sums_match_torch():
    """p = 3 with negative inputs: a negative window sum has no real cube root, NaN in both."""
    x = values((1, 2, 6, 6), seed=9)
    check_with_nans(lambda t: F.lp_pool2d(t, 3, 2), lambda t: TF.lp_pool2d(t, 3, 2), x)
    assert np.isnan(F.lp_pool2d(ck.tensor(x), 3, 2)._data).any()


def test_lp_pool2d_is_l2_norm_of_window():
    x = values((2, 3, 6, 6), seed=10)
    y = F.lp_pool2d(ck.tensor(x), 2, 2)._data
    expected = np.sqrt((x.reshape(2, 3, 3, 2, 3, 2) ** 2).sum(axis=(3, 5)))
    np.testing.assert_allclose(y, expected, rtol=1e-12)


@pytest.mark.parametrize("p", [2, 3, 1.5])
def test_lp_pool2d_gradcheck(p):
    x = ck.tensor(np.abs(values((1, 2, 7, 6), seed=11)) + 0.2, requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool2d(t, p, (2, 3), (2, 1), True), [x])


# ===== adaptive pooling ============================================================================

ADAPTIVE_GRID = [
    ((2, 3, 7, 9), 1), ((2, 3, 7, 9), (1, 1)), ((2, 3, 7, 9), 3), ((2, 3, 7, 9), (3, None)),
    ((2, 3, 7, 9), (None, 4)), ((2, 3, 7, 9), (None, None)), ((2, 3, 8, 8), 4), ((2, 3, 8, 8), (2, 8)),
    ((2, 3, 7, 9), (5, 2)), ((2, 3, 7, 9), (7, 9)), ((2, 3, 4, 5), 7), ((2, 3, 4, 5), (9, 3)),
    ((3, 13, 13), 6), ((3, 13, 13), (1, 5)), ((1, 4, 14, 14), 7), ((1, 4, 10, 6), (3, 4)), ((2, 2, 1, 1), 3),
    ((2, 8, 7, 7), 1), ((1, 2, 5, 11), (2, 3)),
]


@pytest.mark.parametrize("shape,out", ADAPTIVE_GRID)
def test_adaptive_avg_pool2d_grid(shape, out):
    x = values(shape, seed=12)
    check_op(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), [x], rtol=RTOL)
    x32 = x.astype(np.float32)
    res = check_op(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), [x32])
    assert res[0].dtype == np.float32


@pytest.mark.parametrize("shape,out", ADAPTIVE_GRID)
def test_adaptive_max_pool2d_grid(shape, out):
    x = values(shape, seed=13)
    check_op(lambda t: F.adaptive_max_pool2d(t, out, True), lambda t: TF.adaptive_max_pool2d(t, out, True), [x],
             rtol=RTOL)
    x32 = np.round(x * 2).astype(np.float32)  # with ties
    check_op(lambda t: F.adaptive_max_pool2d(t, out, True), lambda t: TF.adaptive_max_pool2d(t, out, True), [x32])


def test_adaptive_max_pool2d_nan_neg_inf_and_constant():
    x = values((2, 2, 7, 9), seed=14)
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan
    x[1, 1] = -np.inf
    x[1, 0] = 0.25
    check_with_nans(lambda t: F.adaptive_max_pool2d(t, (3, 4), True),
                    lambda t: TF.adaptive_max_pool2d(t, (3, 4), True), x)


def test_global_average_pooling_is_the_mean():
    x = values((4, 5, 7, 7), seed=15)
    y = F.adaptive_avg_pool2d(ck.tensor(x), 1)._data
    assert y.shape == (4, 5, 1, 1)
    np.testing.assert_allclose(y[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-13)


def test_adaptive_pooling_empty_output():
    x = ck.tensor(values((2, 3, 5, 5)), requires_grad=True)
    y = F.adaptive_avg_pool2d(x, (0, 3))
    assert y.shape == tuple(TF.adaptive_avg_pool2d(torch.tensor(x._data), (0, 3)).shape) == (2, 3, 0, 3)
    y.backward(np.zeros(y.shape))
    np.testing.assert_array_equal(x.grad._data, 0)
    x.grad = None
    y = F.adaptive_max_pool2d(x, 0)
    assert y.shape == (2, 3, 0, 0)
    y.backward(np.zeros(y.shape))
    np.testing.assert_array_equal(x.grad._data, 0)


@pytest.mark.parametrize("out", [1, 3, (2, 4), (4, 3)])
def test_adaptive_gradcheck(out):
    x = ck.tensor(distinct((2, 2, 7, 6), seed=16), requires_grad=True)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, out), [x])
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, out), [x])


# ===== hypothesis ==================================================================================

@st.composite
def geometries(draw, dilation=True, padding=True):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2))) if padding else (0, 0)
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    ceil = draw(st.booleans())
    hw = [draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), 13)) for a in (0, 1)]
    lead = draw(st.sampled_from([(2, 3), (1, 1), (3,)]))
    assume(all(valid_window(hw[a], k[a], s[a], p[a], d[a], ceil) for a in (0, 1)))
    return lead + tuple(hw), k, s, p, d, ceil, draw(st.integers(0, 2 ** 16))


@given(geometries())
def test_max_pool2d_hypothesis(g):
    shape, k, s, p, d, ceil, seed = g
    x = np.round(values(shape, seed) * 3)  # ties are frequent
    check_op(lambda t: F.max_pool2d(t, k, s, p, d, ceil, return_indices=True),
             lambda t: TF.max_pool2d(t, k, s, p, d, ceil, return_indices=True), [x], rtol=RTOL)


@given(geometries(dilation=False), st.booleans(), st.sampled_from([None, 1, 4, -3]))
def test_avg_pool2d_hypothesis(g, inc, div):
    shape, k, s, p, _, ceil, seed = g
    check_op(lambda t: F.avg_pool2d(t, k, s, p, ceil, inc, div), lambda t: TF.avg_pool2d(t, k, s, p, ceil, inc, div),
             [values(shape, seed)], rtol=RTOL)


@given(geometries(dilation=False, padding=False), st.sampled_from([1, 2, 3, 1.5, 4.0]))
def test_lp_pool2d_hypothesis(g, norm):
    shape, k, s, _, _, ceil, seed = g
    x = np.abs(values(shape, seed)) + 0.05
    check_op(lambda t: F.lp_pool2d(t, norm, k, s, ceil), lambda t: TF.lp_pool2d(t, norm, k, s, ceil), [x],
             rtol=RTOL)


@given(st.integers(1, 12), st.integers(1, 12), st.one_of(st.none(), st.integers(1, 9)), st.integers(1, 9),
       st.integers(0, 2 ** 16))
def test_adaptive_hypothesis(h, w, oh, ow, seed):
    x = values((2, 2, h, w), seed)
    check_op(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), lambda t: TF.adaptive_avg_pool2d(t, (oh, ow)), [x],
             rtol=RTOL)
    x = np.round(x * 2)
    check_op(lambda t: F.adaptive_max_pool2d(t, (oh, ow), True),
             lambda t: TF.adaptive_max_pool2d(t, (oh, ow), True), [x], rtol=RTOL)


# ===== shapes, dtypes, no_grad =====================================================================

def test_empty_batch_and_3d_input():
    x = ck.tensor(np.zeros((0, 3, 6, 6)), requires_grad=True)
    for fn in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 2), lambda t: F.lp_pool2d(t, 2, 2),
               lambda t: F.adaptive_avg_pool2d(t, 3), lambda t: F.adaptive_max_pool2d(t, 3)):
        y = fn(x)
        assert y.shape == (0, 3, 3, 3)
        y.backward(np.zeros(y.shape))
    assert F.max_pool2d(ck.tensor(values((3, 6, 6))), 2).shape == (3, 3, 3)


def test_no_grad_and_indices_without_grad():
    x = ck.tensor(values((1, 2, 6, 6)), requires_grad=True)
    with ck.no_grad():
        y = F.max_pool2d(x, 3, 2)
    assert not y.requires_grad
    y, idx = F.max_pool2d(ck.tensor(values((1, 2, 6, 6))), 3, 2, return_indices=True)
    assert idx.dtype == np.int64 and not idx.requires_grad
    _, th_idx = TF.max_pool2d(torch.tensor(values((1, 2, 6, 6))), 3, 2, return_indices=True)
    np.testing.assert_array_equal(idx._data, th_idx.numpy())


def test_float32_stays_float32_in_backward():
    x = ck.tensor(values((2, 3, 8, 8), dtype=np.float32), requires_grad=True)
    for y in (F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1, True, False), F.lp_pool2d(x, 2, 3, 2),
              F.adaptive_avg_pool2d(x, 3), F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 3)):
        assert y.dtype == np.float32
        x.grad = None
        y.backward(np.ones(y.shape, np.float32))
        assert x.grad.dtype == np.float32


# ===== errors ======================================================================================

X4 = np.zeros((1, 1, 4, 4))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.max_pool2d(ck.tensor(np.zeros((4, 4))), 2), ValueError,
     r"max_pool2d: expected a 3-d .* got shape \(4, 4\)"),
    (lambda: F.max_pool2d(ck.tensor(np.zeros((1, 1, 1, 4, 4))), 2), ValueError, r"max_pool2d: expected a 3-d"),
    (lambda: F.max_pool2d(ck.tensor(np.zeros((1, 0, 4, 4))), 2), ValueError, r"non-zero C, H and W"),
    (lambda: F.avg_pool2d(ck.tensor(np.zeros((0, 4, 4))), 2), ValueError, r"avg_pool2d: expected a 3-d"),
    (lambda: F.max_pool2d(X4, 2), TypeError, r"max_pool2d: expected a Tensor input, got ndarray"),
    (lambda: F.max_pool2d(ck.tensor(X4), 5), ValueError, r"max_pool2d: the kernel \(5, 5\).* larger than the input "
                                                          r"\(4, 4\) padded by \(0, 0\)"),
    (lambda: F.max_pool2d(ck.tensor(X4), 3, 1, 1, 3), ValueError, r"max_pool2d: the kernel \(3, 3\) \(spanning "
                                                                  r"\(7, 7\) with dilation \(3, 3\)\)"),
    (lambda: F.avg_pool2d(ck.tensor(X4), (2, 6)), ValueError, r"avg_pool2d: the kernel \(2, 6\)"),
    (lambda: F.lp_pool2d(ck.tensor(X4), 2, 5), ValueError, r"lp_pool2d: the kernel"),
    (lambda: F.max_pool2d(ck.tensor(X4), 0), ValueError, r"max_pool2d: kernel_size must be positive, got 0"),
    (lambda: F.avg_pool2d(ck.tensor(X4), (2, -1)), ValueError, r"avg_pool2d: kernel_size must be positive"),
    (lambda: F.max_pool2d(ck.tensor(X4), 2, 0), ValueError, r"max_pool2d: stride must be positive, got 0"),
    (lambda: F.avg_pool2d(ck.tensor(X4), 2, (1, -1)), ValueError, r"avg_pool2d: stride must be positive"),
    (lambda: F.lp_pool2d(ck.tensor(X4), 2, 2, 0), ValueError, r"lp_pool2d: stride must be positive"),
    (lambda: F.max_pool2d(ck.tensor(X4), 2, 1, 0, 0), ValueError, r"max_pool2d: dilation must be positive"),
    (lambda: F.max_pool2d(ck.tensor(X4), 2, 1, -1), ValueError, r"max_pool2d: padding must be non-negative"),
    (lambda: F.max_pool2d(ck.tensor(X4), 3, 1, 2), ValueError, r"max_pool2d: padding must be at most half the kernel "
                                                               r"size, got padding \(2, 2\) for kernel \(3, 3\)"),
    (lambda: F.avg_pool2d(ck.tensor(X4), (4, 2), 1, (2, 2)), ValueError, r"avg_pool2d: padding must be at most half"),
    (lambda: F.max_pool2d(ck.tensor(X4), 2.5), TypeError, r"max_pool2d: kernel_size must be an int or a tuple"),
    (lambda: F.max_pool2d(ck.tensor(X4), True), TypeError, r"max_pool2d: kernel_size must be an int"),
    (lambda: F.max_pool2d(ck.tensor(X4), (2, 2, 2)), ValueError, r"max_pool2d: kernel_size must be a single int or"),
    (lambda: F.max_pool2d(ck.tensor(X4), 2, ceil_mode=1), TypeError, r"max_pool2d: ceil_mode must be a bool"),
    (lambda: F.avg_pool2d(ck.tensor(X4), 2, divisor_override=0), ValueError, r"avg_pool2d: divisor_override must "
                                                                             r"not be zero"),
    (lambda: F.avg_pool2d(ck.tensor(X4), 2, divisor_override=1.5), TypeError, r"avg_pool2d: divisor_override must "
                                                                              r"be an int"),
    (lambda: F.avg_pool2d(ck.tensor(X4), 2, count_include_pad=None), TypeError, r"count_include_pad must be a bool"),
    (lambda: F.lp_pool2d(ck.tensor(X4), 0, 2), ValueError, r"lp_pool2d: norm_type must be a non-zero number"),
    (lambda: F.lp_pool2d(ck.tensor(X4), float("nan"), 2), ValueError, r"lp_pool2d: norm_type must be a non-zero"),
    (lambda: F.lp_pool2d(ck.tensor(X4), "2", 2), TypeError, r"lp_pool2d: norm_type must be a number, got '2'"),
    (lambda: F.lp_pool2d(ck.tensor(X4), True, 2), TypeError, r"lp_pool2d: norm_type must be a number"),
    (lambda: F.max_pool2d(ck.tensor(np.zeros((1, 1, 4, 4), np.int64)), 2), TypeError,
     r"max_pool2d: expected a floating point input, got dtype int64"),
    (lambda: F.adaptive_avg_pool2d(ck.tensor(X4), -1), ValueError, r"adaptive_avg_pool2d: output_size must be "
                                                                   r"non-negative"),
    (lambda: F.adaptive_avg_pool2d(ck.tensor(X4), (1, 2, 3)), ValueError, r"adaptive_avg_pool2d: output_size must be "
                                                                          r"an int or a tuple of two"),
    (lambda: F.adaptive_max_pool2d(ck.tensor(X4), 2.0), TypeError, r"adaptive_max_pool2d: output_size must be"),
    (lambda: F.adaptive_max_pool2d(ck.tensor(X4), (2, "a")), TypeError, r"adaptive_max_pool2d: output_size must "
                                                                        r"hold ints or None"),
    (lambda: F.adaptive_max_pool2d(ck.tensor(np.zeros((4, 4))), 2), ValueError, r"adaptive_max_pool2d: expected a "
                                                                                r"3-d"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_torch_rejects_the_same_geometries():
    """The geometry errors above are errors in PyTorch too (ours are raised earlier, with clearer text)."""
    x = torch.zeros(1, 1, 4, 4)
    for args in [(5,), (3, 1, 2), (2, 1, -1), (2, 0), (0,)]:
        with pytest.raises((RuntimeError, ValueError)):
            TF.max_pool2d(x, *args)


def test_non_contiguous_input():
    """A channels-last array seen as NCHW (a permuted view) pools like its contiguous copy."""
    nhwc = values((2, 9, 8, 3), seed=17)
    for fn in (lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 1, 1),
               lambda t: F.lp_pool2d(t, 2, 3, 3), lambda t: F.adaptive_avg_pool2d(t, 1),
               lambda t: F.adaptive_avg_pool2d(t, (4, 3)), lambda t: F.adaptive_max_pool2d(t, 3)):
        a = ck.tensor(nhwc, requires_grad=True)
        b = ck.tensor(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)), requires_grad=True)
        ya, yb = fn(a.permute(0, 3, 1, 2)), fn(b)
        np.testing.assert_array_equal(ya._data, yb._data)
        g = values(ya.shape, seed=18)
        ya.backward(g)
        yb.backward(g)
        np.testing.assert_array_equal(a.grad._data.transpose(0, 3, 1, 2), b.grad._data)


# ----- channels-last inputs (as cnnkit's convolutions return them): same values, same layout out ------------

def _channels_last(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("pool", [
    lambda m, x: m.max_pool2d(x, 2), lambda m, x: m.max_pool2d(x, 3, 2), lambda m, x: m.max_pool2d(x, 3, 1, 1),
    lambda m, x: m.avg_pool2d(x, 2), lambda m, x: m.avg_pool2d(x, 3, 2, 1), lambda m, x: m.lp_pool2d(x, 2, 2),
], ids=["max 2/2", "max 3/2", "max 3/1 p1", "avg 2/2", "avg 3/2 p1", "lp 2/2"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_channels_last_input(pool, dtype):
    """A channels-last input (shared, not copied: ck.from_numpy) gives torch's values and gradients, and a
    channels-last output and input gradient."""
    x = _channels_last(distinct((2, 5, 7, 8)).astype(dtype))
    xt = ck.from_numpy(x).requires_grad_()
    y = pool(F, xt)
    g = _channels_last(values(y.shape, seed=1, dtype=dtype))
    y.backward(g)
    xr = torch.from_numpy(x).requires_grad_()
    yr = pool(TF, xr)
    yr.backward(torch.from_numpy(g))
    if dtype == np.float64:
        np.testing.assert_allclose(y._data, yr.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xt.grad._data, xr.grad.numpy(), rtol=1e-12, atol=1e-12)
    else:  # against torch in float64 on the same values (tests/oracle.py's float32 rule)
        x64 = torch.from_numpy(x.astype(np.float64)).requires_grad_()
        y64 = pool(TF, x64)
        y64.backward(torch.from_numpy(g.astype(np.float64)))
        assert_close32(y, y64, yr, 1e-5, "output")
        assert_close32(xt.grad, x64.grad, xr.grad, 1e-5, "input gradient")
    assert xt._data.transpose(0, 2, 3, 1).flags.c_contiguous  # the input really was channels-last
    for a in (y._data, xt.grad._data):
        assert a.transpose(0, 2, 3, 1).flags.c_contiguous
