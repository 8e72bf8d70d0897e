"""Normalization layers against PyTorch: forward + backward in training mode, float32.

Run: python bench/norm.py [--quick]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from harness import compare, fwd_bwd, print_environment, print_table

import cnnkit.nn as nn

CASES = [
    ("BatchNorm2d(64) 32x64x56x56", lambda: nn.BatchNorm2d(64), lambda: torch.nn.BatchNorm2d(64), (32, 64, 56, 56)),
    ("BatchNorm2d(256) 8x256x14x14", lambda: nn.BatchNorm2d(256), lambda: torch.nn.BatchNorm2d(256),
     (8, 256, 14, 14)),
    ("LocalResponseNorm(5) 8x96x55x55", lambda: nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
     lambda: torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), (8, 96, 55, 55)),
]


def main():
    print_environment()
    rows = []
    for name, make_ck, make_th, shape in CASES:
        run_ck, run_th = fwd_bwd(make_ck(), make_th(), shape)
        rows.append(compare(name, run_ck, run_th))
    print_table("normalization layers, forward + backward, training mode, float32", rows)


if __name__ == "__main__":
    main()
