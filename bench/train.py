"""LeNet-5 training throughput: cnnkit against the same network in PyTorch, in one run.

The network (``ck.models.lenet5()``, 61,706 parameters) and its PyTorch twin written out here:
conv 6@5x5 pad 2, ReLU, max pool 2, conv 16@5x5, ReLU, max pool 2, conv 120@5x5, ReLU, FC 84, ReLU, FC 10;
the same initial weights (cnnkit's, copied by name), float32, cross-entropy loss, SGD with momentum 0.9.
Inputs are random images of MNIST's shape (1x28x28, ``--data digits``: the built-in digits) and random labels.

One timing is a chunk of ``--batches`` (10) training steps of ``--batch-size`` (64) images — forward, loss,
zero_grad, backward, optimizer step — cnnkit on the NumPy kernels alone, cnnkit on oneDNN (when
``cnnkit[onednn]`` is installed) and torch alternated chunk by chunk (bench/harness.py's compare_backends,
2 threads each). Rows:

- ``train step``: the plain loop above in both frameworks;
- ``Trainer.fit``: cnnkit's Trainer doing the same steps (plus its per-batch non-finite guard and metrics) as
  one epoch over a DataLoader, against the same plain torch loop;
- ``inference``: forward passes in eval mode without a graph (what ``cnnkit eval`` / ``predict`` do).

Printed: the ratio table (cnnkit time / torch time, median of pairwise ratios, one column per cnnkit backend)
and images/s of all three.

Run: python bench/train.py [--batch-size 64] [--batches 10] [--repeats 15] [--data random|digits] [--quick]
"""
from __future__ import annotations

import argparse
import io
import sys
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from harness import THREADS, compare_backends, print_backends_table, print_environment, train_step

import cnnkit as ck
from cnnkit import models
from cnnkit.data import ArrayDataset, DataLoader
from cnnkit.nn import CrossEntropyLoss
from cnnkit.optim import SGD
from cnnkit.train import Trainer

LR, MOMENTUM = 0.01, 0.9


class TorchLeNet5(torch.nn.Module):
    """LeNet-5 in PyTorch, with the same module names as ``ck.models.lenet5()`` (so state dicts match by name)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(1, 6, 5, padding=2)), ("act1", nn.ReLU()), ("s2", nn.MaxPool2d(2)),
            ("c3", nn.Conv2d(6, 16, 5)), ("act3", nn.ReLU()), ("s4", nn.MaxPool2d(2)),
            ("c5", nn.Conv2d(16, 120, 5)), ("act5", nn.ReLU()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("f6", nn.Linear(120, 84)), ("act6", nn.ReLU()),
            ("output", nn.Linear(84, num_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.features(x))


def make_data(kind: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "digits":
        from cnnkit.data.datasets import digits

        train = digits(train=True)
        idx = rng.integers(0, len(train), size=n)
        x, y = train.arrays[0][idx], train.arrays[1][idx]
        x = (x - x.mean()) / x.std()
    else:
        x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, size=n)
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)


def build_models(seed: int = 0):
    ck.manual_seed(seed)
    ck_model = models.lenet5()
    th_model = TorchLeNet5()
    th_model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ck_model.state_dict().items()})
    n_ck = sum(p.numel() for p in ck_model.parameters())
    n_th = sum(p.numel() for p in th_model.parameters())
    assert n_ck == n_th == 61_706, (n_ck, n_th)
    return ck_model, th_model


def training_cases(x: np.ndarray, y: np.ndarray, batch_size: int):
    """Timers for one chunk of training steps over (x, y): (cnnkit plain loop, cnnkit Trainer.fit, torch loop)."""
    ck_model, th_model = build_models()
    ck_opt = SGD(ck_model.parameters(), lr=LR, momentum=MOMENTUM)
    ck_loss = CrossEntropyLoss()
    ck_batches = [(ck.tensor(x[i:i + batch_size]), ck.tensor(y[i:i + batch_size]))
                  for i in range(0, len(x), batch_size)]
    th_opt = torch.optim.SGD(th_model.parameters(), lr=LR, momentum=MOMENTUM)
    th_loss = torch.nn.CrossEntropyLoss()
    th_batches = [(torch.from_numpy(x[i:i + batch_size]), torch.from_numpy(y[i:i + batch_size]))
                  for i in range(0, len(x), batch_size)]

    def ck_steps():
        for xb, yb in ck_batches:
            train_step(ck_model, ck_opt, ck_loss, xb, yb)

    def th_steps():
        for xb, yb in th_batches:
            train_step(th_model, th_opt, th_loss, xb, yb)

    fit_model, _ = build_models()
    trainer = Trainer(fit_model, SGD(fit_model.parameters(), lr=LR, momentum=MOMENTUM), CrossEntropyLoss(),
                      quiet=True, stream=io.StringIO())
    loader = DataLoader(ArrayDataset(x, y), batch_size=batch_size, shuffle=False)

    def ck_fit():
        trainer.fit(loader, trainer.epoch + 1)

    return ck_steps, ck_fit, th_steps


def inference_cases(x: np.ndarray, batch_size: int):
    ck_model, th_model = build_models()
    ck_model.eval()
    th_model.eval()
    ck_batches = [ck.tensor(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    th_batches = [torch.from_numpy(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]

    def ck_forward():
        with ck.no_grad():
            for xb in ck_batches:
                ck_model(xb)

    def th_forward():
        with torch.no_grad():
            for xb in th_batches:
                th_model(xb)

    return ck_forward, th_forward


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=10, help="training steps per timing (default 10)")
    parser.add_argument("--repeats", type=int, default=15, help="timed chunks per framework (default 15)")
    parser.add_argument("--data", choices=("random", "digits"), default="random")
    args = parser.parse_args(argv)
    print_environment()
    n = args.batch_size * args.batches
    x, y = make_data(args.data, n)
    ck_steps, ck_fit, th_steps = training_cases(x, y, args.batch_size)
    ck_forward, th_forward = inference_cases(x, args.batch_size)
    chunk = f"{args.batches} x batch {args.batch_size}"
    rows = [compare_backends(f"train step ({chunk})", ck_steps, th_steps, repeats=args.repeats),
            compare_backends(f"Trainer.fit vs torch loop ({chunk})", ck_fit, th_steps, repeats=args.repeats),
            compare_backends(f"inference ({chunk})", ck_forward, th_forward, repeats=args.repeats)]
    print_backends_table(f"LeNet-5 training, float32, SGD momentum, {args.data} data of shape 1x28x28", rows)
    print(f"\nthroughput (images/s, median chunk time; {THREADS} threads each):\n")
    print("| case | cnnkit NumPy images/s | cnnkit oneDNN images/s | torch images/s |")
    print("|---|---:|---:|---:|")
    for r in rows:
        onednn = "-" if r["onednn_ms"] is None else f"{n / (r['onednn_ms'] / 1e3):,.0f}"
        print(f"| {r['name']} | {n / (r['numpy_ms'] / 1e3):,.0f} | {onednn} | {n / (r['torch_ms'] / 1e3):,.0f} |")


if __name__ == "__main__":
    main()
