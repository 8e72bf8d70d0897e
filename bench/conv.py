"""Convolution layers of the classic CNNs against PyTorch: forward + backward, float32.

Each row times one layer's forward and backward pass (y = layer(x); y.backward(g) with a fixed random g),
cnnkit on the NumPy kernels, cnnkit on oneDNN (when ``cnnkit[onednn]`` is installed) and torch alternated,
2 threads each; each ratio is cnnkit / torch (median of pairwise ratios).
A first layer (LeNet C1, AlexNet conv1) does not ask for its input gradient, in both frameworks, as in
training. The summary line is the geometric mean over the convolution rows.

Every timed call is preceded by an untimed busy pause (harness.settle: torch's OpenMP workers keep spinning
for about 10 ms after a parallel region and would steal a core from the next call).

After the tables, :func:`efficiency` prints the GFLOP/s of a large 3x3 convolution (256@28, batch 8, forward
only) in cnnkit and torch next to a NumPy SGEMM of the same size measured in the same run.

Run: python bench/conv.py [--repeats 15] [--quick]   (add rows to CONV_ROWS / OTHER_ROWS)
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from harness import (
    QUICK,
    THREADS,
    compare_backends,
    fwd_bwd,
    geomean,
    onednn_active,
    print_backends_table,
    print_environment,
    settle,
    time_once,
)

import cnnkit as ck
import cnnkit.nn.functional as F


def conv_case(n, c, o, hw, k, stride=1, padding=0, groups=1, input_grad=True):
    """A conv2d row: batch n, c -> o channels, hw x hw input, k x k kernel, with bias."""
    def ck_f(x, w, b):
        return F.conv2d(x, w, b, stride, padding, 1, groups)

    def th_f(x, w, b):
        return torch.nn.functional.conv2d(x, w, b, stride, padding, 1, groups)

    return fwd_bwd(ck_f, th_f, (n, c, hw, hw), (o, c // groups, k, k), (o,), requires_grad=(input_grad, True, True))


def _batchnorm_case(n, c, hw):
    ck_bn, th_bn = ck.nn.BatchNorm2d(c), torch.nn.BatchNorm2d(c)
    return fwd_bwd(ck_bn, th_bn, (n, c, hw, hw))


CONV_ROWS = [
    ("LeNet-5 C1  b64 1->6 5x5 p2 28x28", lambda: conv_case(64, 1, 6, 28, 5, padding=2, input_grad=False)),
    ("LeNet-5 C3  b64 6->16 5x5 14x14", lambda: conv_case(64, 6, 16, 14, 5)),
    ("AlexNet conv1 b4 3->64 11x11/4 p2 224", lambda: conv_case(4, 3, 64, 224, 11, 4, 2, input_grad=False)),
    ("AlexNet conv2 b4 96->256 5x5 p2 g2 27", lambda: conv_case(4, 96, 256, 27, 5, padding=2, groups=2)),
    ("VGG 3x3 b4 64->64 p1 56x56", lambda: conv_case(4, 64, 64, 56, 3, padding=1)),
    ("ResNet 3x3 b8 256->256 p1 14x14", lambda: conv_case(8, 256, 256, 14, 3, padding=1)),
    ("ResNet 3x3 b8 512->512 p1 7x7", lambda: conv_case(8, 512, 512, 7, 3, padding=1)),
    ("ResNet 1x1 b4 256->64 56x56", lambda: conv_case(4, 256, 64, 56, 1)),
    ("GoogLeNet 5x5 b8 32->64 p2 28x28", lambda: conv_case(8, 32, 64, 28, 5, padding=2)),
    ("depthwise 3x3 b8 128 p1 56x56", lambda: conv_case(8, 128, 128, 56, 3, padding=1, groups=128)),
]

OTHER_ROWS = [
    ("max-pool 3x3/2 AlexNet b8 96@55x55", lambda: fwd_bwd(lambda x: F.max_pool2d(x, 3, 2),
                                                          lambda x: torch.nn.functional.max_pool2d(x, 3, 2),
                                                          (8, 96, 55, 55))),
    ("BatchNorm2d(64) training b8 64@56x56", lambda: _batchnorm_case(8, 64, 56)),
]


def efficiency(repeats: int = 15, warmup: int = 2, n=8, c=256, o=256, hw=28) -> dict:
    """GFLOP/s of a large 3x3 stride-1 pad-1 convolution (forward only, no bias, no graph) in cnnkit and torch,
    against a NumPy float32 SGEMM of the im2col size, all three timed in the same run.

    FLOPs of the convolution: 2 * N * Ho * Wo * O * C * 3 * 3 (one multiply and one add per weight and output
    pixel). The SGEMM is (N*Ho*Wo x C*9) @ (C*9 x O) = (6272 x 2304) @ (2304 x 256) at the default size, into a
    preallocated output, i.e. the same multiply-adds as the convolution. The three are alternated (settle pause
    before each) and each figure is the median over ``repeats``; cnnkit / SGEMM is the issue's efficiency
    measure (target: >= 60 %).
    """
    import numpy as np

    if QUICK:
        repeats, warmup, n, c, o, hw = 1, 0, 1, 8, 8, 7
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(c * 9)).astype(np.float32)
    x_ck, w_ck = ck.tensor(x), ck.tensor(w)
    x_th, w_th = torch.from_numpy(x), torch.from_numpy(w)
    m, k = n * hw * hw, c * 9  # stride 1, pad 1: Ho = Wo = hw
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, o)).astype(np.float32)
    out = np.empty((m, o), np.float32)
    flops = 2.0 * m * k * o

    def run_ck():
        with ck.no_grad():
            F.conv2d(x_ck, w_ck, None, 1, 1)

    def run_th():
        with torch.no_grad():
            torch.nn.functional.conv2d(x_th, w_th, None, 1, 1)

    def run_gemm():
        np.matmul(a, b, out=out)

    def run_numpy():
        with ck.backends.onednn.flags(enabled=False):
            run_ck()

    fns = {"cnnkit conv2d": run_numpy, "torch conv2d": run_th, f"NumPy SGEMM ({m}x{k})@({k}x{o})": run_gemm}
    if onednn_active():
        fns["cnnkit conv2d on oneDNN"] = run_ck
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            settle()
            times[name].append(time_once(fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    gflops = {name: flops / t / 1e9 for name, t in med.items()}
    sgemm = gflops[list(fns)[2]]
    print(f"\n### efficiency: 3x3/1 p1 convolution b{n} {c}->{o} @{hw}x{hw}, forward only, float32  "
          f"({THREADS} threads each; {flops / 1e9:.2f} GFLOP per call; median of {repeats}, alternated)\n")
    print("| kernel | ms | GFLOP/s | % of SGEMM |")
    print("|---|---:|---:|---:|")
    for name in fns:
        print(f"| {name} | {1e3 * med[name]:.2f} | {gflops[name]:.1f} | {100 * gflops[name] / sgemm:.0f} % |")
    ratio = gflops["cnnkit conv2d"] / sgemm
    print(f"\ncnnkit (NumPy kernels) / SGEMM = {100 * ratio:.0f} % (target >= 60 %); cnnkit / torch GFLOP/s = "
          f"{gflops['cnnkit conv2d'] / gflops['torch conv2d']:.2f}")
    return {"gflops": gflops, "cnnkit_vs_sgemm": ratio}


def main(repeats: int = 15):
    print_environment()
    conv = [compare_backends(name, *make(), repeats=repeats) for name, make in CONV_ROWS]
    other = [compare_backends(name, *make(), repeats=repeats) for name, make in OTHER_ROWS]
    print_backends_table("convolution layers, forward + backward, float32", conv, "convolution geometric mean")
    if other:
        print_backends_table("other layers, forward + backward, float32 (on oneDNN as docs/performance.md says)",
                             other)
    efficiency(repeats=repeats)
    return geomean(r["numpy_ratio"] for r in conv)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per framework and row (default 15)")
    main(parser.parse_args().repeats)
