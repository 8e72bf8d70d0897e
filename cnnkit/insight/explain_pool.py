"""``explain_pool``: max and average pooling worked out by hand, forward and backward.

A K×K window with stride S (no padding) on an H×W map:

    H' = ⌊(H − K)/S⌋ + 1,  W' = ⌊(W − K)/S⌋ + 1
    max:  y[i, j] = max_{a, b} x[i·S + a, j·S + b]     backward: dx[arg-max of window (i, j)] += dy[i, j]
    avg:  y[i, j] = Σ_{a, b} x[i·S + a, j·S + b] / K²   backward: dx[every pixel of window (i, j)] += dy[i, j] / K²

Pooling has no parameters; backward only routes the error: max pooling sends all of dy to the one input
that won (the others get 0), average pooling spreads it evenly. Where windows overlap (S < K) an input
collects the errors of every window it belongs to. The input holds distinct integers (a seeded
permutation, so every arg-max is unique) and dy small integers; the routed gradient is compared with
cnnkit's autograd (``max_pool2d`` / ``avg_pool2d`` then ``backward(dy)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..nn import functional as F
from ..ops import validate
from ..tensor import Tensor
from .explain import matrix_text, num

__all__ = ["PoolExplanation", "PoolStep", "explain_pool"]


@dataclass
class PoolStep:
    """Window (row, col) of the output: its ``values``, the input positions (r, c) it routes dy to, ``output``."""

    row: int
    col: int
    values: np.ndarray
    routes: list
    output: float
    dy: float


@dataclass
class PoolExplanation:
    """What :func:`explain_pool` worked out; ``text()`` is the printed explanation."""

    mode: str
    kernel: int
    stride: int
    input: np.ndarray          # (H, W)
    output: np.ndarray         # (H', W') from the steps
    dy: np.ndarray             # (H', W') the upstream error
    dx: np.ndarray             # (H, W) routed by hand
    autograd_output: np.ndarray
    autograd_dx: np.ndarray    # cnnkit's backward
    steps: list = field(default_factory=list)
    size_formula: str = ""

    def check(self) -> bool:
        """Whether the hand-worked forward and routed gradient equal cnnkit's pooling and autograd."""
        return bool(np.allclose(self.output, self.autograd_output, rtol=0, atol=1e-12)
                    and np.allclose(self.dx, self.autograd_dx, rtol=0, atol=1e-12))

    def text(self) -> str:
        k, s = self.kernel, self.stride
        h, w = self.input.shape
        share = f"dy/{k * k}" if self.mode == "avg" else "dy"
        lines = [f"{'Max' if self.mode == 'max' else 'Average'} pooling: a {h}×{w} input, {k}×{k} window, stride {s}",
                 f"output size: {self.size_formula}", "input x:", matrix_text(self.input), ""]
        for st in self.steps:
            vals = ", ".join(num(v) for v in st.values.ravel())
            r0, c0 = st.row * s, st.col * s
            head = f"window ({st.row}, {st.col}): rows {r0}–{r0 + k - 1}, columns {c0}–{c0 + k - 1}: "
            if self.mode == "max":
                (r, c), = st.routes
                lines.append(head + f"max({vals}) = {num(st.output)} at x[{r}, {c}]; backward: dy = {num(st.dy)} "
                                    f"goes to x[{r}, {c}]")
            else:
                lines.append(head + f"({' + '.join(num(v) for v in st.values.ravel())})/{k * k} = {num(st.output)}; "
                                    f"backward: dy/{k * k} = {num(st.dy)}/{k * k} = {num(st.dy / (k * k))} to each")
        lines += ["", "output y:", matrix_text(self.output), "upstream error dy (= dL/dy):", matrix_text(self.dy),
                  f"routed error dx (each input receives the {share} of every window that "
                  f"{'chose it' if self.mode == 'max' else 'contains it'}):", matrix_text(self.dx),
                  "same as cnnkit's autograd: " + ("yes" if self.check() else "NO")]
        return "\n".join(lines)

    __str__ = text


def explain_pool(input_shape=(4, 4), kernel: int = 2, stride: int | None = None, mode: str = "max",
                 seed: int = 0) -> PoolExplanation:
    """Pool a seeded H×W input of distinct integers 1..H·W with a ``kernel``×``kernel`` window (stride default
    = kernel), route a seeded integer error dy (1..9) back, and compare with cnnkit's autograd."""
    fn = "explain_pool"
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 2:
        raise ValueError(f"{fn}: input_shape must be (H, W), got {input_shape!r}")
    h, w = (validate.positive_int(v, "input_shape", fn) for v in shape)
    k = validate.positive_int(kernel, "kernel", fn)
    s = k if stride is None else validate.positive_int(stride, "stride", fn)
    mode = validate.one_of(mode, ("max", "avg"), "mode", fn)
    seed = validate.integer(seed, "seed", fn)
    if h * w > 4096:
        raise ValueError(f"{fn}: the explanation prints every window, so it is for small inputs (H·W ≤ 4096), "
                         f"got {h}×{w}")
    if k > h or k > w:
        raise ValueError(f"{fn}: the {k}×{k} window does not fit the {h}×{w} input")
    rng = np.random.default_rng(seed)
    x = (rng.permutation(h * w) + 1).reshape(h, w).astype(np.float64)
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    dy = rng.integers(1, 10, size=(ho, wo)).astype(np.float64)
    y = np.zeros((ho, wo))
    dx = np.zeros_like(x)
    steps = []
    for i in range(ho):
        for j in range(wo):
            win = x[i * s:i * s + k, j * s:j * s + k]
            if mode == "max":
                a, b = np.unravel_index(int(np.argmax(win)), win.shape)
                routes = [(i * s + a, j * s + b)]
                y[i, j] = win[a, b]
                dx[i * s + a, j * s + b] += dy[i, j]
            else:
                routes = [(i * s + a, j * s + b) for a in range(k) for b in range(k)]
                y[i, j] = win.sum() / (k * k)
                dx[i * s:i * s + k, j * s:j * s + k] += dy[i, j] / (k * k)
            steps.append(PoolStep(i, j, win.copy(), routes, float(y[i, j]), float(dy[i, j])))
    xt = Tensor(x[None, None], requires_grad=True)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    yt = pool(xt, k, s)
    yt.backward(Tensor(dy[None, None]))
    formula = "; ".join(f"{a}' = ⌊({a} − K)/S⌋ + 1 = ⌊({n} − {k})/{s}⌋ + 1 = {o}"
                        for a, n, o in (("H", h, ho), ("W", w, wo))) + f"  →  {ho}×{wo}"
    return PoolExplanation(mode, k, s, x, y, dy, dx, yt._data[0, 0].copy(), xt.grad._data[0, 0].copy(), steps,
                           formula)
