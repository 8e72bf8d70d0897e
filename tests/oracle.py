"""PyTorch as the oracle: run an op (or a layer) in cnnkit and in torch on the same values and compare
the forward result and every gradient.

Tolerances (relative to the largest magnitude of the reference, so values near zero are judged on the
scale of the whole tensor):
  float64: RTOL64 (1e-10 for engine ops; layers pass rtol=1e-8)
  float32: RTOL32 (1e-4)
"""
from __future__ import annotations

import numpy as np
import torch

import cnnkit as ck

RTOL64 = 1e-10
RTOL32 = 1e-4

TORCH_DTYPES = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64,
                np.dtype("int64"): torch.int64, np.dtype("int32"): torch.int32, np.dtype("bool"): torch.bool,
                np.dtype("uint8"): torch.uint8}


def default_rtol(dtype) -> float:
    return RTOL64 if np.dtype(dtype) == np.float64 else RTOL32


def assert_close(actual, expected, rtol: float, what: str = "value") -> None:
    """|actual - expected| <= rtol * (|expected| + max|expected|·1e-3 + tiny), with matching shape and dtype."""
    a = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(
        actual.data if isinstance(actual, ck.Tensor) else actual)
    e = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(
        expected.data if isinstance(expected, ck.Tensor) else expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    if a.dtype.kind == "f" or e.dtype.kind == "f":
        assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != torch's {e.dtype}"
        finite = np.isfinite(e)
        scale = float(np.max(np.abs(e[finite]), initial=0.0))
        tol = rtol * (np.where(finite, np.abs(e), 0) + 1e-3 * scale + np.finfo(e.dtype).tiny)
        both_nan = np.isnan(a) & np.isnan(e)
        same_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
        with np.errstate(invalid="ignore"):
            err = np.where(both_nan | same_inf, 0.0, np.abs(a.astype(np.float64) - e.astype(np.float64)))
        bad = ~(err <= tol) | (~finite & ~(both_nan | same_inf))  # inf/nan in torch's result must match exactly
        if np.any(bad):
            k = np.unravel_index(int(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), -1))), a.shape)
            raise AssertionError(f"{what}: {int(bad.sum())} of {a.size} elements differ from torch beyond "
                                 f"rtol {rtol}; worst at {tuple(int(i) for i in k)}: cnnkit {a[k]!r} vs torch "
                                 f"{e[k]!r} (|diff| {err[k]:.3g}, allowed {tol[k]:.3g})")
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def to_torch(x, requires_grad=False):
    arr = x.data if isinstance(x, ck.Tensor) else np.asarray(x)
    t = torch.from_numpy(np.array(arr, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _flat(out):
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def check_op(ck_fn, torch_fn, inputs, *, grad=None, rtol=None, seed=0, check_backward=True, what="op"):
    """Compare ``ck_fn(*tensors)`` with ``torch_fn(*tensors)`` forward and backward.

    ``inputs``: arrays (their dtypes are used as given) or non-array constants passed through unchanged.
    ``grad``: indices of the inputs to differentiate (default: every floating-point array).
    The backward pass uses the same random cotangent for every floating output in both frameworks.
    Returns the cnnkit outputs.
    """
    arrays = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray)]
    if grad is None:
        grad = [i for i in arrays if inputs[i].dtype.kind == "f"]
    ck_in = [ck.tensor(x, requires_grad=(i in grad)) if isinstance(x, np.ndarray) else x
             for i, x in enumerate(inputs)]
    th_in = [to_torch(x, requires_grad=(i in grad)) if isinstance(x, np.ndarray) else x
             for i, x in enumerate(inputs)]
    ck_out = _flat(ck_fn(*ck_in))
    th_out = _flat(torch_fn(*th_in))
    assert len(ck_out) == len(th_out), f"{what}: {len(ck_out)} outputs vs torch's {len(th_out)}"
    dtype = next((inputs[i].dtype for i in arrays if inputs[i].dtype.kind == "f"), np.dtype("float64"))
    tol = default_rtol(dtype) if rtol is None else (rtol if dtype == np.float64 else max(rtol, RTOL32))
    for k, (a, e) in enumerate(zip(ck_out, th_out)):
        assert_close(a, e, tol, f"{what}: output {k}")
    if not check_backward or not grad:
        return ck_out
    rng = np.random.default_rng(seed)
    ck_loss_parts, th_loss_parts = [], []
    for a, e in zip(ck_out, th_out):
        if isinstance(a, ck.Tensor) and a.dtype.kind == "f" and a.requires_grad:
            v = rng.standard_normal(a.shape).astype(a.dtype)
            ck_loss_parts.append((a, v))
            th_loss_parts.append((e, v))
    assert ck_loss_parts, f"{what}: no differentiable output"
    for a, v in ck_loss_parts:
        a.backward(v, retain_graph=True)
    torch.autograd.backward([e for e, _ in th_loss_parts], [torch.from_numpy(v) for _, v in th_loss_parts])
    for i in grad:
        g_ck, g_th = ck_in[i].grad, th_in[i].grad
        if g_th is None:
            g_th = torch.zeros_like(th_in[i])
        assert g_ck is not None, f"{what}: input {i} got no gradient (torch's is {g_th})"
        assert_close(g_ck, g_th, tol, f"{what}: gradient of input {i}")
    return ck_out


def check_module(ck_module, torch_module, inputs, *, rtol=None, seed=0, what=None, train=True):
    """Copy the cnnkit module's parameters and buffers into ``torch_module`` by name, then compare the
    forward output, the input gradients, every parameter gradient and (after the call) every buffer."""
    what = what or repr(ck_module)
    ck_module.train(train)
    torch_module.train(train)
    state = {k: torch.from_numpy(np.array(v.data if isinstance(v, ck.Tensor) else v, copy=True))
             for k, v in ck_module.state_dict().items()}
    torch_module.load_state_dict(state, strict=True)
    inputs = [x if isinstance(x, (list, tuple)) else x for x in inputs]
    check_op(lambda *xs: ck_module(*xs), lambda *xs: torch_module(*xs), inputs, rtol=rtol, seed=seed, what=what)
    dtype = next((x.dtype for x in inputs if isinstance(x, np.ndarray) and x.dtype.kind == "f"),
                 np.dtype("float64"))
    tol = default_rtol(dtype) if rtol is None else (rtol if dtype == np.float64 else max(rtol, RTOL32))
    th_params = dict(torch_module.named_parameters())
    for name, p in ck_module.named_parameters():
        tp = th_params[name]
        if tp.grad is None:
            assert p.grad is None or not np.any(p.grad.data), f"{what}: {name} has a gradient, torch's has none"
            continue
        assert p.grad is not None, f"{what}: parameter {name} got no gradient"
        assert_close(p.grad, tp.grad, tol, f"{what}: gradient of {name}")
    th_buffers = dict(torch_module.named_buffers())
    for name, b in ck_module.named_buffers():
        assert_close(b, th_buffers[name], tol, f"{what}: buffer {name}")
