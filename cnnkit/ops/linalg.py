"""Matrix products: ``matmul`` (with batched and broadcast batch dims), ``mm``, ``bmm``, ``mv``, ``dot``, ``linear``,
and ``trace`` (Σ_i A_ii;  dA = dy · I).

For Y = A B:  dA = dY Bᵀ and dB = Aᵀ dY, each summed over the batch dims that
were broadcast. A 1-d operand is treated as a row (left) or column (right)
vector and that dim is removed from the result, as in NumPy and PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..function import Function
from ..kernels import onednn
from ..tensor import Tensor
from ._util import as_operand, binary_operands, sum_to
from .shape import reshape


class MatMul(Function):
    """Y = A @ B on operands of rank >= 2 (1-d operands are reshaped by :func:`matmul`)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.matmul(a, b)

    def backward(self, gy):
        na, nb = self.needs_input_grad
        a, b = self.a, self.b
        ga = sum_to(np.matmul(gy, np.swapaxes(b, -1, -2)), a.shape) if na else None
        gb = sum_to(np.matmul(np.swapaxes(a, -1, -2), gy), b.shape) if nb else None
        return ga, gb


class Linear(Function):
    """y = x Wᵀ + b for x of shape (..., in), W (out, in), b (out,).

    dx = dy W,  dW = dyᵀ x (summed over all leading dims),  db = Σ dy.

    A float32 product large enough for it (``kernels.onednn.inner_product.supports``) runs on oneDNN's inner
    product when that backend is active, with the leading dims flattened into one; otherwise on NumPy's GEMM.
    """

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        k, m = w.shape[1], w.shape[0]
        n = x.size // k if k else 0
        self.onednn = onednn.active() and onednn.inner_product.supports(n, k, m, x.dtype, b is not None)
        if self.onednn:
            return onednn.inner_product.forward(x.reshape(n, k), w, b).reshape(x.shape[:-1] + (m,))
        y = np.matmul(x, w.T)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        need = self.needs_input_grad
        if self.onednn:
            return self._onednn_backward(gy)
        gx = np.matmul(gy, self.w) if need[0] else None
        g2 = gy.reshape(-1, gy.shape[-1])
        gw = np.matmul(g2.T, self.x.reshape(-1, self.x.shape[-1])) if need[1] else None
        if len(need) == 3:
            return gx, gw, (g2.sum(axis=0) if need[2] else None)
        return gx, gw

    def _onednn_backward(self, gy):
        need = self.needs_input_grad
        g2 = gy.reshape(-1, gy.shape[-1])
        gx = onednn.inner_product.grad_input(g2, self.w).reshape(self.x.shape) if need[0] else None
        with_bias = len(need) == 3 and need[2]
        gw = gb = None
        if need[1]:
            gw, gb = onednn.inner_product.grad_weight(self.x.reshape(g2.shape[0], -1), g2, with_bias)
        elif with_bias:
            gb = g2.sum(axis=0)
        return (gx, gw, gb) if len(need) == 3 else (gx, gw)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics (1-d vectors, batched and broadcast batch dims)."""
    a, b = binary_operands(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dim, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({k_a} (dim {a.ndim - 1}) != {k_b} (dim {max(b.ndim - 2, 0)}))")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dims of shapes {a.shape} and {b.shape} do not broadcast") from None
    squeeze_front = a.ndim == 1
    squeeze_back = b.ndim == 1
    if squeeze_front:
        a = reshape(a, 1, -1)
    if squeeze_back:
        b = reshape(b, -1, 1)
    y = MatMul()(a, b)
    if squeeze_front:
        y = reshape(y, y.shape[:-2] + y.shape[-1:])
    if squeeze_back:
        y = reshape(y, y.shape[:-1])
    return y


def bmm(input, mat2) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting, as in PyTorch)."""
    a, b = as_operand(input, "bmm"), as_operand(mat2, "bmm")
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: expected two 3-d tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: shapes {tuple(a.shape)} and {tuple(b.shape)} do not fit (b, n, m) @ (b, m, p)")
    if a.dtype != b.dtype:
        raise TypeError(f"bmm: expected both operands of one dtype, got {a.dtype} and {b.dtype}")
    return MatMul()(a, b)


def mm(input, mat2) -> Tensor:
    """Matrix product of two 2-d tensors."""
    a, b = as_operand(input, "mm"), as_operand(mat2, "mm")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected two 2-d tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def linear(x, weight, bias=None) -> Tensor:
    """y = x Wᵀ + b (the fully connected layer); x (..., in), W (out, in), b (out,)."""
    x, weight = as_operand(x, "linear"), as_operand(weight, "linear")
    if weight.ndim != 2:
        raise ValueError(f"linear: expected a weight of shape (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape}: "
                         f"expected the last dim to be {weight.shape[-1]}")
    args = (x, weight)
    if bias is not None:
        bias = as_operand(bias, "linear")
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"linear: expected a bias of shape ({weight.shape[0]},), got shape {bias.shape}")
        args = (x, weight, bias)
    dt = {a.dtype for a in args}
    if len(dt) > 1:
        raise TypeError(f"linear: input, weight and bias must have one dtype, got {sorted(str(d) for d in dt)}")
    return Linear()(*args)


def dot(input, other) -> Tensor:
    """The inner product of two 1-d tensors of one size and dtype (PyTorch's ``torch.dot``: no broadcasting)."""
    a, b = as_operand(input, "dot"), as_operand(other, "dot")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expected two 1-d tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"dot: inconsistent tensor size, expected the sizes to match, got {a.shape[0]} and "
                         f"{b.shape[0]}")
    if a.dtype != b.dtype:
        raise TypeError(f"dot: expected both tensors of one dtype, got {a.dtype} and {b.dtype}")
    return matmul(a, b)


def mv(input, vec) -> Tensor:
    """The product of a 2-d matrix (n, m) and a 1-d vector (m,): shape (n,)."""
    a, v = as_operand(input, "mv"), as_operand(vec, "mv")
    if a.ndim != 2 or v.ndim != 1:
        raise ValueError(f"mv: expected a 2-d matrix and a 1-d vector, got shapes {tuple(a.shape)} and "
                         f"{tuple(v.shape)}")
    if a.dtype != v.dtype:
        raise TypeError(f"mv: expected both tensors of one dtype, got {a.dtype} and {v.dtype}")
    return matmul(a, v)


class Trace(Function):
    def forward(self, x):
        self.shape = x.shape
        return np.asarray(np.trace(x), dtype=x.dtype if x.dtype.kind == "f" else np.int64)

    def backward(self, gy):
        return gy * np.eye(*self.shape, dtype=gy.dtype)


def trace(input) -> Tensor:
    """Σ_i input[i, i] of a 2-d tensor (integer input gives int64, as in PyTorch)."""
    x = as_operand(input, "trace")
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-d tensor, got shape {tuple(x.shape)}")
    return Trace()(x)
