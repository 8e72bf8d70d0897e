"""Pooling layers against PyTorch: forward + backward, float32, NCHW; cnnkit on the NumPy kernels and (when the
optional library is loaded) on oneDNN, and torch, in one run.

Run: python bench/pool.py [--quick] [name filter ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch.nn.functional as TF
from harness import compare_backends, fwd_bwd, print_backends_table, print_environment, quick

import cnnkit.nn.functional as F

CASES = [
    ("max-pool 2x2/2 (32,64,56,56)", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
     (32, 64, 56, 56)),
    ("max-pool 3x3/2 AlexNet (8,96,55,55)", lambda x: F.max_pool2d(x, 3, 2), lambda x: TF.max_pool2d(x, 3, 2),
     (8, 96, 55, 55)),
    ("max-pool 3x3/2 pad 1 ResNet (8,64,112,112)", lambda x: F.max_pool2d(x, 3, 2, 1),
     lambda x: TF.max_pool2d(x, 3, 2, 1), (8, 64, 112, 112)),
    ("avg-pool 2x2/2 (32,64,56,56)", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2),
     (32, 64, 56, 56)),
    ("avg-pool 3x3/1 pad 1 Inception (8,192,28,28)", lambda x: F.avg_pool2d(x, 3, 1, 1),
     lambda x: TF.avg_pool2d(x, 3, 1, 1), (8, 192, 28, 28)),
    ("max-pool 3x3/2 ceil GoogLeNet (8,192,56,56)", lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True),
     lambda x: TF.max_pool2d(x, 3, 2, ceil_mode=True), (8, 192, 56, 56)),
    ("avg-pool 3x3/2 pad 1 excl. pad (8,128,28,28)", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
     lambda x: TF.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (8, 128, 28, 28)),
    ("LP-pool p=2 2x2/2 (16,64,28,28)", lambda x: F.lp_pool2d(x, 2, 2), lambda x: TF.lp_pool2d(x, 2, 2),
     (16, 64, 28, 28)),
    ("global avg-pool (8,512,7,7)", lambda x: F.adaptive_avg_pool2d(x, 1),
     lambda x: TF.adaptive_avg_pool2d(x, 1), (8, 512, 7, 7)),
    ("adaptive avg-pool 7x7 from (8,256,13,13)", lambda x: F.adaptive_avg_pool2d(x, 7),
     lambda x: TF.adaptive_avg_pool2d(x, 7), (8, 256, 13, 13)),
]


def main():
    print_environment()
    only = sys.argv[1:]
    rows = []
    for name, ck_f, th_f, shape in CASES:
        if only and not any(o in name for o in only):
            continue
        run_ck, run_th = fwd_bwd(ck_f, th_f, quick(shape, shape[:1] + (4,) + shape[2:]))
        rows.append(compare_backends(name, run_ck, run_th))
    print_backends_table("pooling, forward + backward, float32 (oneDNN: max and average pooling; LP and adaptive "
                         "pooling on NumPy in both columns)", rows)


if __name__ == "__main__":
    main()
