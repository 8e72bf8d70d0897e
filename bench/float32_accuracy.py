"""float32 accuracy against PyTorch: how far each framework's float32 gradients are from the float64 answer.

Two deep CIFAR networks built from depthwise convolutions and BatchNorm (the MobileNet and ShuffleNetV2 of
kuangliu/pytorch-cifar), one set of weights (torch's initialisation copied into cnnkit), one batch, training
mode. The reference is torch in float64 on the same float32 weights and inputs upcast. For each parameter the
error is max|g32 − g64| / max|g64|; the table gives the worst and the median over the parameters, for cnnkit
float32 and torch float32, and their ratio (cnnkit / torch; below 1 means cnnkit is closer to float64), then
the loss after one SGD step (lr 0.1) in each. Last, one BatchNorm2d layer's forward: max|y32 − y64| / max|y64|.

Run: python bench/float32_accuracy.py [--quick]
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from harness import print_environment, quick

import cnnkit as ck
import cnnkit.nn as cnn
import cnnkit.nn.functional as cF

TH = (torch.nn, torch.nn.functional, torch.cat)
CK = (cnn, cF, ck.cat)


def mobilenet(lib, num_classes: int = 10, cfg=None):
    """MobileNet v1 for CIFAR (kuangliu/pytorch-cifar): 3×3 depthwise + BN + ReLU, 1×1 + BN + ReLU per block."""
    nn, F, _ = lib
    cfg = cfg or [64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512, (1024, 2), 1024]

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
            self.bn1 = nn.BatchNorm2d(cin)
            self.conv2 = nn.Conv2d(cin, cout, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)

        def forward(self, x):
            return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))

    class MobileNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(32)
            blocks, cin = [], 32
            for c in cfg:
                cout, stride = (c, 1) if isinstance(c, int) else c
                blocks.append(Block(cin, cout, stride))
                cin = cout
            self.layers = nn.Sequential(*blocks)
            self.linear = nn.Linear(cin, num_classes)

        def forward(self, x):
            out = self.layers(F.relu(self.bn1(self.conv1(x))))
            out = F.adaptive_avg_pool2d(out, 1)
            return self.linear(out.reshape(out.shape[0], -1))

    return MobileNet()


def shufflenet_v2(lib, num_classes: int = 10, out_channels=(48, 96, 192, 1024), num_blocks=(3, 7, 3)):
    """ShuffleNetV2 (net_size 0.5) for CIFAR (kuangliu/pytorch-cifar): channel split, 1×1, 3×3 depthwise, 1×1,
    concatenation and channel shuffle."""
    nn, F, cat = lib

    def shuffle(x, groups=2):
        n, c, h, w = x.shape
        return x.reshape(n, groups, c // groups, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)

    class BasicBlock(nn.Module):
        def __init__(self, cin):
            super().__init__()
            c = cin // 2
            self.conv1, self.bn1 = nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c)
            self.conv3, self.bn3 = nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)

        def forward(self, x):
            c = x.shape[1] // 2
            x1, x2 = x[:, :c], x[:, c:]
            out = F.relu(self.bn1(self.conv1(x2)))
            out = self.bn2(self.conv2(out))
            out = F.relu(self.bn3(self.conv3(out)))
            return shuffle(cat([x1, out], 1))

    class DownBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            mid = cout // 2
            self.conv1, self.bn1 = nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False), nn.BatchNorm2d(cin)
            self.conv2, self.bn2 = nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid)
            self.conv3, self.bn3 = nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid)
            self.conv4, self.bn4 = nn.Conv2d(mid, mid, 3, 2, 1, groups=mid, bias=False), nn.BatchNorm2d(mid)
            self.conv5, self.bn5 = nn.Conv2d(mid, mid, 1, bias=False), nn.BatchNorm2d(mid)

        def forward(self, x):
            left = F.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
            right = F.relu(self.bn3(self.conv3(x)))
            right = F.relu(self.bn5(self.conv5(self.bn4(self.conv4(right)))))
            return shuffle(cat([left, right], 1))

    class ShuffleNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24)
            layers, cin = [], 24
            for cout, n in zip(out_channels[:3], num_blocks):
                layers += [DownBlock(cin, cout)] + [BasicBlock(cout) for _ in range(n)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.conv2, self.bn2 = nn.Conv2d(cin, out_channels[3], 1, bias=False), nn.BatchNorm2d(out_channels[3])
            self.linear = nn.Linear(out_channels[3], num_classes)

        def forward(self, x):
            out = self.layers(F.relu(self.bn1(self.conv1(x))))
            out = F.relu(self.bn2(self.conv2(out)))
            out = F.adaptive_avg_pool2d(out, 1)
            return self.linear(out.reshape(out.shape[0], -1))

    return ShuffleNetV2()


def twins(build, seed: int = 0):
    """(cnnkit float32, torch float32, torch float64) copies of one network with torch's initial weights."""
    torch.manual_seed(seed)
    th32 = build(TH)
    th64 = build(TH).double()
    th64.load_state_dict({k: v.double() for k, v in th32.state_dict().items()})
    ckm = build(CK)
    ckm.load_state_dict({k: v.numpy() for k, v in th32.state_dict().items()})
    return ckm, th32, th64


def relative_errors(grads: dict, reference: dict) -> list:
    """max|g − g_ref| / max|g_ref| per parameter (float64 arithmetic). Parameters whose gradient is zero in exact
    arithmetic are left out: a BatchNorm's bias followed by a convolution and another BatchNorm (ShuffleNetV2's
    DownBlock) has a float64 gradient of rounding size (below 1e-9 of the largest gradient)."""
    largest = max(float(np.max(np.abs(ref))) for ref in reference.values())
    out = []
    for name, ref in reference.items():
        scale = np.max(np.abs(ref))
        if scale > 1e-9 * largest:
            out.append(float(np.max(np.abs(grads[name].astype(np.float64) - ref)) / scale))
    return out


def step_and_grads(model, x, y, framework):
    """Gradients of cross-entropy (by parameter name) and the loss after one SGD step of lr 0.1."""
    if framework == "cnnkit":
        xt, yt, F, optim, nograd = ck.tensor(x), ck.tensor(y), cF, ck.optim, ck.no_grad
    else:
        xt, yt, F, optim, nograd = torch.from_numpy(x), torch.from_numpy(y), torch.nn.functional, torch.optim, \
            torch.no_grad
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    F.cross_entropy(model(xt), yt).backward()
    grads = {n: np.array(p.grad.numpy() if framework == "torch" else p.grad.numpy()) for n, p in
             model.named_parameters()}
    opt.step()
    with nograd():
        loss = float(F.cross_entropy(model(xt), yt).item())
    return grads, loss


def measure(name, build, batch: int):
    ckm, th32, th64 = twins(build)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    g64, loss64 = step_and_grads(th64, x.astype(np.float64), y, "torch")
    g32, loss32 = step_and_grads(th32, x, y, "torch")
    gck, lossck = step_and_grads(ckm, x, y, "cnnkit")
    e_th, e_ck = relative_errors(g32, g64), relative_errors(gck, g64)
    return {"name": name, "ck_worst": max(e_ck), "th_worst": max(e_th), "ck_median": statistics.median(e_ck),
            "th_median": statistics.median(e_th), "loss_ck": lossck, "loss_th": loss32, "loss_64": loss64}


def bn_forward_error(shape=(32, 64, 16, 16)):
    """One BatchNorm2d in training mode: max|y32 − y64| / max|y64| for cnnkit and torch float32."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(shape[1]).astype(np.float32)
    b = rng.standard_normal(shape[1]).astype(np.float32)
    ref = torch.nn.functional.batch_norm(torch.from_numpy(x).double(), None, None, torch.from_numpy(w).double(),
                                         torch.from_numpy(b).double(), training=True).numpy()
    th = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None, torch.from_numpy(w), torch.from_numpy(b),
                                        training=True).numpy()
    cko = cF.batch_norm(ck.tensor(x), None, None, ck.tensor(w), ck.tensor(b), training=True).numpy()
    scale = np.max(np.abs(ref))
    return float(np.max(np.abs(cko - ref)) / scale), float(np.max(np.abs(th - ref)) / scale)


def main():
    print_environment()
    batch = quick(32, 2)
    tiny = quick(None, [64, (128, 2)])
    rows = [measure("MobileNet (CIFAR)", lambda lib: mobilenet(lib, cfg=tiny), batch)]
    if tiny is None:
        rows.append(measure("ShuffleNetV2 0.5 (CIFAR)", shufflenet_v2, batch))
    else:
        rows.append(measure("ShuffleNetV2 (tiny)", lambda lib: shufflenet_v2(lib, out_channels=(8, 16, 32, 32),
                                                                             num_blocks=(1, 1, 1)), batch))
    print(f"\n### float32 gradients against torch float64, batch {batch}, training mode "
          f"(per parameter max|g32 − g64| / max|g64|)\n")
    print("| case | cnnkit worst | torch worst | ratio | cnnkit median | torch median | ratio | "
          "loss after 1 SGD step: cnnkit / torch / float64 |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['ck_worst']:.3g} | {r['th_worst']:.3g} | {r['ck_worst'] / r['th_worst']:.2f} | "
              f"{r['ck_median']:.3g} | {r['th_median']:.3g} | {r['ck_median'] / r['th_median']:.2f} | "
              f"{r['loss_ck']:.4f} / {r['loss_th']:.4f} / {r['loss_64']:.4f} |")
    e_ck, e_th = bn_forward_error(quick((32, 64, 16, 16), (2, 4, 4, 4)))
    print(f"\nBatchNorm2d forward, training mode, max|y32 − y64| / max|y64|: cnnkit {e_ck:.3g}, torch {e_th:.3g}, "
          f"ratio {e_ck / e_th:.2f}")


if __name__ == "__main__":
    main()
