"""A first look at cnnkit's engine: tensors, reverse-mode autograd and a hand-made gradient descent.

Fits y = 3x - 1 with a two-parameter model by plain gradient descent, then checks the
analytic gradient of a small function against finite differences.
Run: python examples/autograd_tour.py
"""
import numpy as np

import cnnkit as ck


def main():
    ck.manual_seed(0)
    x = ck.randn(64, 1)
    y = 3 * x - 1 + 0.01 * ck.randn(64, 1)
    w = ck.zeros(1, 1, requires_grad=True)
    b = ck.zeros(1, requires_grad=True)
    for step in range(200):
        loss = ((x @ w + b - y) ** 2).mean()
        w.grad = b.grad = None
        loss.backward()
        with ck.no_grad():  # as in torch; the older idiom, w.data.sub_(0.1 * w.grad), works too
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss.item():.5f}")
    print(f"learned w = {w.item():.3f} (true 3), b = {b.item():.3f} (true -1)")

    a = ck.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)  # float64
    ok = ck.autograd.gradcheck(lambda t: t.exp().sum(1).log(), [a])
    print("gradcheck of log Σ eˣ (log-sum-exp) in float64:", "passed" if ok else "failed")


if __name__ == "__main__":
    main()
