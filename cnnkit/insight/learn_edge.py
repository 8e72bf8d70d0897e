"""``learn_edge``: learn a convolution kernel from data (the lecture notes' edge-detection example).

X is a 6×8 image, white (1) with a black (0) band in columns 2–5. Cross-correlating it with the 1×2 kernel
K = [1, −1] gives its edge map Y (6×7): 1 where white turns to black, −1 where black turns to white, 0
elsewhere. Starting from a random kernel K̂, gradient descent on the squared error recovers K:

    Ŷ = X ⋆ K̂,   L = Σ (Ŷ − Y)²,   K̂ ← K̂ − lr · ∂L/∂K̂

with cnnkit's ``conv2d`` and autograd (no bias). L is a convex quadratic in K̂, so with a small enough
learning rate K̂ converges geometrically to K (the minimum, L = 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..nn import functional as F
from ..ops import validate
from ..tensor import Tensor

__all__ = ["EdgeLearning", "edge_data", "learn_edge"]

TRUE_KERNEL = np.array([[1.0, -1.0]])


def edge_data() -> tuple[np.ndarray, np.ndarray]:
    """X (6×8: ones with zeros in columns 2–5) and Y = X ⋆ [1, −1] (6×7)."""
    x = np.ones((6, 8))
    x[:, 2:6] = 0.0
    y = x[:, :-1] * TRUE_KERNEL[0, 0] + x[:, 1:] * TRUE_KERNEL[0, 1]
    return x, y


@dataclass
class EdgeLearning:
    """What :func:`learn_edge` did: ``kernel`` (the learned 1×2 kernel), ``history`` of (step, loss, kernel)
    at every printed step, ``lines`` (the printed text), X, Y and the true kernel."""

    kernel: np.ndarray
    history: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    true_kernel: np.ndarray = field(default_factory=lambda: TRUE_KERNEL.copy())

    def text(self) -> str:
        return "\n".join(self.lines)

    __str__ = text


def learn_edge(steps: int = 40, lr: float = 0.03, seed: int = 0, every: int = 5, echo=None) -> EdgeLearning:
    """Learn the 1×2 edge kernel by ``steps`` steps of gradient descent with learning rate ``lr`` from a random
    start (seeded normal), recording the loss and kernel every ``every`` steps (and printing each line with
    ``echo``, e.g. ``print``). Returns an :class:`EdgeLearning`; its ``kernel`` ends near [1, −1]."""
    fn = "learn_edge"
    steps = validate.positive_int(steps, "steps", fn)
    lr = validate.finite_number(lr, "lr", fn)
    if not 0 < lr < 1:
        raise ValueError(f"{fn}: lr must be in (0, 1), got {lr!r}")
    every = validate.positive_int(every, "every", fn)
    seed = validate.integer(seed, "seed", fn)
    x, y = edge_data()
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(1, 2))
    xt, yt = Tensor(x[None, None]), Tensor(y[None, None])
    result = EdgeLearning(k, x=x, y=y)

    def say(line: str) -> None:
        result.lines.append(line)
        if echo is not None:
            echo(line)

    say("X (6×8, a black band on white):")
    say("\n".join("  " + " ".join(str(int(v)) for v in row) for row in x))
    say("Y = X ⋆ [1, −1] (6×7, the edges):")
    say("\n".join("  " + " ".join(f"{int(v):2d}" for v in row) for row in y))
    say(f"learning K from X and Y: L = Σ (X ⋆ K − Y)², K ← K − {lr:g}·∂L/∂K, start K = "
        f"[{k[0, 0]:.4f}, {k[0, 1]:.4f}]")
    for step in range(1, int(steps) + 1):
        kt = Tensor(k[None, None], requires_grad=True)
        loss = ((F.conv2d(xt, kt) - yt) ** 2).sum()
        loss.backward()
        k = k - lr * kt.grad._data[0, 0]
        if step % every == 0 or step == steps:
            result.history.append((step, float(loss.item()), k.copy()))
            say(f"step {step:3d}: loss {loss.item():.6f}, then K = [{k[0, 0]:.4f}, {k[0, 1]:.4f}]")
    result.kernel = k
    err = float(np.abs(k - TRUE_KERNEL).max())
    say(f"learned K = [{k[0, 0]:.4f}, {k[0, 1]:.4f}]; the true kernel is [1, −1] (largest error {err:.4f})")
    return result
