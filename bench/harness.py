"""Timing cnnkit against PyTorch in one run.

Both frameworks run on 2 threads. Each case is timed A, B, A, B, ... (cnnkit, torch alternated) so that
the machine's slow phases hit both; the reported figure is the median of the pairwise ratios
cnnkit_time / torch_time (below 1 means cnnkit is faster). Absolute medians are printed for context only.
Benchmarks print; they never assert.
"""
from __future__ import annotations

import os

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(THREADS)


def time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


SETTLE = 0.02
"""Seconds of untimed busy-waiting before every timed call. After a parallel region torch's OpenMP workers keep
spinning for about 10 ms (libgomp's default wait policy) and steal a core from whatever runs next; the pause
lets each framework start on an idle machine, as it would in a program of its own. It is a busy loop, not a
sleep, so that the CPU stays awake (after a sleep both frameworks run slower)."""


def settle(seconds: float | None = None) -> None:
    end = time.perf_counter() + (SETTLE if seconds is None else seconds)
    while time.perf_counter() < end:
        pass


def compare(name: str, ck_fn, torch_fn, repeats: int = 15, warmup: int = 2) -> dict:
    """Time ``ck_fn`` and ``torch_fn`` alternately (each after a :func:`settle` pause); return the median
    pairwise ratio and both medians."""
    for _ in range(warmup):
        ck_fn()
        torch_fn()
    ratios, a_times, b_times = [], [], []
    for _ in range(repeats):
        settle()
        a = time_once(ck_fn)
        settle()
        b = time_once(torch_fn)
        a_times.append(a)
        b_times.append(b)
        ratios.append(a / b)
    return {"name": name, "ratio": statistics.median(ratios), "cnnkit_ms": 1e3 * statistics.median(a_times),
            "torch_ms": 1e3 * statistics.median(b_times)}


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def print_table(title: str, rows: list, summary_label: str = "geometric mean") -> None:
    """The ratio table every benchmark prints (markdown, so it pastes into a note)."""
    width = max([len(r["name"]) for r in rows] + [10])
    print(f"\n### {title}  ({THREADS} threads each; ratio = cnnkit / torch, median of pairwise ratios)\n")
    print(f"| {'case'.ljust(width)} | cnnkit ms | torch ms | ratio |")
    print(f"|{'-' * (width + 2)}|----------:|---------:|------:|")
    for r in rows:
        print(f"| {r['name'].ljust(width)} | {r['cnnkit_ms']:9.3f} | {r['torch_ms']:8.3f} | {r['ratio']:5.2f} |")
    print(f"| {summary_label.ljust(width)} |           |          | {geomean(r['ratio'] for r in rows):5.2f} |")


def fwd_bwd(ck_f, th_f, *shapes, requires_grad=None, seed: int = 0):
    """Two closures running forward + backward of the same op in cnnkit and in torch on the same float32 data.

    One random input per shape; the backward pass uses one random cotangent of the output's shape.
    ``requires_grad`` (one bool per input, default all True) leaves out gradients nobody needs, e.g. the
    input gradient of a network's first layer.
    """
    import numpy as np

    import cnnkit as ck

    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    flags = [True] * len(arrays) if requires_grad is None else list(requires_grad)
    out_shape = tuple(ck_f(*[ck.tensor(a) for a in arrays]).shape)
    g = rng.standard_normal(out_shape).astype(np.float32)
    g_th = torch.from_numpy(g)

    def run_ck():
        ck_f(*[ck.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]).backward(g)

    def run_th():
        th_f(*[torch.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]).backward(g_th)

    return run_ck, run_th
