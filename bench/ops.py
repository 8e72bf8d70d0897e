"""Engine ops against PyTorch: forward + backward of element-wise, reduction, shape and matmul ops.

Run: python bench/ops.py [--quick]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import compare, fwd_bwd, print_environment, print_table

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


def main():
    print_environment()
    rows = []
    for name, ck_f, th_f, *shapes in CASES:
        run_ck, run_th = fwd_bwd(ck_f, th_f, *shapes)
        rows.append(compare(name, run_ck, run_th))
    print_table("engine ops, forward + backward, float32", rows)


if __name__ == "__main__":
    main()
