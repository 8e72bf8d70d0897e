"""A/B: the same case timed on two source trees of cnnkit (e.g. main and a branch), alternated call by call.

One worker process per tree (``PYTHONPATH`` = the tree) builds the case once and then, on each request from this
process, busy-waits the harness's settle pause and times one call: A, B, A, B, ... so the machine's slow phases
hit both. Printed per case: the median of the pairwise ratios B / A (below 1: B is faster) and both medians.
Only one worker runs at a time (the other waits on its pipe). Threads as bench/harness.py (BENCH_THREADS, 2).

Make a tree of a revision with ``git archive REV | tar -x -C DIR``. Run with CNNKIT_ONEDNN=0 for the NumPy path.
The "conv-suite ..." cases are cnnkit's side of bench/conv.py's rows (the layers issue 16 found furthest from
torch on oneDNN), built by that script's ``conv_case``.

Run: python bench/ab.py --a DIR_A --b DIR_B [--repeats 21] [case ...]   (cases: see CASES; default all,
in quick mode the first)
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUICK, print_environment, settle, time_once, train_step


def _bn(shape, channels_last=False):
    def make():
        import numpy as np

        import cnnkit as ck
        import cnnkit.nn as nn

        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32)
        if channels_last:
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        g = rng.standard_normal(shape).astype(np.float32)
        layer = nn.BatchNorm2d(shape[1])

        def run():
            xt = ck.tensor(x, requires_grad=True)
            layer(xt).backward(ck.tensor(g))
        return run
    return make


def _optimizer(kind, **options):
    def make():
        import numpy as np

        import cnnkit as ck
        from cnnkit import models, optim

        ck.manual_seed(0)
        model = models.resnet18()
        params = list(model.parameters())
        rng = np.random.default_rng(0)
        for p in params:
            p.grad = ck.tensor(rng.standard_normal(p.shape).astype(np.float32) * 1e-3)
        opt = getattr(optim, kind)(params, lr=1e-3, **options)
        opt.step()  # state allocated
        return opt.step
    return make


def _conv(n, c, o, hw):
    def make():
        import numpy as np

        import cnnkit as ck
        import cnnkit.nn as nn

        ck.manual_seed(0)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        layer = nn.Conv2d(c, o, 3, padding=1)
        g = rng.standard_normal((n, o, hw, hw)).astype(np.float32)

        def run():
            layer(ck.tensor(x, requires_grad=True)).backward(ck.tensor(g))
        return run
    return make


def _lenet(batch=64, steps=10):
    def make():
        import numpy as np

        import cnnkit as ck
        from cnnkit import models
        from cnnkit.nn import CrossEntropyLoss
        from cnnkit.optim import SGD

        ck.manual_seed(0)
        model = models.lenet5()
        opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = CrossEntropyLoss()
        rng = np.random.default_rng(0)
        batches = [(ck.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)),
                    ck.tensor(rng.integers(0, 10, batch))) for _ in range(steps)]
        return _steps(model, opt, loss_fn, batches)
    return make


def _steps(model, opt, loss_fn, batches):
    """A closure running one SGD step per (input, target) pair of ``batches``."""
    def run():
        for xb, yb in batches:
            train_step(model, opt, loss_fn, xb, yb)
    return run


def _train(name, batch=8, side=112):
    """One training step of model ``name`` (SGD with momentum, cross-entropy) on a fixed random batch: the
    ResNet-18 step of bench/targets.py, cnnkit's side."""
    def make():
        import numpy as np

        import cnnkit as ck
        from cnnkit import models
        from cnnkit.nn import CrossEntropyLoss
        from cnnkit.optim import SGD

        ck.manual_seed(0)
        model = models.get(name)
        opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = CrossEntropyLoss()
        rng = np.random.default_rng(0)
        xb = ck.tensor(rng.standard_normal((batch, 3, side, side)).astype(np.float32))
        return _steps(model, opt, loss_fn, [(xb, ck.tensor(rng.integers(0, 1000, batch)))])
    return make


def _infer(name, side=224):
    def make():
        import numpy as np

        import cnnkit as ck
        from cnnkit import models

        ck.manual_seed(0)
        model = models.get(name)
        model.eval()
        x = ck.tensor(np.random.default_rng(0).standard_normal((1, 3, side, side)).astype(np.float32))

        def run():
            with ck.no_grad():
                model(x)
        return run
    return make


def _small_calls():
    """The per-call cost of small layers (tiny arrays: the framework's overhead, not the arithmetic): 50 each of
    a 3x3 conv2d forward under no_grad, conv2d forward + backward, max_pool2d and linear forward + backward."""
    def make():
        import numpy as np

        import cnnkit as ck
        import cnnkit.nn.functional as F

        rng = np.random.default_rng(0)
        x = ck.tensor(rng.standard_normal((1, 4, 6, 6)).astype(np.float32), requires_grad=True)
        w = ck.tensor(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), requires_grad=True)
        v = ck.tensor(rng.standard_normal((2, 16)).astype(np.float32), requires_grad=True)
        fc = ck.tensor(rng.standard_normal((8, 16)).astype(np.float32), requires_grad=True)
        g_conv, g_pool, g_fc = (ck.tensor(np.ones(s, np.float32)) for s in ((1, 4, 6, 6), (1, 4, 3, 3), (2, 8)))

        def run():
            for _ in range(50):
                with ck.no_grad():
                    F.conv2d(x, w, padding=1)
                F.conv2d(x, w, padding=1).backward(g_conv)
                F.max_pool2d(x, 2).backward(g_pool)
                F.linear(v, fc).backward(g_fc)
        return run
    return make


def _conv_row(label):
    """cnnkit's forward + backward of the row ``label`` of bench/conv.py's CONV_ROWS (the conv suite's layers)."""
    def make():
        from conv import CONV_ROWS

        return dict(CONV_ROWS)[label]()[0]
    return make


CASES = {
    "bn 32x64x56x56": _bn((32, 64, 56, 56)),
    "bn 32x64x56x56 NHWC": _bn((32, 64, 56, 56), channels_last=True),
    "bn 8x256x14x14": _bn((8, 256, 14, 14)),
    "bn 64x512x4x4": _bn((64, 512, 4, 4)),
    "sgd momentum, resnet18": _optimizer("SGD", momentum=0.9),
    "sgd nesterov wd, resnet18": _optimizer("SGD", momentum=0.9, nesterov=True, weight_decay=5e-4),
    "adam, resnet18": _optimizer("Adam"),
    "adamw amsgrad, resnet18": _optimizer("AdamW", amsgrad=True),
    "rmsprop centered momentum, resnet18": _optimizer("RMSprop", momentum=0.9, centered=True),
    "adagrad, resnet18": _optimizer("Adagrad"),
    "adadelta, resnet18": _optimizer("Adadelta"),
    "conv3x3 64@56 b8": _conv(8, 64, 64, 56),
    "conv3x3 256@14 b8": _conv(8, 256, 256, 14),
    "conv3x3 256@8 b8": _conv(8, 256, 256, 8),
    "conv3x3 512@7 b16": _conv(16, 512, 512, 7),
    "lenet5 train 10x64": _lenet(),
    **{f"conv-suite {label}": _conv_row(label) for label in (
        "ResNet 1x1 b4 256->64 56x56", "AlexNet conv1 b4 3->64 11x11/4 p2 224", "depthwise 3x3 b8 128 p1 56x56",
        "VGG 3x3 b4 64->64 p1 56x56", "LeNet-5 C3  b64 6->16 5x5 14x14")},
    "lenet5 train 10x8": _lenet(batch=8),
    "resnet18 train b8 112": _train("resnet18"),
    "resnet18 infer b1": _infer("resnet18"),
    "vgg11 infer b1": _infer("vgg11"),
    "small calls x50": _small_calls(),
}


def cpu_time_once(fn) -> float:
    """The CPU seconds (all threads of this process) one call takes: on a loaded machine less disturbed than the
    wall time by the time slices other processes get, though not by what they do to the caches."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def worker(name: str, cpu: bool) -> None:
    """Build the case, warm it up, then time one call per line read from stdin (printing seconds)."""
    run = CASES[name]()
    for _ in range(0 if QUICK else 2):
        run()
    print("ready", flush=True)
    for _ in sys.stdin:
        settle()
        print(cpu_time_once(run) if cpu else time_once(run), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = str(Path(__file__).resolve().parent.parent)
    parser.add_argument("--a", default=root, help="source tree A (a directory holding cnnkit/; default this one)")
    parser.add_argument("--b", default=root, help="source tree B (default this one)")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--cpu", action="store_true", help="time CPU seconds (process_time) instead of wall time")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("cases", nargs="*", help=f"default: all of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.cpu)
        return
    names = args.cases or (list(CASES)[:1] if QUICK else list(CASES))
    for name in names:
        if name not in CASES:
            parser.error(f"unknown case {name!r}; expected one of {', '.join(CASES)}")
    repeats = 1 if QUICK else args.repeats
    print_environment()
    print(f"\nA = {args.a}, B = {args.b}; ratio = B / A, median of {repeats} pairwise ratios"
          f"{' of CPU times' if args.cpu else ''}\n")
    print("| case | A ms | B ms | ratio B/A |")
    print("|---|--:|--:|--:|")
    for name in names:
        procs = []
        for tree in (args.a, args.b):
            env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
            proc = subprocess.Popen([sys.executable, __file__, "--worker", name] + ["--cpu"] * args.cpu,
                                    env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready", f"worker for {tree} failed"
            procs.append(proc)
        times = [[], []]
        for _ in range(repeats):
            for i, proc in enumerate(procs):
                proc.stdin.write("go\n")
                proc.stdin.flush()
                times[i].append(float(proc.stdout.readline()))
        for proc in procs:
            proc.stdin.close()
            proc.wait()
        ratio = statistics.median(b / a for a, b in zip(*times))
        print(f"| {name} | {1e3 * statistics.median(times[0]):.3f} | {1e3 * statistics.median(times[1]):.3f} | "
              f"{ratio:.3f} |", flush=True)


if __name__ == "__main__":
    main()
