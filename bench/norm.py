"""Normalization layers against PyTorch, float32.

BatchNorm2d runs on channels-last input (NHWC memory, what the convolutions return and where oneDNN takes
it; torch gets ``torch.channels_last`` tensors), training (forward + backward) and evaluation (forward), with
NumPy, oneDNN and torch columns in one run. LocalResponseNorm: forward + backward, NumPy kernels vs torch.

Run: python bench/norm.py [--quick]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from harness import compare, compare_backends, fwd_bwd, print_backends_table, print_environment, print_table

import cnnkit as ck
import cnnkit.nn as nn

BATCH_NORM = [(32, 64, 56, 56), (8, 256, 14, 14), (8, 64, 56, 56), (8, 512, 7, 7)]
OTHER = [
    ("LocalResponseNorm(5) 8x96x55x55", lambda: nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
     lambda: torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), (8, 96, 55, 55)),
]


def batch_norm_rows(shape: tuple, training: bool):
    """(cnnkit closure, torch closure) for BatchNorm2d on the same channels-last float32 batch."""
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(rng.standard_normal(shape).astype(np.float32).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    g = np.ascontiguousarray(rng.standard_normal(shape).astype(np.float32).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    ck_bn, th_bn = nn.BatchNorm2d(shape[1]).train(training), torch.nn.BatchNorm2d(shape[1]).train(training)
    x_th = torch.from_numpy(x)
    g_th = torch.from_numpy(g)
    assert x_th.is_contiguous(memory_format=torch.channels_last)

    if training:
        def run_ck():
            ck_bn(ck.from_numpy(x).requires_grad_(True)).backward(ck.from_numpy(g))

        def run_th():
            th_bn(x_th.detach().requires_grad_(True)).backward(g_th)
    else:
        def run_ck():
            with ck.no_grad():
                ck_bn(ck.from_numpy(x))

        def run_th():
            with torch.no_grad():
                th_bn(x_th)
    return run_ck, run_th


def main():
    print_environment()
    rows = []
    for training in (True, False):
        for shape in BATCH_NORM:
            what = "forward + backward" if training else "eval forward"
            rows.append(compare_backends(f"BatchNorm2d {'x'.join(map(str, shape))} {what}",
                                         *batch_norm_rows(shape, training)))
    print_backends_table("BatchNorm2d, channels-last float32 input", rows)
    other = []
    for name, make_ck, make_th, shape in OTHER:
        run_ck, run_th = fwd_bwd(make_ck(), make_th(), shape)
        other.append(compare(name, run_ck, run_th))
    print_table("other normalization layers, forward + backward, float32", other)


if __name__ == "__main__":
    main()
