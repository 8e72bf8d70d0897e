"""conv2d, conv_transpose2d, table_conv2d and pad2d against PyTorch: forward and every gradient on an explicit
grid of options and their combinations, hypothesis strategies, gradcheck, every algorithm / memory-layout /
chunking switch at its boundary, dtypes and errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.autograd import gradcheck
from cnnkit.kernels import im2col, weight_order, winograd
from cnnkit.ops import conv as conv_ops
from cnnkit.ops import validate
from tests.oracle import assert_close, check_op

RTOL = 1e-8  # float64; check_op raises it to 1e-4 for float32


def _values(*shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


# ----- conv2d: the grid --------------------------------------------------------------------------------------
# (N, C, O, (H, W), kernel, stride, padding, dilation, groups, bias)

KERNELS = [1, 3, (1, 3), (3, 1), 5, 2, (2, 3)]
STRIDES = [1, 2, (1, 2), (2, 1), 3]
PADDINGS = [0, 1, (1, 2), (0, 2), "same", "valid"]
DILATIONS = [1, 2, (1, 2)]
GROUPINGS = [(4, 6, 1), (4, 6, 2), (4, 4, 4), (3, 6, 3), (6, 4, 2), (1, 3, 1)]  # (C, O, groups): incl. depthwise


def _grid():
    """Every kernel × stride × padding, with dilation, grouping, bias, batch and odd sizes cycling through
    their options so that every pair of options meets somewhere."""
    cases = []
    for idx, (k, s, p) in enumerate(itertools.product(KERNELS, STRIDES, PADDINGS)):
        if p == "same" and s != 1:
            continue
        d = DILATIONS[idx % 3]
        c, o, g = GROUPINGS[(idx // 3) % len(GROUPINGS)]
        n = (1, 2, 3)[idx % 3 if idx % 7 else 0]
        hw = ((7, 9), (8, 5), (11, 10), (6, 13))[idx % 4]
        kp, dp = validate.pair(k, "", ""), validate.pair(d, "", "")
        pp = validate.padding(p, kp, validate.pair(s, "", ""), dp, "")
        hw = tuple(max(hw[i], dp[i] * (kp[i] - 1) + 1 - pp[2 * i] - pp[2 * i + 1]) for i in range(2))
        cases.append((n, c, o, hw, k, s, p, d, g, idx % 5 != 4))
    return cases


SPECIAL = [
    (2, 3, 8, (35, 35), 11, 4, 2, 1, 1, True),       # AlexNet conv1 shape, small
    (2, 4, 8, (9, 9), 5, 1, 2, 1, 2, True),          # AlexNet conv2: 5×5 pad 2, two towers
    (1, 1, 6, (12, 12), 5, 1, 2, 1, 1, True),        # LeNet C1
    (3, 6, 16, (14, 14), 5, 1, 0, 1, 1, True),       # LeNet C3
    (2, 8, 4, (6, 6), 1, 1, 0, 1, 1, False),         # ResNet 1×1 bottleneck
    (2, 8, 4, (7, 7), 1, 2, 0, 1, 1, True),          # 1×1 stride 2 (downsampling shortcut)
    (2, 8, 4, (7, 6), 1, 1, 0, 1, 4, True),          # grouped 1×1
    (2, 4, 8, (6, 7), 3, 1, 1, 1, 4, True),          # depthwise with channel multiplier 2
    (2, 3, 9, (5, 6), 3, 2, 1, 2, 3, False),         # depthwise, multiplier 3, strided, dilated
    (1, 4, 4, (5, 5), 5, 1, 0, 1, 1, True),          # kernel = input (1×1 output)
    (2, 2, 3, (4, 4), 3, 1, 4, 1, 1, True),          # padding larger than the kernel
    (2, 2, 3, (1, 9), (1, 3), 1, 0, 1, 1, True),     # height 1
    (1, 5, 3, (3, 3), 3, 1, "same", 3, 1, True),     # 'same' with the dilated kernel larger than the input
    (0, 3, 4, (6, 6), 3, 1, 1, 1, 1, True),          # empty batch
    (2, 4, 4, (8, 8), (4, 2), 1, "same", 1, 2, True),  # 'same' with even kernels (asymmetric padding)
]

CONV_CASES = _grid() + SPECIAL


def _conv_inputs(case, dtype, seed=0):
    n, c, o, hw, k, s, p, d, g, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    shapes = [(n, c) + tuple(hw), (o, c // g, kh, kw)] + ([(o,)] if bias else [])
    return _values(*shapes, dtype=dtype, seed=seed)


def _conv_fns(case):
    _, _, _, _, _, s, p, d, g, bias = case

    def ck_fn(x, w, b=None):
        return F.conv2d(x, w, b, s, p, d, g)

    def th_fn(x, w, b=None):
        return TF.conv2d(x, w, b, s, p, d, g)

    return ck_fn, th_fn


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_float64(case):
    check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL, what=f"conv2d{case}")


@pytest.mark.parametrize("case", CONV_CASES[::3] + SPECIAL, ids=str)
def test_conv2d_float32(case):
    out = check_op(*_conv_fns(case), _conv_inputs(case, np.float32), what=f"conv2d{case}")
    assert out[0].dtype == np.float32


def test_conv2d_grid_size():
    assert len(CONV_CASES) >= 150


# ----- conv_transpose2d -----------------------------------------------------------------------------------------
# (N, C_in, C_out, (H, W), kernel, stride, padding, output_padding, dilation, groups, bias)

def _transpose_grid():
    cases = []
    combos = itertools.product([1, 3, (2, 3), 4], [1, 2, (2, 1), 3], [0, 1, (2, 1)], [0, 1, (1, 0)])
    for idx, (k, s, p, op) in enumerate(combos):
        d = DILATIONS[idx % 3]
        sp, dp = (s, s) if isinstance(s, int) else s, (d, d) if isinstance(d, int) else d
        opp = (op, op) if isinstance(op, int) else op
        if any(opp[i] >= max(sp[i], dp[i]) for i in range(2)):
            continue
        kp = (k, k) if isinstance(k, int) else k
        pp = (p, p) if isinstance(p, int) else p
        hw = ((4, 5), (3, 3), (5, 2))[idx % 3]
        if any((hw[i] - 1) * sp[i] - 2 * pp[i] + dp[i] * (kp[i] - 1) + opp[i] + 1 < 1 for i in range(2)):
            continue
        c, o, g = ((4, 6, 2), (3, 5, 1), (4, 4, 4), (2, 6, 2))[(idx // 2) % 4]
        cases.append(((1, 2, 3)[idx % 3], c, o, hw, k, s, p, op, d, g, idx % 4 != 3))
    return cases


TRANSPOSE_SPECIAL = [
    (2, 8, 4, (5, 5), 2, 2, 0, 0, 1, 1, True),       # the classic 2× upsampling (no overlap)
    (2, 4, 4, (4, 4), 4, 2, 1, 0, 1, 1, True),       # DCGAN's 4×4/2 pad 1
    (1, 4, 3, (3, 3), 3, 2, 1, 1, 1, 1, False),      # output_padding restores an odd size
    (2, 6, 4, (5, 5), 1, 1, 0, 0, 1, 2, True),       # 1×1 (a GEMM)
    (2, 6, 4, (5, 5), 1, 2, 0, 1, 1, 1, True),       # 1×1 stride 2 with output_padding
    (2, 3, 2, (4, 4), 3, 1, 0, 1, 2, 1, True),       # stride 1, output_padding < dilation
    (0, 3, 2, (4, 4), 3, 2, 1, 0, 1, 1, True),       # empty batch
]

TRANSPOSE_CASES = _transpose_grid() + TRANSPOSE_SPECIAL


def _transpose_inputs(case, dtype, seed=0):
    n, c, o, hw, k, s, p, op, d, g, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    shapes = [(n, c) + tuple(hw), (c, o // g, kh, kw)] + ([(o,)] if bias else [])
    return _values(*shapes, dtype=dtype, seed=seed)


def _transpose_fns(case):
    *_, s, p, op, d, g, bias = case

    def ck_fn(x, w, b=None):
        return F.conv_transpose2d(x, w, b, s, p, op, g, d)

    def th_fn(x, w, b=None):
        return TF.conv_transpose2d(x, w, b, s, p, op, g, d)

    return ck_fn, th_fn


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv_transpose2d_float64(case):
    check_op(*_transpose_fns(case), _transpose_inputs(case, np.float64), rtol=RTOL, what=f"conv_transpose2d{case}")


@pytest.mark.parametrize("case", TRANSPOSE_CASES[::3] + TRANSPOSE_SPECIAL, ids=str)
def test_conv_transpose2d_float32(case):
    out = check_op(*_transpose_fns(case), _transpose_inputs(case, np.float32), what=f"conv_transpose2d{case}")
    assert out[0].dtype == np.float32


def test_conv_transpose2d_grid_size():
    assert len(TRANSPOSE_CASES) >= 60


# ----- connection tables ------------------------------------------------------------------------------------------

def _random_table(out, inp, seed):
    t = np.random.default_rng(seed).random((out, inp)) < 0.5
    t[np.arange(out), np.arange(out) % inp] = True  # every output sees something
    return t


LENET_TABLE = np.zeros((16, 6), bool)
for _j, _ins in enumerate([[i % 6 for i in range(j, j + 3)] for j in range(6)]
                          + [[i % 6 for i in range(j, j + 4)] for j in range(6)]
                          + [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], list(range(6))]):
    LENET_TABLE[_j, _ins] = True

TABLE_CASES = [  # (N, table, (H, W), kernel, stride, padding, bias)
    (2, LENET_TABLE, (14, 14), 5, 1, 0, True),
    (1, LENET_TABLE, (10, 9), 3, 2, 1, False),
    (3, _random_table(5, 4, 1), (7, 6), 3, 1, "same", True),
    (2, _random_table(3, 5, 2), (6, 8), (2, 3), (2, 1), (1, 0), True),
    (2, np.eye(4, dtype=bool), (5, 5), 3, 1, 1, True),   # a diagonal table = depthwise
    (2, np.ones((3, 2), bool), (5, 6), 3, 1, 0, False),  # a full table = plain conv
]


def _table_fns(table, s, p):
    rows, cols = np.nonzero(table)

    def ck_fn(x, w, b=None):
        return F.table_conv2d(x, w, table, b, s, p)

    def th_fn(x, w, b=None):
        dense = torch.zeros(table.shape + tuple(w.shape[1:]), dtype=w.dtype)
        dense = dense.index_put((torch.from_numpy(rows), torch.from_numpy(cols)), w)
        return TF.conv2d(x, dense, b, s, p)

    return ck_fn, th_fn


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", TABLE_CASES, ids=lambda c: f"{c[1].shape}-{c[2:]}")
def test_table_conv2d(case, dtype):
    n, table, hw, k, s, p, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    shapes = [(n, table.shape[1]) + hw, (int(table.sum()), kh, kw)] + ([(table.shape[0],)] if bias else [])
    check_op(*_table_fns(table, s, p), _values(*shapes, dtype=dtype), rtol=RTOL, what="table_conv2d")


def test_conv_configuration_count():
    """The issue asks for at least 120 convolution configurations across conv2d / conv_transpose2d / tables."""
    assert len(CONV_CASES) + len(TRANSPOSE_CASES) + len(TABLE_CASES) >= 200


# ----- hypothesis -----------------------------------------------------------------------------------------------

@st.composite
def conv_configs(draw):
    g = draw(st.sampled_from([1, 1, 2, 3]))
    c, o = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    padding = draw(st.sampled_from([(ph, pw), "same"])) if (sh, sw) == (1, 1) else (ph, pw)
    return draw(st.integers(1, 3)), c, o, (h, w), (kh, kw), (sh, sw), padding, (dh, dw), g, draw(st.booleans())


@given(conv_configs(), st.integers(0, 2 ** 16))
def test_conv2d_hypothesis(case, seed):
    check_op(*_conv_fns(case), _conv_inputs(case, np.float64, seed), rtol=RTOL, what=f"conv2d{case}")


@st.composite
def transpose_configs(draw):
    g = draw(st.sampled_from([1, 1, 2]))
    c, o = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(2))
    hw = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    p = tuple(draw(st.integers(0, max(0, ((hw[i] - 1) * s[i] + d[i] * (k[i] - 1) + op[i]) // 2))) for i in range(2))
    return draw(st.integers(1, 3)), c, o, hw, k, s, p, op, d, g, draw(st.booleans())


@given(transpose_configs(), st.integers(0, 2 ** 16))
def test_conv_transpose2d_hypothesis(case, seed):
    check_op(*_transpose_fns(case), _transpose_inputs(case, np.float64, seed), rtol=RTOL,
             what=f"conv_transpose2d{case}")


# ----- gradcheck (float64, finite differences) ---------------------------------------------------------------

GRADCHECK_CONV = [
    (2, 2, 3, (5, 4), 3, 1, 1, 1, 1, True),          # im2col + GEMM, dx by correlation
    (1, 2, 2, (6, 5), (2, 3), 2, (1, 0), 1, 1, True),  # dx by col2im
    (2, 4, 4, (4, 5), 3, 1, 1, 2, 2, False),         # grouped, dilated
    (2, 3, 3, (5, 5), 3, 2, 1, 1, 3, True),          # depthwise, strided
    (2, 2, 4, (4, 4), 3, 1, "same", 1, 2, True),     # depthwise × 2
    (2, 4, 3, (4, 5), 1, 2, 0, 1, 1, True),          # 1×1 strided
]


@pytest.mark.parametrize("case", GRADCHECK_CONV, ids=str)
def test_conv2d_gradcheck(case):
    xs = [ck.tensor(a, requires_grad=True) for a in _conv_inputs(case, np.float64)]
    assert gradcheck(_conv_fns(case)[0], xs)


@pytest.mark.parametrize("case", [(2, 2, 3, (3, 4), 3, 2, 1, 1, 1, 1, True),
                                  (1, 4, 2, (3, 3), (2, 3), 1, 0, 0, 2, 2, True),
                                  (2, 2, 2, (3, 3), 1, 2, 0, 1, 1, 1, False)], ids=str)
def test_conv_transpose2d_gradcheck(case):
    xs = [ck.tensor(a, requires_grad=True) for a in _transpose_inputs(case, np.float64)]
    assert gradcheck(_transpose_fns(case)[0], xs)


def test_table_conv2d_gradcheck():
    table = _random_table(3, 4, 5)
    x, w, b = _values((2, 4, 5, 5), (int(table.sum()), 3, 3), (3,))
    fn = _table_fns(table, 1, 1)[0]
    assert gradcheck(fn, [ck.tensor(a, requires_grad=True) for a in (x, w, b)])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_gradcheck_and_torch(mode):
    x = _values((2, 2, 4, 5))[0]
    pad = (3, 0, 2, 1) if mode != "circular" else (1, 4, 2, 3)

    def ck_fn(t):
        return F.pad(t, pad, mode)

    def th_fn(t):
        return TF.pad(t, pad, mode=mode)

    check_op(ck_fn, th_fn, [x], rtol=RTOL)
    assert gradcheck(ck_fn, [ck.tensor(x, requires_grad=True)])


# ----- algorithm, layout and chunking switches -----------------------------------------------------------------

def _channels_last(a: np.ndarray) -> np.ndarray:
    """The same values as an NCHW-shaped view of NHWC memory."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _compare_layouts(case, x_last: bool, gy_last: bool, transpose: bool = False):
    """Forward and gradients with the input and the output gradient in a chosen memory layout."""
    inputs = (_transpose_inputs if transpose else _conv_inputs)(case, np.float64)
    ck_fn, th_fn = (_transpose_fns if transpose else _conv_fns)(case)
    x = _channels_last(inputs[0]) if x_last else inputs[0]
    assert kernels.is_channels_last(x) == x_last or x.shape[1] == 1
    xc = ck.from_numpy(x).requires_grad_()
    rest = [ck.tensor(a, requires_grad=True) for a in inputs[1:]]
    y = ck_fn(xc, *rest)
    th_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    yt = th_fn(*th_in)
    assert_close(y, yt, RTOL, "output")
    gy = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(_channels_last(gy) if gy_last else gy)
    yt.backward(torch.from_numpy(gy))
    for a, b, what in zip([xc] + rest, th_in, ["input", "weight", "bias"]):
        assert_close(a.grad, b.grad, RTOL, f"gradient of {what}")


LAYOUT_CASES = [
    (2, 1, 4, (6, 9), 3, 1, 1, 1, 1, True),     # transposed columns (NCHW compute)
    (2, 6, 4, (5, 5), 1, 1, 0, 1, 1, True),     # pointwise: a GEMM in the input's layout
    (2, 6, 4, (5, 5), 1, 2, 0, 1, 2, True),     # pointwise, strided, grouped
    (2, 4, 6, (6, 5), 3, 1, 1, 1, 2, True),     # im2col
    (2, 4, 6, (6, 5), 3, 2, 1, 1, 1, False),    # im2col, col2im
    (2, 4, 4, (6, 5), 3, 1, 1, 1, 4, True),     # depthwise
    (2, 4, 8, (6, 5), 3, 2, 1, 1, 4, True),     # depthwise × 2, strided
]


@pytest.mark.parametrize("x_last,gy_last", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("case", LAYOUT_CASES, ids=str)
def test_memory_layouts(case, x_last, gy_last):
    _compare_layouts(case, x_last, gy_last)


@pytest.mark.parametrize("x_last,gy_last", [(True, True), (False, True)])
def test_memory_layouts_transpose(x_last, gy_last):
    _compare_layouts((2, 4, 6, (4, 3), 3, 2, 1, 1, 1, 2, True), x_last, gy_last, transpose=True)
    _compare_layouts((2, 4, 6, (4, 3), 1, 1, 0, 0, 1, 1, True), x_last, gy_last, transpose=True)


def test_output_is_channels_last_and_input_first_layer():
    """im2col + GEMM returns an NCHW-shaped view of NHWC memory; a 1×1 conv keeps an NCHW input's layout;
    an input that needs no gradient gets none (and its gradient is not computed)."""
    x, w = _values((2, 3, 6, 6), (4, 3, 3, 3))
    y = F.conv2d(ck.tensor(x), ck.tensor(w, requires_grad=True), padding=1)
    assert y.shape == (2, 4, 6, 6) and kernels.is_channels_last(y._data)
    x1, w1 = _values((2, 3, 6, 6), (4, 3, 1, 1))
    y1 = F.conv2d(ck.tensor(x1), ck.tensor(w1))
    assert y1._data.flags.c_contiguous
    xt = ck.tensor(x)
    wt = ck.tensor(w, requires_grad=True)
    F.conv2d(xt, wt).sum().backward()
    assert xt.grad is None and wt.grad is not None


def test_algorithm_switches():
    """Each path is taken where it should be: the boundaries of pointwise and depthwise."""
    def geom(k, s, pad, hw=(5, 5), out=None, groups=1):
        out = out or tuple(kernels.out_size(hw[i], k, s, 1, pad[2 * i], pad[2 * i + 1]) for i in range(2))
        return kernels.ConvGeometry(hw, out, (k, k), (s, s), (1, 1), pad, groups)

    assert geom(1, 1, (0, 0, 0, 0)).pointwise
    assert geom(1, 2, (0, 0, 0, 0)).pointwise
    assert not geom(1, 1, (1, 1, 1, 1)).pointwise            # 1×1 reading padding: im2col
    assert not geom(3, 1, (0, 0, 0, 0)).pointwise
    assert geom(1, 2, (0, -1, 0, -1), hw=(6, 6), out=(3, 3)).pointwise  # transposed view, output_padding
    # transposed (NCHW) columns when kW·C < min(Wo, 32) with stride 1 along W and one group
    assert im2col.transposed_columns(geom(3, 1, (1, 1, 1, 1), hw=(9, 9)), 2)        # 6 < 9
    assert not im2col.transposed_columns(geom(3, 1, (1, 1, 1, 1), hw=(9, 9)), 3)    # 9 = 9
    assert not im2col.transposed_columns(geom(3, 1, (1, 1, 1, 1), hw=(40, 40)), 11)  # 33 > 32
    assert im2col.transposed_columns(geom(3, 1, (1, 1, 1, 1), hw=(40, 40)), 10)      # 30 < 32
    assert not im2col.transposed_columns(geom(3, 2, (1, 1, 1, 1), hw=(40, 40)), 1)   # stride 2
    assert not im2col.transposed_columns(geom(3, 1, (1, 1, 1, 1), hw=(9, 9), groups=2), 2)
    # 1×1 with padding 1, depthwise with one channel per group vs two, and both column layouts: all equal torch
    for case in [(2, 4, 4, (5, 5), 1, 1, 1, 1, 1, True), (2, 4, 4, (5, 5), 3, 1, 1, 1, 4, True),
                 (2, 4, 4, (5, 5), 3, 1, 1, 1, 2, True), (2, 1, 3, (5, 5), 3, 1, 1, 1, 1, True),
                 (2, 2, 3, (9, 9), 3, 1, 1, 1, 1, True), (2, 3, 3, (9, 9), 3, 1, 1, 1, 1, True),
                 (2, 2, 3, (7, 9), 3, (2, 1), 1, 2, 1, False)]:
        check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)


# ----- Winograd F(2×2, 3×3): 3×3, stride 1, dilation 1, one group, ≥ WINOGRAD_MIN_CHANNELS channels ----------

@pytest.fixture
def winograd_small():
    """Winograd from 4 channels and 1×1 outputs on, so that small tests reach it."""
    with kernels.using(winograd_min_channels=4, winograd_min_map=1):
        yield


WINOGRAD_CASES = [  # (N, C, O, (H, W), padding, bias): odd and even sizes, every padding
    (2, 4, 5, (6, 6), 1, True), (1, 5, 4, (7, 5), 0, False), (3, 4, 4, (5, 8), 2, True),
    (2, 6, 4, (9, 7), "same", True), (2, 4, 6, (3, 3), 0, True), (1, 4, 4, (1, 4), 1, True),
    (2, 4, 4, (5, 5), 3, True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=str)
def test_winograd(case, dtype, winograd_small):
    n, c, o, hw, p, bias = case
    conv = (n, c, o, hw, 3, 1, p, 1, 1, bias)
    assert winograd.picks(kernels.ConvGeometry(hw, hw, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1), n, c, o)
    check_op(*_conv_fns(conv), _conv_inputs(conv, dtype), rtol=RTOL)
    if p != "same":
        tconv = (n, c, o, hw, 3, 1, p, 0, 1, 1, bias)
        check_op(*_transpose_fns(tconv), _transpose_inputs(tconv, dtype), rtol=RTOL)


def test_winograd_at_real_size():
    """The default threshold, a VGG-like layer in float64 and float32 (the rounding of the transforms).
    (No bias in float32: its gradient sums 220 values, whose float32 rounding in torch alone can exceed 1e-4
    of a sum that cancels to ~0.)"""
    for dtype, bias in ((np.float64, True), (np.float32, False)):
        case = (2, 32, 32, (10, 11), 3, 1, 1, 1, 1, bias)
        check_op(*_conv_fns(case), _conv_inputs(case, dtype), rtol=RTOL)


@pytest.mark.parametrize("budget", ["tiny", "keep nothing", "threads"])
def test_winograd_chunks_threads_and_kept_input(budget, winograd_small):
    options = {"tiny": dict(column_budget=1), "keep nothing": dict(keep_columns=0),
               "threads": dict(threads=3, split_blas_kernels=True, parallel_min=0)}[budget]
    case = (4, 4, 5, (7, 6), 3, 1, 1, 1, 1, True)
    with kernels.using(**options):
        check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)


def test_winograd_switch():
    def geom(k=3, s=1, d=1, groups=1):
        return kernels.ConvGeometry((8, 8), (8, 8), (k, k), (s, s), (d, d), (1, 1, 1, 1), groups)

    m = kernels.config().winograd_min_channels
    assert winograd.picks(geom(), 2, m, m)
    assert not winograd.picks(geom(), 2, m - 1, m) and not winograd.picks(geom(), 2, m, m - 1)
    assert not winograd.picks(geom(k=5), 2, m, m) and not winograd.picks(geom(s=2), 2, m, m)
    assert not winograd.picks(geom(d=2), 2, m, m) and not winograd.picks(geom(groups=2), 2, 2 * m, 2 * m)
    small = kernels.ConvGeometry((3, 8), (3, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)   # 3 rows < 4
    assert kernels.config().winograd_min_map == 4 and not winograd.picks(small, 2, m, m)
    with kernels.using(winograd_min_map=3):
        assert winograd.picks(small, 2, m, m)
    g = kernels.ConvGeometry((8, 8), (8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
    x, w = _values((2, m, 8, 8), (m, m, 3, 3))
    algorithm = kernels.select(g, x.shape, w.shape)
    _, kept = kernels.forward(algorithm, x, w, g, keep=True)
    assert algorithm == "winograd" and kept.shape == (16, 2 * 4 * 4, m)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_winograd_split(split, n, winograd_small):
    """Winograd's three phases on the calling thread, or each split over threads (the transforms over
    images when n ≥ threads, else over tile rows; the GEMMs over ξ), give torch's result."""
    with kernels.using(threads=3, split_blas_kernels=split, parallel_min=0, piece_min=1):
        case = (n, 4, 5, (7, 9), 3, 1, 1, 1, 1, True)
        check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)
        tcase = (n, 4, 5, (7, 9), 3, 1, 1, 0, 1, 1, True)
        check_op(*_transpose_fns(tcase), _transpose_inputs(tcase, np.float64), rtol=RTOL)


def test_winograd_kernels_flipped():
    """The transformed kernel of the 180°-rotated weight (the input gradient's) equals the transform of the
    rotated copy."""
    w = _values((3, 4, 3, 3))[0]
    rotated = np.ascontiguousarray(w[:, :, ::-1, ::-1])
    np.testing.assert_allclose(winograd.transformed_kernels(w, flipped=True), winograd.transformed_kernels(rotated),
                               rtol=1e-14, atol=1e-14)


# ----- columns in the weight's own (c, i, j) order: few pixels, many channels ---------------------------------

@pytest.fixture
def weight_order_always():
    with kernels.using(weight_order_pixels=float("inf")):
        yield


@pytest.mark.parametrize("case", [c for c in CONV_CASES if c[8] == 1], ids=str)
def test_weight_order_columns(case, weight_order_always):
    """Every one-group case of the grid, forced through the weight-order columns."""
    check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)


@pytest.mark.parametrize("case", [c for c in TRANSPOSE_CASES if c[9] == 1], ids=str)
def test_weight_order_transposed(case, weight_order_always):
    check_op(*_transpose_fns(case), _transpose_inputs(case, np.float64), rtol=RTOL)


def test_weight_order_rebuilds_columns(weight_order_always):
    """Columns larger than keep_columns are not kept; the weight gradient rebuilds them from the input."""
    with kernels.using(keep_columns=0):
        g = kernels.ConvGeometry((6, 5), (6, 5), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
        x, w = _values((2, 3, 6, 5), (4, 3, 3, 3))
        assert kernels.select(g, x.shape, w.shape) == "weight_order"
        assert kernels.forward("weight_order", x, w, g, keep=True)[1] is None
        case = (2, 3, 4, (6, 5), 3, 1, 1, 1, 1, True)
        check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)


def test_weight_order_switch():
    """On from N·Ho·Wo ≤ O output pixels (default threshold), one group, not 1×1; both sides equal torch,
    in float32 too, and the weight-order path keeps its columns for the weight gradient."""
    g = kernels.ConvGeometry((7, 7), (7, 7), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
    assert weight_order.picks(g, 2, 8, 98) and not weight_order.picks(g, 2, 8, 97)
    assert not weight_order.picks(kernels.ConvGeometry((7, 7), (7, 7), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 2),
                                  2, 8, 98)
    assert not weight_order.picks(kernels.ConvGeometry((7, 7), (7, 7), (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1),
                                  2, 8, 98)
    x, w = _values((2, 8, 7, 7), (98, 8, 3, 3))
    algorithm = kernels.select(g, x.shape, w.shape)
    _, kept = kernels.forward(algorithm, x, w, g, keep=True)
    assert algorithm == "weight_order" and kept.shape == (98, 8 * 9)
    for o in (97, 98):
        for dtype in (np.float64, np.float32):
            case = (2, 8, o, (7, 7), 3, 1, 1, 1, 1, dtype == np.float64)
            check_op(*_conv_fns(case), _conv_inputs(case, dtype), rtol=RTOL)


@pytest.mark.parametrize("case", [
    (3, 1, 4, (6, 9), 3, 1, 1, 1, 1, True),        # transposed columns, chunked
    (5, 4, 6, (7, 6), 3, 1, 1, 1, 1, True),        # stride 1: dx by correlation, chunked too
    (5, 4, 6, (7, 6), 3, 2, 1, 1, 2, True),        # stride 2: col2im chunk by chunk, groups
    (3, 4, 6, (7, 6), (2, 3), (1, 2), (1, 0), 2, 2, False),
], ids=str)
@pytest.mark.parametrize("budget", [1, "one image", "all but one", "all"])
def test_chunked_columns(case, budget):
    """The column buffer is built chunk by chunk when it exceeds column_budget; the result is the same."""
    n, c, o, hw, k, s, p, d, g, _ = case
    kh, kw = (k, k) if isinstance(k, int) else k
    ho, wo = conv_ops.conv_output_size(hw, k, s, p, d)
    per_image = max(ho * wo * kh * kw * c, hw[0] * hw[1] * kh * kw * o) * 8  # forward columns vs correlation
    sizes = {1: 1, "one image": per_image, "all but one": per_image * (n - 1), "all": per_image * n}
    with kernels.using(column_budget=sizes[budget]):
        check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)
        tcase = (n, c, o, hw, k, s, 1, 0, d, g, True)
        check_op(*_transpose_fns(tcase), _transpose_inputs(tcase, np.float64), rtol=RTOL)


THREAD_CASES = LAYOUT_CASES + [(5, 4, 6, (7, 6), 3, 2, 1, 1, 2, True), (3, 3, 3, (6, 7), 3, 1, 1, 1, 3, True)]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("case", THREAD_CASES, ids=str)
def test_copies_split_over_threads(case, threads):
    """With the batch split over threads (even for tiny work) every path gives the same result."""
    with kernels.using(threads=threads, split_blas_kernels=True, parallel_min=0, piece_min=1):
        check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)
        tcase = case[:6] + (1, 0) + case[7:]
        check_op(*_transpose_fns(tcase), _transpose_inputs(tcase, np.float64), rtol=RTOL)


@pytest.mark.parametrize("keep", ["kept", "one byte too many"])
def test_kept_columns_boundary(keep):
    """Columns up to keep_columns bytes are kept for dW; one byte more and they are rebuilt in backward."""
    case = (2, 3, 4, (6, 6), 3, 1, 1, 1, 1, True)
    x, w, b = _conv_inputs(case, np.float64)
    cols_bytes = 2 * 6 * 6 * 27 * 8
    with kernels.using(keep_columns=cols_bytes if keep == "kept" else cols_bytes - 1):
        g = kernels.ConvGeometry((6, 6), (6, 6), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
        assert kernels.select(g, x.shape, w.shape) == "im2col"
        _, kept = kernels.forward("im2col", x, w, g, keep=True)
        assert (kept is not None) == (keep == "kept")
        assert kernels.forward("im2col", x, w, g, keep=False)[1] is None
        check_op(*_conv_fns(case), [x, w, b], rtol=RTOL)


@pytest.mark.parametrize("transpose", [False, True])
def test_backward_uses_the_algorithm_forward_chose(transpose):
    """Forward picks the algorithm once and stores it; backward uses that choice, whatever the config says
    by then (here it forces 1×1 kernels, which cannot compute a 3×3 layer: re-selecting would raise).
    The default ladder would take im2col for these 4 channels; forward is forced to Winograd, whose kept
    input transform only Winograd's weight gradient can read."""
    case = (2, 4, 5, (6, 7), 3, 1, 1, 0, 1, 1, True) if transpose else (2, 4, 5, (6, 7), 3, 1, 1, 1, 1, True)
    inputs = (_transpose_inputs if transpose else _conv_inputs)(case, np.float64)
    ck_fn, th_fn = (_transpose_fns if transpose else _conv_fns)(case)
    ts = [ck.tensor(a, requires_grad=True) for a in inputs]
    with kernels.using(algorithm="winograd"):
        y = ck_fn(*ts)
    assert y.creator.algorithm == "winograd"
    if not transpose:
        assert y.creator.kept is not None and y.creator.kept.shape[0] == 16     # Winograd's V, kept for dW
    gy = np.random.default_rng(1).standard_normal(y.shape)
    with kernels.using(algorithm="pointwise"):
        y.backward(gy)
    th_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    yt = th_fn(*th_in)
    yt.backward(torch.from_numpy(gy))
    assert_close(y, yt, RTOL, "output")
    for a, b, what in zip(ts, th_in, ["input", "weight", "bias"], strict=False):
        assert_close(a.grad, b.grad, RTOL, f"gradient of {what}")
    with kernels.using(algorithm="pointwise"), pytest.raises(ValueError, match="forced algorithm 'pointwise'"):
        ck_fn(*ts)


@pytest.mark.parametrize("algorithm", ["im2col", "weight_order", "winograd"])
def test_forced_algorithm_equals_torch(algorithm):
    """Any algorithm that can compute a layer may be forced on it, and gives torch's result."""
    with kernels.using(algorithm=algorithm):
        for case in [(2, 4, 5, (6, 7), 3, 1, 1, 1, 1, True), (1, 3, 2, (5, 4), 3, 1, "same", 1, 1, False)]:
            check_op(*_conv_fns(case), _conv_inputs(case, np.float64), rtol=RTOL)
        tcase = (2, 4, 5, (6, 7), 3, 1, 1, 0, 1, 1, True)
        check_op(*_transpose_fns(tcase), _transpose_inputs(tcase, np.float64), rtol=RTOL)


def test_workspace_reuse_and_release():
    a = kernels.workspace((4, 5), np.float32)
    b = kernels.workspace((2, 3), np.float64)
    assert np.shares_memory(a, b)                                # one buffer per slot, reused
    assert not np.shares_memory(a, kernels.workspace((4, 5), np.float32, "pad"))
    assert kernels.workspace((100, 100), np.float32).shape == (100, 100)  # grown on demand
    kernels.release_workspace()
    assert not np.shares_memory(a, kernels.workspace((4, 5), np.float32))
    x, w = _values((2, 3, 6, 6), (4, 3, 3, 3))
    check_op(F.conv2d, TF.conv2d, [x, w], rtol=RTOL)         # and convolutions work after a release


def test_no_grad_keeps_nothing():
    x, w = _values((2, 3, 6, 6), (4, 3, 3, 3))
    with ck.no_grad():
        y = F.conv2d(ck.tensor(x, requires_grad=True), ck.tensor(w, requires_grad=True))
    assert y.creator is None and not y.requires_grad


def test_unbatched_input():
    x, w, b = _values((3, 7, 6), (4, 3, 3, 3), (4,))
    check_op(lambda *a: F.conv2d(*a, padding=1), lambda *a: TF.conv2d(*a, padding=1), [x, w, b], rtol=RTOL)
    wt = _values((3, 2, 3, 3))[0]
    check_op(lambda *a: F.conv_transpose2d(*a, stride=2), lambda *a: TF.conv_transpose2d(*a, stride=2),
             [x, wt], rtol=RTOL)


def test_output_sizes():
    assert conv_ops.conv_output_size((224, 224), 11, 4, 2) == (55, 55)
    assert conv_ops.conv_output_size((28, 27), 5, 1, "same") == (28, 27)
    assert conv_ops.conv_output_size((10, 10), 3, 2, 0, 2) == (3, 3)
    assert conv_ops.conv_transpose_output_size((4, 4), 4, 2, 1) == (8, 8)
    assert conv_ops.conv_transpose_output_size((3, 3), 3, 2, 1, 1) == (6, 6)


def test_float32_stays_float32():
    x, w, b = _values((2, 3, 6, 6), (4, 3, 3, 3), (4,), dtype=np.float32)
    xt, wt, bt = (ck.tensor(a, requires_grad=True) for a in (x, w, b))
    for y in (F.conv2d(xt, wt, bt, padding=1), F.conv2d(xt, wt, bt, stride=2),
              F.conv_transpose2d(xt, ck.tensor(_values((3, 2, 3, 3), dtype=np.float32)[0]), stride=2)):
        assert y.dtype == np.float32
        y.sum().backward()
    assert xt.grad.dtype == wt.grad.dtype == bt.grad.dtype == np.float32


# ----- errors ----------------------------------------------------------------------------------------------------

def _t(*shape, dtype=np.float32):
    return ck.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.conv2d(_t(8, 1, 28, 28), _t(16, 3, 3, 3)), ValueError,
     r"conv2d: expected input with 3 channels .*got shape \(8, 1, 28, 28\)"),
    (lambda: F.conv2d(_t(8, 4, 8, 8), _t(6, 3, 3, 3), groups=2), ValueError,
     r"conv2d: expected input with 6 channels \(weight \(6, 3, 3, 3\), groups=2\), got shape"),
    (lambda: F.conv2d(_t(8, 28, 28), _t(16, 3, 3)), ValueError, r"conv2d: expected a 4-d weight, got shape"),
    (lambda: F.conv2d(_t(28, 28), _t(16, 1, 3, 3)), ValueError,
     r"conv2d: expected a 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got shape \(28, 28\)"),
    (lambda: F.conv2d(_t(1, 1, 1, 28, 28), _t(16, 1, 3, 3)), ValueError, r"conv2d: expected a 3-d .* got shape"),
    (lambda: F.conv2d(_t(1, 3, 4, 4), _t(2, 3, 5, 5)), ValueError,
     r"conv2d: kernel size \(5, 5\) .* larger than the padded input \(4, 4\)"),
    (lambda: F.conv2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3), dilation=2), ValueError,
     r"conv2d: kernel size \(3, 3\) \(dilated: \(5, 5\)\) is larger than the padded input"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=0), ValueError,
     r"conv2d: stride must be positive, got 0$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=(1, -2)), ValueError,
     r"conv2d: stride must be positive, got \(1, -2\)$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), dilation=0), ValueError,
     r"conv2d: dilation must be positive, got 0$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), padding=-1), ValueError,
     r"conv2d: padding must be non-negative, got -1$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=1.5), TypeError,
     r"conv2d: stride must be an int or a tuple of two ints, got 1.5$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), groups=0), ValueError,
     r"conv2d: groups must be positive, got 0$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 1, 3, 3), groups=3), ValueError,
     r"conv2d: expected out_channels \(weight.shape\[0\] = 2\) divisible by groups=3"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), stride=2, padding="same"), ValueError,
     r"conv2d: padding='same' is not supported for strided convolutions \(expected stride 1, got stride \(2, 2\)\)"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), padding="full"), ValueError,
     r"conv2d: padding must be 'valid', 'same', an int or a tuple of two ints, got 'full'$"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3, dtype=np.float64)), TypeError,
     r"conv2d: expected input, weight and bias of one dtype, got input float32, weight float64"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), _t(2, dtype=np.float64)), TypeError,
     r"conv2d: expected input, weight and bias of one dtype, got .*bias float64"),
    (lambda: F.conv2d(ck.tensor(np.zeros((1, 3, 8, 8), np.int64)), _t(2, 3, 3, 3)), TypeError,
     r"conv2d: expected a floating point input, got dtype int64"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(2, 3, 3, 3), _t(3)), ValueError,
     r"conv2d: expected a bias of shape \(2,\), got shape \(3,\)"),
    (lambda: F.conv2d(_t(1, 3, 0, 8), _t(2, 3, 3, 3), padding=1), ValueError,
     r"conv2d: expected an input with positive height and width, got shape \(1, 3, 0, 8\)"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(0, 3, 3, 3)), ValueError,
     r"conv2d: expected a weight with positive sizes, got shape \(0, 3, 3, 3\)"),
    (lambda: F.conv_transpose2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3)), ValueError,
     r"conv_transpose2d: expected input with 3 channels .*got shape \(1, 4, 5, 5\)"),
    (lambda: F.conv_transpose2d(_t(1, 3, 5, 5), _t(3, 2, 3, 3), stride=2, output_padding=2), ValueError,
     r"conv_transpose2d: expected output_padding smaller than stride or dilation, got output_padding=\(2, 2\)"),
    (lambda: F.conv_transpose2d(_t(1, 3, 1, 1), _t(3, 2, 1, 1), padding=1), ValueError,
     r"conv_transpose2d: the output size \(-1, -1\) is not positive"),
    (lambda: F.conv_transpose2d(_t(1, 3, 5, 5), _t(3, 2, 3, 3), padding="same"), ValueError,
     r"conv_transpose2d: padding must be an int or a tuple of two ints, got 'same'$"),
    (lambda: F.conv_transpose2d(_t(1, 3, 5, 5), _t(3, 2, 3, 3), groups=2), ValueError,
     r"conv_transpose2d: expected in_channels \(weight.shape\[0\] = 3\) divisible by groups=2"),
    (lambda: F.table_conv2d(_t(1, 6, 14, 14), _t(59, 5, 5), LENET_TABLE), ValueError,
     r"table_conv2d: expected a weight of shape \(60, kH, kW\) .* got shape \(59, 5, 5\)"),
    (lambda: F.table_conv2d(_t(1, 6, 14, 14), _t(50, 5, 5), LENET_TABLE[:, :5]), ValueError,
     r"table_conv2d: expected input with 5 channels"),
    (lambda: F.table_conv2d(_t(1, 2, 5, 5), _t(1, 3, 3), np.array([[True, False], [False, False]])), ValueError,
     r"table_conv2d: output map\(s\) \[1\] have no input in the connection table"),
    (lambda: F.table_conv2d(_t(1, 2, 5, 5), _t(1, 3, 3), np.ones(2, bool)), ValueError,
     r"table_conv2d: expected a 2-d boolean table .*got shape \(2,\)"),
    (lambda: F.pad(_t(1, 2, 3, 3), (0, 0, 3, 0), "reflect"), ValueError,
     r"pad: reflect padding \(0, 0, 3, 0\) must be smaller than the input size \(3, 3\)"),
    (lambda: F.pad(_t(1, 2, 3, 3), (0, 0, 1, 0), "wrap"), ValueError,
     r"pad: mode must be one of \('constant', 'reflect', 'replicate', 'circular'\), got 'wrap'"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
