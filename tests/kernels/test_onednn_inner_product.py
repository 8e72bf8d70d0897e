"""oneDNN's inner product behind F.linear / nn.Linear: parity with PyTorch of the forward pass and every gradient on
both backends (float32 against a torch float64 reference, tests/oracle.py's rules), the execution counter proving
which backend ran, and the fallbacks (switch off, float64, below the size threshold)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.kernels import onednn as backend
from cnnkit.kernels.onednn import inner_product
from tests.oracle import check_module, check_op

needs_onednn = pytest.mark.skipif(not backend.available(),
                                  reason=f"oneDNN library not loaded: {backend.load_error()}")
BACKENDS = ["numpy", pytest.param("onednn", marks=needs_onednn)]

# (input shape, out_features, bias)
CASES = [
    ((4, 7), 5, True),
    ((4, 7), 5, False),
    ((1, 3), 1, True),                 # one sample, one output
    ((64, 400), 120, True),            # LeNet-5 F5
    ((64, 84), 10, True),              # LeNet-5's output layer
    ((2, 3, 6), 4, True),              # leading dims flattened
    ((2, 1, 3, 6), 4, False),
    ((9,), 3, True),                   # a 1-d input
    ((16, 300), 130, True),
]


@pytest.fixture(params=BACKENDS)
def on(request):
    """Runs the test with the backend switched to ``request.param`` and no size threshold; yields the name."""
    with ck.backends.onednn.flags(enabled=request.param == "onednn"), kernels.using(onednn_linear_min=0):
        yield request.param


def _inputs(shape, out, bias, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape), rng.standard_normal((out, shape[-1]))]
    if bias:
        arrays.append(rng.standard_normal(out))
    return [a.astype(dtype) for a in arrays]


def _ran(fn) -> int:
    before = ck.backends.onednn.executions()
    fn()
    return ck.backends.onednn.executions() - before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_linear_float32_parity(on, case):
    shape, out, bias = case
    ran = _ran(lambda: check_op(F.linear, TF.linear, _inputs(shape, out, bias), what=f"linear{case} {on}"))
    assert ran == (3 if on == "onednn" else 0)          # forward, input gradient, weight (+ bias) gradient


@pytest.mark.parametrize("grad", [[0], [1], [2], [1, 2], [0, 2]], ids=str)
def test_linear_gradient_subsets(on, grad):
    """Only the gradients asked for are computed (the bias gradient alone is a sum, not a primitive)."""
    ran = _ran(lambda: check_op(F.linear, TF.linear, _inputs((6, 5), 4, True), grad=grad, what=f"linear grad {grad}"))
    if on == "numpy":
        assert ran == 0
    else:
        assert ran == 1 + (0 in grad) + (1 in grad)


def test_linear_noncontiguous_input(on):
    x, w, b = _inputs((7, 5), 3, True)
    xt = np.ascontiguousarray(x.T).T            # (5, 7) memory viewed (7, 5): column-major
    check_op(F.linear, TF.linear, [xt, w, b], what=f"linear column-major input {on}")
    check_op(lambda x, w, b: F.linear(x, w.t(), b), lambda x, w, b: TF.linear(x, w.t(), b),
             [x, np.ascontiguousarray(w.T), b], what=f"linear transposed weight {on}")


@settings(max_examples=20, deadline=None)
@given(lead=st.lists(st.integers(1, 5), min_size=0, max_size=3), k=st.integers(1, 40), m=st.integers(1, 40),
       bias=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_linear_hypothesis_on_onednn(lead, k, m, bias, seed):
    if not backend.available():
        pytest.skip(f"oneDNN library not loaded: {backend.load_error()}")
    with kernels.using(onednn_linear_min=0):
        ran = _ran(lambda: check_op(F.linear, TF.linear, _inputs(tuple(lead) + (k,), m, bias, seed=seed),
                                    what=f"linear {lead} {k}->{m}"))
    assert ran == 3


@needs_onednn
def test_linear_module_on_onednn():
    """nn.Linear (its parameters' gradients too) through the module oracle, on oneDNN."""
    ck.manual_seed(0)
    layer = ck.nn.Linear(30, 20)
    x = np.random.default_rng(1).standard_normal((8, 30)).astype(np.float32)
    with kernels.using(onednn_linear_min=0):
        assert _ran(lambda: check_module(layer, torch.nn.Linear(30, 20), [x])) == 3


@needs_onednn
def test_fallbacks_run_no_primitive():
    x, w, b = _inputs((8, 16), 8, True)
    with kernels.using(onednn_linear_min=0):
        with ck.backends.onednn.flags(enabled=False):            # the switch
            assert _ran(lambda: check_op(F.linear, TF.linear, [x, w, b], what="linear switched off")) == 0
        x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))   # float64: oneDNN has no f64 inner product
        assert _ran(lambda: check_op(F.linear, TF.linear, [x64, w64, b64], rtol=1e-10, what="linear f64")) == 0
        zero = np.zeros((0, 16), np.float32)                      # an empty batch
        assert _ran(lambda: check_op(F.linear, TF.linear, [zero, w, b], what="linear empty batch")) == 0
    with kernels.using(onednn_linear_min=8 * 16 * 8 + 1):         # below the threshold: NumPy's GEMM
        assert _ran(lambda: check_op(F.linear, TF.linear, [x, w, b], what="linear below threshold")) == 0
    with kernels.using(onednn_linear_min=8 * 16 * 8):             # at it: oneDNN
        assert _ran(lambda: check_op(F.linear, TF.linear, [x, w, b], what="linear at threshold")) == 3


@needs_onednn
def test_supports_and_default_threshold():
    assert inner_product.supports(64, 1024, 1024, np.float32)
    assert not inner_product.supports(64, 1024, 1024, np.float64)
    assert not inner_product.supports(0, 1024, 1024, np.float32)
    assert inner_product.supports(64, 84, 10, np.float32)           # LeNet-5's output layer: every size by default
    with kernels.using(onednn_linear_min=1 << 24):
        assert not inner_product.supports(64, 84, 10, np.float32)


@needs_onednn
def test_kernels_against_float64():
    """The kernel functions on raw arrays: y, dx, dW, db against float64 NumPy."""
    rng = np.random.default_rng(3)
    x, w, b, gy = (rng.standard_normal(s).astype(np.float32) for s in ((33, 70), (21, 70), (21,), (33, 21)))
    x64, w64, gy64 = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
    y = x64 @ w64.T + b.astype(np.float64)
    for got, want in [(inner_product.forward(x, w, b), y), (inner_product.forward(x, w), x64 @ w64.T),
                      (inner_product.grad_input(gy, w), gy64 @ w64), (inner_product.grad_weight(x, gy)[0], gy64.T @ x64),
                      (inner_product.grad_weight(x, gy, True)[1], gy64.sum(0))]:
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert inner_product.grad_weight(x, gy)[1] is None


@needs_onednn
def test_primitives_are_cached_per_shape():
    x, w, b = (ck.tensor(a) for a in _inputs((8, 16), 8, True))
    with kernels.using(onednn_linear_min=0):
        F.linear(x, w, b)
        cached = backend.cache.size()
        F.linear(x, w, b)
        assert backend.cache.size() == cached
        F.linear(x[:3], w, b)                                   # another batch: another primitive
        assert backend.cache.size() == cached + 1
