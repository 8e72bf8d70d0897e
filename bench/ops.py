"""Engine ops against PyTorch: forward + backward of element-wise, reduction, shape and matmul ops, and linear
layers on both backends (NumPy's GEMM, oneDNN's inner product) beside torch.

Run: python bench/ops.py [--quick] [ops] [linear] [threshold]      (no name: all three tables)

``linear``: LeNet-5's and AlexNet's/VGG's fully connected layers as the dispatcher runs them (a product below
``kernels.config().onednn_linear_min`` multiply-adds stays on NumPy in the oneDNN column too). ``threshold``:
products around that threshold with oneDNN forced at every size, the measurement behind it.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    compare,
    compare_backends,
    fwd_bwd,
    print_backends_table,
    print_environment,
    print_table,
    quick,
)

CASES = [
    ("add broadcast (64,256,14,14)+(256,1,1)", lambda a, b: a + b, lambda a, b: a + b, (64, 256, 14, 14), (256, 1, 1)),
    ("mul (256,256,14)", lambda a, b: a * b, lambda a, b: a * b, (256, 256, 14), (256, 256, 14)),
    ("exp+log (1M)", lambda a: (a.exp() + 1).log(), lambda a: (a.exp() + 1).log(), (1 << 20,)),
    ("mean over (0,2,3) (32,64,28,28)", lambda a: a.mean((0, 2, 3)), lambda a: a.mean((0, 2, 3)), (32, 64, 28, 28)),
    ("max dim=1 (4096,1000)", lambda a: a.max(1)[0], lambda a: a.max(1)[0], (4096, 1000)),
    ("matmul (256,512)@(512,512)", lambda a, b: a @ b, lambda a, b: a @ b, (256, 512), (512, 512)),
    ("batched matmul (32,64,64)@(64,64)", lambda a, b: a @ b, lambda a, b: a @ b, (32, 64, 64), (64, 64)),
    ("permute+reshape (32,64,28,28)", lambda a: a.permute(0, 2, 3, 1).reshape(-1, 64) * 2,
     lambda a: a.permute(0, 2, 3, 1).reshape(-1, 64) * 2, (32, 64, 28, 28)),
    ("getitem [:, ::2] (512,512)", lambda a: a[:, ::2], lambda a: a[:, ::2], (512, 512)),
    ("chain of 200 small ops (8,8)", lambda a: _chain(a), lambda a: _chain(a), (8, 8)),
]


def _chain(a):
    for _ in range(100):
        a = a * 1.001 + 0.001
    return a


# (name, batch, in_features, out_features, backward?): the fully connected layers of LeNet-5 (training batch 64),
# AlexNet and VGG-11/16 (training batch 16, inference batch 1)
LINEAR_ROWS = [
    ("LeNet-5 F5 400->120, b64", 64, 400, 120, True),
    ("LeNet-5 F6 120->84, b64", 64, 120, 84, True),
    ("LeNet-5 out 84->10, b64", 64, 84, 10, True),
    ("AlexNet fc6 9216->4096, b16", 16, 9216, 4096, True),
    ("AlexNet fc7 4096->4096, b16", 16, 4096, 4096, True),
    ("AlexNet fc8 4096->1000, b16", 16, 4096, 1000, True),
    ("VGG fc6 25088->4096, b16", 16, 25088, 4096, True),
    ("AlexNet fc6 9216->4096, b1 inference", 1, 9216, 4096, False),
    ("VGG fc6 25088->4096, b1 inference", 1, 25088, 4096, False),
    ("AlexNet fc8 4096->1000, b1 inference", 1, 4096, 1000, False),
]

# products around kernels.config().onednn_linear_min, forward + backward
THRESHOLD_ROWS = [(64, 256, 64), (64, 256, 128), (64, 256, 256), (64, 512, 256), (64, 512, 512), (128, 512, 512),
                  (16, 1024, 512), (16, 1024, 1024), (256, 1024, 512)]


def linear_case(n: int, k: int, m: int, backward: bool = True, force_onednn: bool = False):
    """Closures running y = linear(x, W, b) (and its backward for x, W, b) in cnnkit and torch on the same float32
    data; the tensors are made once and their gradients dropped before each call. ``force_onednn`` runs
    cnnkit's calls with no size threshold (its NumPy column still switches the backend off)."""
    import numpy as np
    import torch

    import cnnkit as ck
    import cnnkit.nn.functional as F
    from cnnkit import kernels

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((n, k), (m, k), (m,))]
    arrays[1] *= k ** -0.5
    g = rng.standard_normal((n, m)).astype(np.float32)
    cks = [ck.tensor(a, requires_grad=backward) for a in arrays]
    ths = [torch.tensor(a, requires_grad=backward) for a in arrays]
    g_ck, g_th = ck.tensor(g), torch.from_numpy(g)
    threshold = 0 if force_onednn else kernels.config().onednn_linear_min

    def run_ck():
        with kernels.using(onednn_linear_min=threshold):
            if not backward:
                with ck.no_grad():
                    F.linear(*cks)
                return
            for t in cks:
                t.grad = None
            F.linear(*cks).backward(g_ck)

    def run_th():
        if not backward:
            with torch.no_grad():
                torch.nn.functional.linear(*ths)
            return
        for t in ths:
            t.grad = None
        torch.nn.functional.linear(*ths).backward(g_th)

    return run_ck, run_th


def ops_table():
    rows = []
    for name, ck_f, th_f, *shapes in CASES:
        run_ck, run_th = fwd_bwd(ck_f, th_f, *shapes)
        rows.append(compare(name, run_ck, run_th))
    print_table("engine ops, forward + backward, float32", rows)


def linear_table():
    rows = []
    for name, n, k, m, backward in LINEAR_ROWS:
        n, k, m = quick((n, k, m), (2, min(k, 64), min(m, 32)))
        rows.append(compare_backends(name, *linear_case(n, k, m, backward), repeats=quick(15 if k < 20000 else 7, 1)))
    print_backends_table("linear layers, forward + backward (inference rows: forward only), float32", rows)


def threshold_table():
    from cnnkit import kernels

    rows = []
    for n, k, m in THRESHOLD_ROWS:
        n, k, m = quick((n, k, m), (2, 8, 4))
        rows.append(compare_backends(f"linear ({n},{k})x({k},{m}) {n * k * m / 2 ** 20:.2f}M MACs",
                                     *linear_case(n, k, m, force_onednn=True), repeats=quick(21, 1)))
    print_backends_table(f"linear, forward + backward, oneDNN forced at every size (the dispatcher's threshold: "
                         f"{kernels.config().onednn_linear_min / 2 ** 20:g}M multiply-adds)", rows)


TABLES = {"ops": ops_table, "linear": linear_table, "threshold": threshold_table}


def main():
    names = sys.argv[1:] or list(TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        sys.exit(f"ops.py: unknown table {unknown[0]!r}; expected any of {', '.join(TABLES)}")
    print_environment()
    for name in names:
        TABLES[name]()


if __name__ == "__main__":
    main()
