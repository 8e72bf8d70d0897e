"""PyTorch as the oracle: run an op (or a layer) in cnnkit and in torch on the same values and compare
the forward result and every gradient.

Each element is judged relative to the reference, with a floor on the scale of the whole tensor (so values
near zero are judged on the scale of the whole tensor):

    |cnnkit - reference| <= rtol · (|reference| + 1e-3 · max|reference|)

float64: the reference is torch in float64 on the same values, rtol = RTOL64 (1e-10 for engine ops; layers
    pass rtol=1e-8).
float32: the reference is again torch in float64, run on the float32 inputs upcast to float64 (and, for the
    backward pass, the same float32 cotangent upcast). Two float32 results are never compared with each other:
    their roundings differ by CPU and BLAS kernel. The bound is the larger of
      - the RTOL32 (1e-4) bound of the formula above, and
      - 2 × torch float32's worst error against the same float64 reference (its worst |torch32 - reference|
        over the tensor, i.e. its worst error relative to the reference scale times that scale),
    so an op whose float32 arithmetic cannot meet 1e-4 (long sums that cancel, Winograd transforms) is held to
    what float32 arithmetic gives, measured on the op itself. cnnkit's float32 results must still be float32.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

import cnnkit as ck

RTOL64 = 1e-10
RTOL32 = 1e-4
FLOAT32_SLACK = 2.0  # cnnkit's float32 error may reach this multiple of torch float32's worst error

TORCH_DTYPES = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64,
                np.dtype("int64"): torch.int64, np.dtype("int32"): torch.int32, np.dtype("bool"): torch.bool,
                np.dtype("uint8"): torch.uint8}


def default_rtol(dtype) -> float:
    return RTOL64 if np.dtype(dtype) == np.float64 else RTOL32


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x._data if isinstance(x, ck.Tensor) else x)


def _error(a: np.ndarray, e: np.ndarray):
    """|a - e| elementwise in float64 (0 where both are nan or the same inf) and the mask of mismatched
    non-finite values (an inf/nan in the reference must be matched exactly)."""
    finite = np.isfinite(e)
    both_nan = np.isnan(a) & np.isnan(e)
    same_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    with np.errstate(invalid="ignore"):
        err = np.where(both_nan | same_inf, 0.0, np.abs(a.astype(np.float64) - e.astype(np.float64)))
    return err, ~finite & ~(both_nan | same_inf)


def _compare(a: np.ndarray, e: np.ndarray, rtol: float, what: str, floor: float = 0.0,
             reference: str = "torch") -> None:
    """|a - e| <= max(rtol · (|e| + 1e-3·max|e| + tiny), floor) elementwise."""
    finite = np.isfinite(e)
    scale = float(np.max(np.abs(e[finite]), initial=0.0))
    tol = np.maximum(rtol * (np.where(finite, np.abs(e), 0) + 1e-3 * scale + np.finfo(e.dtype).tiny), floor)
    err, wrong_nonfinite = _error(a, e)
    bad = ~(err <= tol) | wrong_nonfinite
    if np.any(bad):
        k = np.unravel_index(int(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), -1))), a.shape)
        raise AssertionError(f"{what}: {int(bad.sum())} of {a.size} elements differ from {reference} beyond "
                             f"rtol {rtol}" + (f" (floor {floor:.3g})" if floor else "") +
                             f"; worst at {tuple(int(i) for i in k)}: cnnkit {a[k]!r} vs {reference} "
                             f"{e[k]!r} (|diff| {err[k]:.3g}, allowed {tol[k]:.3g})")


def assert_close(actual, expected, rtol: float, what: str = "value") -> None:
    """|actual - expected| <= rtol * (|expected| + max|expected|·1e-3 + tiny), with matching shape and dtype.
    For two results of the same precision; a float32 result is checked with ``assert_close32``."""
    a, e = _numpy(actual), _numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    if a.dtype.kind == "f" or e.dtype.kind == "f":
        assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != torch's {e.dtype}"
        _compare(a, e, rtol, what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def float32_floor(torch32, reference) -> float:
    """FLOAT32_SLACK × torch float32's worst |error| against the float64 reference (0 if none is finite)."""
    t, e = _numpy(torch32), _numpy(reference)
    err, _ = _error(t, e)
    err = err[np.isfinite(e) & np.isfinite(err)]
    return FLOAT32_SLACK * float(np.max(err, initial=0.0))


def assert_close32(actual, reference, torch32, rtol: float = RTOL32, what: str = "value") -> None:
    """A cnnkit float32 result against torch's float64 ``reference`` (computed on the same float32 values
    upcast), within max(the ``rtol`` bound, 2 × the worst error of torch's own float32 result ``torch32``).
    (``check_op`` passes rtol >= RTOL32; a test may hold an exact op to a tighter rtol.)"""
    a, e, t = _numpy(actual), _numpy(reference), _numpy(torch32)
    assert a.shape == e.shape == t.shape, f"{what}: shape {a.shape} != torch's {t.shape}"
    assert a.dtype == t.dtype, f"{what}: dtype {a.dtype} != torch's {t.dtype}"
    if a.dtype.kind != "f":
        np.testing.assert_array_equal(a, t, err_msg=what)
        return
    assert e.dtype == np.float64, f"{what}: the reference must be float64, got {e.dtype}"
    _compare(a, e, rtol, what, float32_floor(t, e), reference="torch float64")


def to_torch(x, requires_grad=False, dtype=None):
    arr = x.data if isinstance(x, ck.Tensor) else np.asarray(x)
    t = torch.from_numpy(np.array(arr, dtype=dtype, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _flat(out):
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _upcast(x):
    """A float32 array as float64 (the float64 reference runs on the same values); anything else as it is."""
    return x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype == np.float32 else x


def _torch_run(torch_fn, inputs, grad, upcast: bool):
    th_in = [to_torch(_upcast(x) if upcast else x, requires_grad=(i in grad)) if isinstance(x, np.ndarray) else x
             for i, x in enumerate(inputs)]
    return th_in, _flat(torch_fn(*th_in))


def _rtol(dtype, rtol):
    return default_rtol(dtype) if rtol is None else (rtol if dtype == np.float64 else max(rtol, RTOL32))


def _check(ck_fn, torch_fn, torch_fn64, inputs, *, grad, rtol, seed, check_backward, what):
    """``check_op``'s body; ``torch_fn64`` is the float64 reference (used when the inputs are float32).
    Returns the cnnkit inputs and outputs and the torch runs: [(inputs, outputs), reference run or None]."""
    arrays = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray)]
    if grad is None:
        grad = [i for i in arrays if inputs[i].dtype.kind == "f"]
    dtype = next((inputs[i].dtype for i in arrays if inputs[i].dtype.kind == "f"), np.dtype("float64"))
    single = dtype == np.float32
    tol = _rtol(dtype, rtol)
    ck_in = [ck.tensor(x, requires_grad=(i in grad)) if isinstance(x, np.ndarray) else x
             for i, x in enumerate(inputs)]
    ck_out = _flat(ck_fn(*ck_in))
    th_in, th_out = _torch_run(torch_fn, inputs, grad, upcast=False)
    assert len(ck_out) == len(th_out), f"{what}: {len(ck_out)} outputs vs torch's {len(th_out)}"
    ref_in, ref_out = _torch_run(torch_fn64, inputs, grad, upcast=True) if single else (None, None)

    for k, (a, e) in enumerate(zip(ck_out, th_out)):
        if single:
            assert_close32(a, ref_out[k], e, tol, f"{what}: output {k}")
        else:
            assert_close(a, e, tol, f"{what}: output {k}")
    runs = [(th_in, th_out), (ref_in, ref_out) if single else None]
    if not check_backward or not grad:
        return ck_in, ck_out, runs
    rng = np.random.default_rng(seed)
    parts = []
    for k, a in enumerate(ck_out):
        if isinstance(a, ck.Tensor) and a.dtype.kind == "f" and a.requires_grad:
            parts.append((k, rng.standard_normal(a.shape).astype(a.dtype)))
    assert parts, f"{what}: no differentiable output"
    for k, v in parts:
        ck_out[k].backward(v, retain_graph=True)
    torch.autograd.backward([th_out[k] for k, _ in parts], [torch.from_numpy(v) for _, v in parts])
    if single:
        torch.autograd.backward([ref_out[k] for k, _ in parts],
                                [torch.from_numpy(v.astype(np.float64)) for _, v in parts])
    for i in grad:
        g_ck, g_th = ck_in[i].grad, th_in[i].grad
        if g_th is None:
            g_th = torch.zeros_like(th_in[i])
        assert g_ck is not None, f"{what}: input {i} got no gradient (torch's is {g_th})"
        if single:
            g_ref = ref_in[i].grad if ref_in[i].grad is not None else torch.zeros_like(ref_in[i])
            assert_close32(g_ck, g_ref, g_th, tol, f"{what}: gradient of input {i}")
        else:
            assert_close(g_ck, g_th, tol, f"{what}: gradient of input {i}")
    return ck_in, ck_out, runs


def check_op(ck_fn, torch_fn, inputs, *, grad=None, rtol=None, seed=0, check_backward=True, what="op"):
    """Compare ``ck_fn(*tensors)`` with ``torch_fn(*tensors)`` forward and backward.

    ``inputs``: arrays (their dtypes are used as given) or non-array constants passed through unchanged.
    ``grad``: indices of the inputs to differentiate (default: every floating-point array).
    The backward pass uses the same random cotangent for every floating output in both frameworks.
    float32 inputs are checked against ``torch_fn`` run in float64 on the same values (see the module
    docstring for the bound). Returns the cnnkit outputs.
    """
    return _check(ck_fn, torch_fn, torch_fn, inputs, grad=grad, rtol=rtol, seed=seed,
                  check_backward=check_backward, what=what)[1]


def check_module(ck_module, torch_module, inputs, *, rtol=None, seed=0, what=None, train=True):
    """Copy the cnnkit module's parameters and buffers into ``torch_module`` by name, then compare the
    forward output, the input gradients, every parameter gradient and (after the call) every buffer.
    With float32 inputs, a float64 copy of ``torch_module`` is the reference (see the module docstring)."""
    what = what or repr(ck_module)
    ck_module.train(train)
    torch_module.train(train)
    state = {k: torch.from_numpy(np.array(v._data if isinstance(v, ck.Tensor) else v, copy=True))
             for k, v in ck_module.state_dict().items()}
    torch_module.load_state_dict(state, strict=True)
    reference = copy.deepcopy(torch_module).double()  # float32 parameters and buffers upcast exactly
    _, _, (_, ref_run) = _check(lambda *xs: ck_module(*xs), lambda *xs: torch_module(*xs),
                                lambda *xs: reference(*xs), list(inputs), grad=None, rtol=rtol, seed=seed,
                                check_backward=True, what=what)
    single = ref_run is not None
    dtype = next((x.dtype for x in inputs if isinstance(x, np.ndarray) and x.dtype.kind == "f"),
                 np.dtype("float64"))
    tol = _rtol(dtype, rtol)
    th_params = dict(torch_module.named_parameters())
    ref_params = dict(reference.named_parameters())
    for name, p in ck_module.named_parameters():
        tp = th_params[name]
        if tp.grad is None:
            assert p.grad is None or not np.any(p.grad.data), f"{what}: {name} has a gradient, torch's has none"
            continue
        assert p.grad is not None, f"{what}: parameter {name} got no gradient"
        if single:
            assert_close32(p.grad, ref_params[name].grad, tp.grad, tol, f"{what}: gradient of {name}")
        else:
            assert_close(p.grad, tp.grad, tol, f"{what}: gradient of {name}")
    th_buffers = dict(torch_module.named_buffers())
    ref_buffers = dict(reference.named_buffers())
    for name, b in ck_module.named_buffers():
        if single and th_buffers[name].dtype == torch.float32:
            assert_close32(b, ref_buffers[name], th_buffers[name], tol, f"{what}: buffer {name}")
        else:
            assert_close(b, th_buffers[name], tol, f"{what}: buffer {name}")
