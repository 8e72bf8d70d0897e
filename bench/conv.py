"""Convolution layers of the classic CNNs against PyTorch: forward + backward, float32.

Each row times one layer's forward and backward pass (y = layer(x); y.backward(g) with a fixed random g),
cnnkit and torch alternated, 2 threads each; the ratio is cnnkit / torch (median of pairwise ratios).
A first layer (LeNet C1, AlexNet conv1) does not ask for its input gradient, in both frameworks, as in
training. The summary line is the geometric mean over the convolution rows.

Every timed call is preceded by an untimed busy pause (harness.settle: torch's OpenMP workers keep spinning
for about 10 ms after a parallel region and would steal a core from the next call).

Run: python bench/conv.py            (add rows to CONV_ROWS / OTHER_ROWS)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import compare, fwd_bwd, geomean, print_table  # noqa: E402

import torch  # noqa: E402

import cnnkit as ck  # noqa: E402
import cnnkit.nn.functional as F  # noqa: E402


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
    ("ResNet 1x1 b4 256->64 56x56", lambda: conv_case(4, 256, 64, 56, 1)),
    ("depthwise 3x3 b8 128 p1 56x56", lambda: conv_case(8, 128, 128, 56, 3, padding=1, groups=128)),
]

OTHER_ROWS = [
    ("max-pool 3x3/2 AlexNet b8 96@55x55", lambda: fwd_bwd(lambda x: F.max_pool2d(x, 3, 2),
                                                          lambda x: torch.nn.functional.max_pool2d(x, 3, 2),
                                                          (8, 96, 55, 55))),
    ("BatchNorm2d(64) training b8 64@56x56", lambda: _batchnorm_case(8, 64, 56)),
]


def main(repeats: int = 15):
    conv = [compare(name, *make(), repeats=repeats) for name, make in CONV_ROWS]
    other = [compare(name, *make(), repeats=repeats) for name, make in OTHER_ROWS]
    print_table("convolution layers, forward + backward, float32", conv, "convolution geometric mean")
    if other:
        print_table("other layers, forward + backward, float32", other)
    return geomean(r["ratio"] for r in conv)


if __name__ == "__main__":
    main()
