"""Whole networks against PyTorch: ResNet-18 training and inference, VGG-11 inference, ResNet-50 peak memory.

cnnkit's models (``ck.models.resnet18()``, ``vgg11()``, ``resnet50()``) against the hand-written torch twins
of ``tests/models/torch_reference.py`` (plain ``torch.nn``, torchvision's module names; the file is imported by
path, it does not need pytest), float32, 2 threads each. The twins get cnnkit's initial weights and buffers,
copied by name, so both frameworks compute the same function (the first outputs are compared and printed).

Timing rows (bench/harness.py's compare_backends: cnnkit on the NumPy kernels alone, cnnkit on oneDNN (when
``cnnkit[onednn]`` is installed) and torch alternated call by call; for each cnnkit column the median of the
pairwise ratios cnnkit_time / torch_time, below 1 = cnnkit faster):

- ``resnet18-train``: one training step of ResNet-18 at batch 8, 112x112, train mode (BatchNorm on batch
  statistics): forward, cross-entropy, zero_grad, backward, SGD step (lr 0.01, momentum 0.9);
- ``resnet18-infer``: ResNet-18 forward at batch 1, 224x224, eval mode, no graph (``no_grad``);
- ``vgg11-infer``: VGG-11 forward at batch 1, 224x224, eval mode, no graph.

Memory row (``resnet50-memory``): the peak resident memory of ResNet-50 training (batch 4, 224x224, same step, two
steps). Each column runs in a fresh child process of its own (``--memory-child ck|torch``, same thread settings;
cnnkit twice, with ``CNNKIT_ONEDNN=0`` for the NumPy column and as installed for oneDNN) which imports everything
first (both frameworks, so the baselines are alike), reads its resident set (VmRSS in /proc/self/status) as the
baseline and resets the peak counter to it (writing 5 to /proc/self/clear_refs), builds model, optimizer and data,
reads VmRSS again, runs two steps and reports the process's peak resident set (VmHWM). ``getrusage().ru_maxrss`` is
not used: Linux carries it over the fork/exec that starts the child, so it reports the parent's peak when that is
higher. Printed: the peak above the baseline (weights, gradients, momentum buffers, activations, workspace: the
issue's measure), the part of it above the built model (the training step alone), what stays resident after the
steps, and the absolute figures.

Pre-packing A/B (``--prepack-ab``): the two inference rows timed in cnnkit alone, alternately with oneDNN's
weights kept pre-packed (``cnnkit.kernels.onednn.packed``, the default) and reordered at every call (its
``ENABLED`` switch off); ratio = with / without, median of pairwise ratios.

Run: python bench/models.py [--repeats N] [--rows resnet18-train resnet18-infer vgg11-infer resnet50-memory]
                            [--no-memory] [--prepack-ab] [--quick]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import torch
from harness import (
    THREADS,
    compare,
    compare_backends,
    onednn_active,
    print_backends_table,
    print_environment,
    quick,
    train_step,
)

import cnnkit as ck

ROOT = Path(__file__).resolve().parent.parent
LR, MOMENTUM = 0.01, 0.9
TRAIN_REPEATS, INFER_REPEATS = 7, 15
TIMING_ROWS = ("resnet18-train", "resnet18-infer", "vgg11-infer")
MEMORY_ROW = "resnet50-memory"


def torch_reference():
    """``tests/models/torch_reference.py``, imported by path (plain torch, no pytest)."""
    spec = importlib.util.spec_from_file_location("cnnkit_torch_reference",
                                                  ROOT / "tests" / "models" / "torch_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def twins(name: str, seed: int = 0):
    """cnnkit's model ``name`` and its torch twin carrying the same weights and buffers (copied by name)."""
    ck.manual_seed(seed)
    ck_model = ck.models.get(name)
    th_model = getattr(torch_reference(), f"ref_{name}")()
    th_model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ck_model.state_dict().items()},
                             strict=True)
    return ck_model, th_model


def batch(n: int, side: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3, side, side)).astype(np.float32)
    y = rng.integers(0, 1000, size=n).astype(np.int64)
    return x, y


def train_step_fns(ck_model, th_model, x: np.ndarray, y: np.ndarray):
    """Closures running one training step (forward, cross-entropy, zero_grad, backward, SGD momentum step)."""
    ck_model.train()
    th_model.train()
    ck_opt = ck.optim.SGD(ck_model.parameters(), lr=LR, momentum=MOMENTUM)
    th_opt = torch.optim.SGD(th_model.parameters(), lr=LR, momentum=MOMENTUM)
    ck_loss, th_loss = ck.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    xc, yc = ck.tensor(x), ck.tensor(y)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def ck_step():
        return float(train_step(ck_model, ck_opt, ck_loss, xc, yc).item())

    def th_step():
        return float(train_step(th_model, th_opt, th_loss, xt, yt).item())

    return ck_step, th_step


def inference_fns(ck_model, th_model, x: np.ndarray):
    ck_model.eval()
    th_model.eval()
    xc, xt = ck.tensor(x), torch.from_numpy(x)

    def ck_forward():
        with ck.no_grad():
            return ck_model(xc)

    def th_forward():
        with torch.no_grad():
            return th_model(xt)

    return ck_forward, th_forward


def timing_case(key: str):
    """(row name, cnnkit closure, torch closure, agreement note, default repeats) of one timing row; the
    closures carry the same weights (the first outputs, or the first step's losses, are compared in the note)."""
    if key == "resnet18-train":
        n, side = quick((8, 112), (2, 32))
        name = f"ResNet-18 train step b{n} {side}x{side}"
        ck_step, th_step = train_step_fns(*twins("resnet18"), *batch(n, side))
        a, b = ck_step(), th_step()  # the first step starts from the same weights: the losses agree
        return name, ck_step, th_step, f"{name}: first-step loss cnnkit {a:.6f}, torch {b:.6f}", TRAIN_REPEATS
    model, side = {"resnet18-infer": ("resnet18", quick(224, 32)), "vgg11-infer": ("vgg11", quick(224, 32))}[key]
    name = f"{'ResNet-18' if model == 'resnet18' else 'VGG-11'} inference b1 {side}x{side}"
    ck_fwd, th_fwd = inference_fns(*twins(model), batch(1, side)[0])
    diff = float(np.max(np.abs(ck_fwd().numpy() - th_fwd().numpy())))
    return name, ck_fwd, th_fwd, f"{name}: max |logit difference| {diff:.2e}", INFER_REPEATS


def timing_row(key: str, repeats: int | None):
    """(table row of harness.compare_backends: NumPy-only, oneDNN and torch alternated, agreement note)."""
    name, ck_fn, th_fn, note, default = timing_case(key)
    return compare_backends(name, ck_fn, th_fn, repeats=repeats or default), note


def prepack_ab(repeats: int | None) -> None:
    """Inference with and without oneDNN's pre-packed weights, alternated call by call (cnnkit only)."""
    from cnnkit.kernels.onednn import packed

    if not ck.backends.onednn.is_available():
        print("\n(pre-packing A/B left out: oneDNN is not loaded)")
        return
    rows = []
    for model, label in (("resnet18", "ResNet-18"), ("vgg11", "VGG-11")):
        side = quick(224, 32)
        ck_fwd, _ = inference_fns(twins(model)[0], torch.nn.Identity(), batch(1, side)[0])
        counts = packed.stats()

        def unpacked(fwd=ck_fwd):
            packed.ENABLED = False
            try:
                return fwd()
            finally:
                packed.ENABLED = True

        row = compare(f"{label} inference b1 {side}x{side}", ck_fwd, unpacked, repeats=repeats or INFER_REPEATS)
        after = packed.stats()
        rows.append((row, after["packs"] - counts["packs"], after["hits"] - counts["hits"]))
    print(f"\n### oneDNN weight pre-packing A/B  ({THREADS} threads; ratio = with / without pre-packing, median of "
          f"pairwise ratios; cnnkit backend: {ck.backends.onednn.backend_name()})\n")
    print("| case | pre-packed ms | reordered each call ms | ratio | weights packed | reorders saved |")
    print("|---|---:|---:|---:|---:|---:|")
    for r, packs, hits in rows:
        print(f"| {r['name']} | {r['cnnkit_ms']:.3f} | {r['torch_ms']:.3f} | {r['ratio']:.2f} | {packs} | {hits} |")


# ----- peak memory (child processes) --------------------------------------------------------------------------
def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: resident now; VmHWM: peak resident)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident set (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(framework: str, steps: int = 2, n: int | None = None, side: int | None = None) -> dict:
    """Run in a fresh process: ResNet-50 training steps in one framework; the RSS figures in MiB.
    Default batch 4 at 224x224 (quick mode: 2 at 32x32)."""
    n, side = n or quick(4, 2), side or quick(224, 32)
    reference = torch_reference()  # everything imported before the baseline (harness, numpy, torch, cnnkit)
    baseline = _status_mib("VmRSS")
    reset = _reset_peak()  # import transients do not count
    t0 = time.perf_counter()
    x, y = batch(n, side)
    if framework == "ck":
        ck.manual_seed(0)
        model = ck.models.resnet50()
        model.train()
        opt = ck.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        criterion, xb, yb = ck.nn.CrossEntropyLoss(), ck.tensor(x), ck.tensor(y)
    else:
        torch.manual_seed(0)
        model = reference.ref_resnet50()
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        criterion, xb, yb = torch.nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y)
    built = _status_mib("VmRSS")
    for _ in range(steps):
        loss = train_step(model, opt, criterion, xb, yb)
    peak = _status_mib("VmHWM")
    return {"framework": framework, "backend": ck.backends.onednn.backend_name(), "baseline": baseline,
            "built": built, "peak": peak, "end": _status_mib("VmRSS"),
            "peak_reset": reset,
            "loss": float(loss.item()), "seconds": time.perf_counter() - t0, "threads": THREADS}


MEMORY_RUNS = {"numpy": ("ck", {"CNNKIT_ONEDNN": "0"}), "onednn": ("ck", {}), "torch": ("torch", {})}
"""The memory children: cnnkit on the NumPy kernels alone (oneDNN switched off by CNNKIT_ONEDNN=0), cnnkit as
installed (oneDNN on, when it loads) and torch."""


def run_memory_child(run: str) -> dict:
    """One fresh child process of :data:`MEMORY_RUNS`; its figures (MiB) and the backend it ran on."""
    framework, extra = MEMORY_RUNS[run]
    env = dict(os.environ, BENCH_THREADS=str(THREADS), **extra)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--memory-child", framework],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {run} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_above_baseline(r: dict) -> float:
    """The issue's memory measure: the peak resident set above the child's post-import baseline (MiB)."""
    return r["peak"] - r["baseline"]


def memory_figures() -> dict:
    """{run: child figures} for cnnkit on NumPy, cnnkit on oneDNN (left out when it is not active) and torch."""
    runs = ["numpy"] + (["onednn"] if onednn_active() else []) + ["torch"]
    return {run: run_memory_child(run) for run in runs}


def memory_report(res: dict | None = None) -> dict:
    res = res or memory_figures()
    th_r = res["torch"]
    cols = [run for run in ("numpy", "onednn") if run in res]
    rows = [("peak above baseline (model + training step)", peak_above_baseline),
            ("  of which weights + data (RSS after build)", lambda r: r["built"] - r["baseline"]),
            ("  of which the training step (peak above built model)", lambda r: r["peak"] - r["built"]),
            ("RSS after the steps, above baseline (what stays allocated)", lambda r: r["end"] - r["baseline"]),
            ("absolute peak RSS (VmHWM, incl. interpreter + both libraries)", lambda r: r["peak"]),
            ("baseline RSS after imports", lambda r: r["baseline"])]
    n, side = quick(4, 2), quick(224, 32)
    print(f"\n### ResNet-50 training, batch {n}, {side}x{side}, 2 steps: peak resident memory  "
          f"({THREADS} threads each; one fresh process per column; MiB)\n")
    label = {"numpy": "cnnkit NumPy", "onednn": "cnnkit oneDNN"}
    print("| measure | " + " | ".join(f"{label[c]} MiB" for c in cols) + " | torch MiB | "
          + " | ".join(f"{label[c]} ratio" for c in cols) + " |")
    print("|---|" + "---:|" * (2 * len(cols) + 1))
    for text, f in rows:
        print(f"| {text} | " + " | ".join(f"{f(res[c]):,.0f}" for c in cols) + f" | {f(th_r):,.0f} | "
              + " | ".join(f"{f(res[c]) / f(th_r):.2f}" for c in cols) + " |")
    if not all(r["peak_reset"] for r in res.values()):
        print("\n(note: /proc/self/clear_refs was not writable: the peaks include the import transients)")
    print("\nratio = cnnkit / torch (issue 16's targets for the first row: NumPy <= 1.3, oneDNN <= 1.2). "
          "cnnkit backends: " + ", ".join(f"{label[c]}: {res[c]['backend']}" for c in cols)
          + ". Child wall time: " + ", ".join(f"{label.get(c, c)} {r['seconds']:.1f} s" for c, r in res.items())
          + "; last losses " + " / ".join(f"{r['loss']:.4f}" for r in res.values())
          + " (cnnkit and torch start from different initial weights).")
    return res


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed calls per framework (default {TRAIN_REPEATS} for the training step, "
                             f"{INFER_REPEATS} for inference)")
    parser.add_argument("--rows", nargs="+", choices=TIMING_ROWS + (MEMORY_ROW,), default=None,
                        help="rows to run (default: all)")
    parser.add_argument("--no-memory", action="store_true", help=f"leave out {MEMORY_ROW}")
    parser.add_argument("--prepack-ab", action="store_true",
                        help="time the inference rows with and without oneDNN's pre-packed weights (cnnkit only)")
    parser.add_argument("--memory-child", choices=("ck", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child)))
        return
    selected = args.rows or list(TIMING_ROWS + (MEMORY_ROW,))
    print_environment()
    if args.prepack_ab:
        prepack_ab(args.repeats)
        return
    timed = [timing_row(key, args.repeats) for key in TIMING_ROWS if key in selected]
    if timed:
        print_backends_table("whole networks, float32", [row for row, _ in timed])
        print("\nagreement (same weights): " + "; ".join(note for _, note in timed))
    if MEMORY_ROW in selected and not args.no_memory:
        memory_report()


if __name__ == "__main__":
    main()
