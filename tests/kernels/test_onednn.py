"""The optional oneDNN backend (cnnkit[onednn]): the library's version, the switch, the dispatcher's choice, and
parity with PyTorch of convolution forward and both gradients on both backends (float32 against a torch float64
reference, tests/oracle.py's rules), with the primitive-execution counter proving which backend ran."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import kernels
from cnnkit.kernels import ConvGeometry
from cnnkit.kernels import onednn as backend
from tests.oracle import check_op

needs_onednn = pytest.mark.skipif(not backend.available(),
                                  reason=f"oneDNN library not loaded: {backend.load_error()}")
BACKENDS = ["numpy", pytest.param("onednn", marks=needs_onednn)]

# (N, C, O, (H, W), kernel, stride, padding, dilation, groups, bias)
CASES = [
    (2, 8, 8, (9, 9), 3, 1, 1, 1, 1, True),          # 3×3 same
    (1, 1, 6, (12, 12), 5, 1, 2, 1, 1, True),        # LeNet C1 (one input channel, NCHW input)
    (3, 6, 16, (14, 14), 5, 1, 0, 1, 1, False),      # LeNet C3
    (2, 3, 8, (35, 35), 11, 4, 2, 1, 1, True),       # AlexNet conv1, small
    (2, 4, 8, (9, 9), 5, 1, 2, 1, 2, True),          # two groups
    (2, 8, 4, (7, 7), 1, 2, 0, 1, 1, True),          # 1×1 stride 2
    (2, 8, 8, (6, 7), 3, 1, 1, 1, 8, True),          # depthwise
    (2, 4, 8, (6, 7), 3, 1, 1, 1, 4, False),         # depthwise, channel multiplier 2
    (2, 6, 9, (9, 8), 3, (2, 1), (1, 2), (2, 1), 3, True),   # strided, dilated, grouped, asymmetric
    (1, 5, 3, (3, 3), 3, 1, "same", 3, 1, True),     # dilated kernel larger than the input
    (2, 4, 4, (8, 8), (4, 2), 1, "same", 1, 2, True),  # even kernel: asymmetric padding
    (2, 2, 3, (4, 4), 3, 1, 4, 1, 1, True),          # padding larger than the kernel
    (4, 16, 120, (5, 5), 5, 1, 0, 1, 1, True),       # LeNet C5: oneDNN's dx is reference-only -> NumPy's
]


@pytest.fixture(params=BACKENDS)
def on(request):
    """Runs the test with the backend switched to ``request.param``; yields that name."""
    with ck.backends.onednn.flags(enabled=request.param == "onednn"):
        yield request.param


def _inputs(case, dtype=np.float32):
    n, c, o, hw, k, s, p, d, g, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    shapes = [(n, c) + tuple(hw), (o, c // g, kh, kw)] + ([(o,)] if bias else [])
    return [rng.standard_normal(sh).astype(dtype) for sh in shapes]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_conv2d_float32_parity(on, case):
    _, _, _, _, _, s, p, d, g, _ = case
    before = ck.backends.onednn.executions()
    out = check_op(lambda x, w, b=None: F.conv2d(x, w, b, s, p, d, g),
                   lambda x, w, b=None: TF.conv2d(x, w, b, s, p, d, g), _inputs(case), what=f"conv2d{case} {on}")
    assert out[0].dtype == np.float32
    ran = ck.backends.onednn.executions() - before
    if on == "onednn":
        assert ran >= 3           # forward, input gradient, weight gradient (plus weight reorders)
    else:
        assert ran == 0


@pytest.mark.parametrize("case", [(2, 4, 6, (4, 5), 3, 2, 1, 1, 1, 2, True), (2, 4, 4, (4, 4), 4, 2, 1, 0, 1, 1, True),
                                  (1, 4, 3, (3, 3), 3, 2, 1, 1, 1, 1, False)], ids=str)
def test_conv_transpose2d_float32_parity(on, case):
    n, c, o, hw, k, s, p, op, d, g, bias = case
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal(sh).astype(np.float32)
              for sh in [(n, c) + hw, (c, o // g, k, k)] + ([(o,)] if bias else [])]
    before = ck.backends.onednn.executions()
    check_op(lambda x, w, b=None: F.conv_transpose2d(x, w, b, s, p, op, g, d),
             lambda x, w, b=None: TF.conv_transpose2d(x, w, b, s, p, op, g, d), inputs, what=f"conv_t{case} {on}")
    assert (ck.backends.onednn.executions() > before) == (on == "onednn")


@needs_onednn
def test_version_is_the_pinned_one():
    """The extra pins onednn-cpu-gomp 2023.2.0, oneDNN v3.2: dnnl_version() must say so (our C declarations
    are written for that API)."""
    assert ck.backends.onednn.version()[:2] == (3, 2)
    assert backend.version() == ck.backends.onednn.version()


@needs_onednn
def test_float64_runs_on_numpy():
    """oneDNN has no float64 convolution: the dispatcher keeps float64 on the NumPy kernels."""
    before = ck.backends.onednn.executions()
    check_op(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
             _inputs((2, 4, 4, (6, 6), 3, 1, 1, 1, 1, False), np.float64), rtol=1e-8, what="conv2d f64")
    assert ck.backends.onednn.executions() == before


@needs_onednn
def test_select_picks_onednn_only_when_switched_on():
    g = ConvGeometry((8, 8), (8, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
    assert kernels.select(g, (2, 4, 8, 8), (4, 4, 3, 3), np.float32) == "onednn"
    assert kernels.select(g, (2, 4, 8, 8), (4, 4, 3, 3), np.float64) == "im2col"
    assert kernels.select(g, (2, 4, 8, 8), (4, 4, 3, 3)) == "im2col"          # no dtype: the NumPy ladder
    with kernels.using(algorithm="winograd"):                                  # forcing an algorithm wins
        assert kernels.select(g, (2, 4, 8, 8), (4, 4, 3, 3), np.float32) == "winograd"
    with ck.backends.onednn.flags(enabled=False):
        assert kernels.select(g, (2, 4, 8, 8), (4, 4, 3, 3), np.float32) == "im2col"
        assert not ck.backends.onednn.enabled
    assert ck.backends.onednn.enabled
    ck.backends.onednn.enabled = False
    try:
        assert kernels.select(g, (2, 4, 8, 8), (4, 4, 3, 3), np.float32) == "im2col"
        assert ck.backends.onednn.backend_name() == "numpy (oneDNN: switched off)"
    finally:
        ck.backends.onednn.enabled = True
    assert ck.backends.onednn.backend_name().startswith("onednn 3.2.")


def test_enabled_must_be_a_bool():
    with pytest.raises(TypeError, match="backends.onednn.enabled: expected a bool, got 1"):
        ck.backends.onednn.enabled = 1


def test_environment_switch_keeps_the_library_unloaded():
    code = ("import cnnkit as ck; from cnnkit.kernels import onednn as b; "
            "print(ck.backends.onednn.is_available(), b.enabled(), ck.backends.onednn.backend_name())")
    env = dict(os.environ, CNNKIT_ONEDNN="0", PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False numpy (oneDNN: switched off by CNNKIT_ONEDNN=0)"


@needs_onednn
def test_primitives_are_cached_per_shape():
    x, w = _inputs((2, 8, 8, (9, 9), 3, 1, 1, 1, 1, False))
    backend.cache.clear()
    F.conv2d(ck.tensor(x), ck.tensor(w), padding=1)
    cached = backend.cache.size()
    F.conv2d(ck.tensor(x), ck.tensor(w), padding=1)
    assert backend.cache.size() == cached >= 1
    F.conv2d(ck.tensor(x[:1]), ck.tensor(w), padding=1)                      # another batch: another primitive
    assert backend.cache.size() > cached


def test_train_command_names_the_backend():
    from cnnkit.cli.train import backend_line

    model = ck.nn.Conv2d(1, 2, 3)
    assert backend_line(model) == f"backend: convolutions on {ck.backends.onednn.backend_name()}"
    with ck.backends.onednn.flags(enabled=False):
        assert backend_line(model).startswith("backend: convolutions on numpy (oneDNN: ")
    if backend.available():
        assert backend_line(model).startswith("backend: convolutions on onednn 3.2.")
        assert backend_line(model.double()) == "backend: convolutions on numpy (oneDNN runs float32 only)"


@needs_onednn
def test_thread_count_follows_cnnkit_and_is_restored():
    """oneDNN runs on kernels.config().threads, set with OpenMP's per-thread call and restored afterwards."""
    omp = backend.library.openmp()
    before = omp.omp_get_max_threads()
    seen = []
    with backend.library.threads(before + 1):
        seen.append(omp.omp_get_max_threads())
    assert seen == [before + 1] and omp.omp_get_max_threads() == before
    x, w = _inputs((2, 8, 8, (9, 9), 3, 1, 1, 1, 1, False))
    with kernels.using(threads=1):
        y = F.conv2d(ck.tensor(x), ck.tensor(w), padding=1)
    assert omp.omp_get_max_threads() == before
    check_op(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), [x, w],
             check_backward=False, what="conv2d on one thread")
    assert y.shape == (2, 8, 9, 9)


@needs_onednn
def test_two_threads_share_the_primitives():
    """Each run gets its own scratchpad and stream, so two threads may run the same primitive at once."""
    import threading

    x, w = _inputs((4, 16, 16, (12, 12), 3, 1, 1, 1, 1, False))
    expected = F.conv2d(ck.tensor(x), ck.tensor(w), padding=1)._data.copy()
    results, errors = [], []

    def work():
        try:
            for _ in range(10):
                results.append(F.conv2d(ck.tensor(x), ck.tensor(w), padding=1)._data.copy())
        except Exception as e:          # reported below; a thread's exception would otherwise be lost
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 20
    for r in results:
        np.testing.assert_array_equal(r, expected)


@needs_onednn
def test_a_reference_only_input_gradient_runs_on_the_numpy_kernels():
    """LeNet-5's C5 (16 -> 120 channels, 5x5 onto 1x1): oneDNN v3.2 offers only its reference implementation
    for the input gradient, ~100x slower than the NumPy kernels, so the layer's forward and weight gradient run
    on oneDNN (2 executions) and dx on the NumPy ladder; the values are checked by the parity grid above."""
    g = ConvGeometry((5, 5), (1, 1), (5, 5), (1, 1), (1, 1), (0, 0, 0, 0), 1)
    if backend.conv.grad_input_primitive(g, (4, 16, 5, 5), (4, 120, 1, 1), (120, 16, 5, 5)) is not None:
        pytest.skip("this CPU's oneDNN has a non-reference input gradient for LeNet-5's C5")
    x = ck.tensor(np.random.default_rng(0).standard_normal((4, 16, 5, 5)).astype(np.float32), requires_grad=True)
    w = ck.tensor(np.random.default_rng(1).standard_normal((120, 16, 5, 5)).astype(np.float32), requires_grad=True)
    before = backend.executions()
    F.conv2d(x, w).sum().backward()
    assert backend.executions() - before == 2 and x.grad is not None


@needs_onednn
def test_size_one_dims_are_described_channels_last():
    """A C-contiguous (N, C, 1, 1) gradient is the same memory as a channels-last one; described with its own
    C-order strides it matched no channels-last format and LeNet-5's C5 got oneDNN's reference input gradient.
    Described canonically, no primitive of a LeNet-5 training step is a reference implementation."""
    from cnnkit import models
    a = np.zeros((4, 120, 1, 1), np.float32)
    assert backend.memory.element_strides(a) == (120, 1, 120, 120)
    model = models.get("lenet5")
    backend.cache.clear()
    x = ck.tensor(np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32))
    ck.nn.functional.cross_entropy(model(x), ck.tensor(np.arange(8) % 10)).backward()
    impls = [p.implementation() for p in backend.cache._cache.values() if p is not None]
    assert impls and not [i for i in impls if i.startswith("ref")], impls


def _channels_last(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@needs_onednn
@pytest.mark.parametrize("x_last,gy_last", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("case", [(2, 6, 4, (5, 7), 1, 0, True), (2, 6, 4, (5, 7), 3, 1, True),
                                  (3, 5, 8, (4, 4), 1, 0, False)], ids=str)
def test_memory_layouts_on_onednn(case, x_last, gy_last):
    """Every layout of x and dL/dy, float32 on oneDNN against torch float64: a 1×1 layer of an NCHW input runs on
    its NCHW memory (a C-contiguous output, no NHWC copies), any other layer channels-last; the bias is added and
    its gradient summed by the primitives."""
    from tests.oracle import assert_close32
    n, c, o, hw, k, p, bias = case
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(n, c) + hw, (o, c, k, k)] + [(o,)] * bias]
    x = _channels_last(arrays[0]) if x_last else arrays[0]
    tensors = [ck.from_numpy(x).requires_grad_()] + [ck.tensor(a, requires_grad=True) for a in arrays[1:]]
    with ck.backends.onednn.flags(enabled=True):
        before = backend.executions()
        y = F.conv2d(*tensors, padding=p)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(ck.from_numpy(_channels_last(gy) if gy_last else gy))
        assert backend.executions() - before >= 3
    assert kernels.is_channels_last(y._data) != (k == 1 and not x_last)
    results = {}
    for dtype in (torch.float32, torch.float64):
        th = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
        yt = TF.conv2d(*th, padding=p)
        yt.backward(torch.from_numpy(gy).to(dtype))
        results[dtype] = [yt] + [t.grad for t in th]
    for what, mine, ref, t32 in zip(["output", "input gradient", "weight gradient", "bias gradient"],
                                    [y] + [t.grad for t in tensors], results[torch.float64], results[torch.float32]):
        assert_close32(mine, ref, t32, what=f"{what} {case} x_last={x_last} gy_last={gy_last}")


@needs_onednn
@pytest.mark.parametrize("case", [(8, 6, 16, 14, 5, 0, 1), (2, 32, 32, 12, 3, 1, 32)], ids=["lenet-c3", "depthwise"])
def test_direct_jit_implementation_preferred_to_brgemm_for_depthwise_only(case):
    """A depthwise layer takes oneDNN's direct JIT implementation (jit_dw) where its first choice is a BRGEMM one;
    other layers keep oneDNN's first choice (the JIT input gradient cost float32 accuracy: kernels/onednn/conv.py's
    ``_preferred``)."""
    n, c, o, hw, k, p, groups = case
    rng = np.random.default_rng(0)
    x = ck.tensor(rng.standard_normal((n, c, hw, hw)).astype(np.float32), requires_grad=True)
    w = ck.tensor(rng.standard_normal((o, c // groups, k, k)).astype(np.float32), requires_grad=True)
    backend.cache.clear()
    with ck.backends.onednn.flags(enabled=True):
        F.conv2d(x, w, padding=p, groups=groups).sum().backward()
    impls = {key[0]: v.implementation() for key, v in backend.cache._cache.items() if key[0].startswith("conv_") and v}
    if not any(i.endswith((":avx512_core", ":avx2")) for i in impls.values()):
        pytest.skip(f"no AVX2/AVX-512 implementations on this CPU: {impls}")
    assert len(impls) == 3, impls
    if groups > 1:
        assert all(i.startswith("jit_dw:") for i in impls.values()), impls
    else:       # oneDNN's first choices on AVX2 and AVX-512 CPUs for this layer: BRGEMM, kept
        assert impls["conv_fwd"].startswith("brgconv:") and impls["conv_bwd_data"].startswith("brg"), impls


@needs_onednn
def test_large_nchw_arrays_are_copied_to_nhwc_by_a_reorder():
    """An NCHW input and dL/dy of at least ``REORDER_MIN`` elements reach NHWC through a oneDNN reorder (on the
    configured threads); the values against torch float64 prove the copies are exact in layout."""
    from tests.oracle import assert_close32
    assert 2 * 3 * 300 * 300 >= backend.conv.REORDER_MIN
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(2, 3, 300, 300), (4, 3, 3, 3), (4,)])
    tensors = [ck.tensor(a, requires_grad=True) for a in (x, w, b)]
    backend.cache.clear()
    with ck.backends.onednn.flags(enabled=True):
        y = F.conv2d(*tensors, padding=1)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(ck.tensor(gy))
    copies = sorted(key[1] for key in backend.cache._cache if key[0] == "conv_nhwc_copy")
    assert copies == [x.shape, gy.shape], copies
    results = {}
    for dtype in (torch.float32, torch.float64):
        th = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b)]
        yt = TF.conv2d(*th, padding=1)
        yt.backward(torch.from_numpy(gy).to(dtype))
        results[dtype] = [yt] + [t.grad for t in th]
    for what, mine, ref, t32 in zip(["output", "input gradient", "weight gradient", "bias gradient"],
                                    [y] + [t.grad for t in tensors], results[torch.float64], results[torch.float32]):
        assert_close32(mine, ref, t32, what=what)
