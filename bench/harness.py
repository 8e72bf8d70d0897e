"""Timing cnnkit against PyTorch in one run.

Both frameworks run on 2 threads. Each case is timed A, B, A, B, ... (cnnkit, torch alternated) so that
the machine's slow phases hit both; the reported figure is the median of the pairwise ratios
cnnkit_time / torch_time (below 1 means cnnkit is faster). Absolute medians are printed for context only.
Benchmarks print; they never assert.

Quick mode (``--quick`` on any script's command line, or CNNKIT_BENCH_QUICK=1 in the environment): one timed
call per case, no warm-up, no settle pauses, and the scripts pick tiny sizes (:func:`quick`). Every code path
still runs once; the numbers mean nothing. The test suite smoke-runs every script this way.
"""
from __future__ import annotations

import os

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
BLAS_THREADS = int(os.environ.get("BENCH_BLAS_THREADS", str(THREADS)))
"""NumPy's BLAS threads (OPENBLAS_NUM_THREADS); BENCH_BLAS_THREADS=1 measures cnnkit with a single-threaded BLAS
while cnnkit's own pool (CNNKIT_NUM_THREADS) and torch keep BENCH_THREADS."""
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CNNKIT_NUM_THREADS"):
    os.environ[var] = str(THREADS)
os.environ["OPENBLAS_NUM_THREADS"] = str(BLAS_THREADS)

import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(THREADS)

if "--quick" in sys.argv:  # taken off the command line before the script's own argument parsing
    sys.argv.remove("--quick")
    os.environ["CNNKIT_BENCH_QUICK"] = "1"  # child processes of a script run quick too
QUICK = os.environ.get("CNNKIT_BENCH_QUICK", "") not in ("", "0")


def quick(full, tiny):
    """``tiny`` in quick mode, else ``full`` (a size, a batch, a repeat count)."""
    return tiny if QUICK else full


def time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def train_step(model, optimizer, loss_fn, xb, yb):
    """One training step, the same in both frameworks (their APIs agree): forward, loss, zero_grad, backward,
    optimizer step; returns the loss tensor."""
    loss = loss_fn(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


SETTLE = 0.2
"""Seconds of untimed busy-waiting before every timed call, so that each framework starts on an idle machine,
as it would in a program of its own. Both libraries' worker threads keep spinning after a parallel region and
steal a core from whatever runs next: torch's OpenMP workers for about 10 ms (libgomp's default wait policy),
OpenBLAS's (NumPy's GEMMs) for 2^28 cycles, about 0.1 s (OPENBLAS_THREAD_TIMEOUT's default). Measured here: a
torch convolution ran 2.2x slower 20 ms after a 2-thread NumPy GEMM, 1.2x slower after 0.1 s, unaffected after
0.2 s. It is a busy loop, not a sleep, so that the CPU stays awake (after a sleep both frameworks run slower)."""


def settle(seconds: float | None = None) -> None:
    if QUICK:
        return
    end = time.perf_counter() + (SETTLE if seconds is None else seconds)
    while time.perf_counter() < end:
        pass


def compare(name: str, ck_fn, torch_fn, repeats: int = 15, warmup: int = 2) -> dict:
    """Time ``ck_fn`` and ``torch_fn`` alternately (each after a :func:`settle` pause); return the median
    pairwise ratio and both medians. Quick mode: one call each, no warm-up."""
    if QUICK:
        repeats, warmup = 1, 0
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


def _torch_cpu_capability() -> str:
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        return "?"


def print_environment() -> None:
    """Print, before any table, what the numbers were measured with: the library versions, the thread count and
    every BLAS / OpenMP library loaded in the process (threadpoolctl: internal_api, version, architecture =
    the kernel OpenBLAS picked, num_threads). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, force an
    older kernel (unset both in the benchmarking command alone)."""
    import platform

    import numpy as np

    print(f"environment: Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads, CPU capability {_torch_cpu_capability()}), BENCH_THREADS={THREADS}")
    forced = {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ}
    print("OpenBLAS kernel forced by " + ", ".join(f"{k}={v}" for k, v in forced.items()) if forced
          else "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (OpenBLAS picks its kernel)")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("(threadpoolctl not installed: BLAS kernel unknown)")
        return
    print("\n| library | internal_api | version | architecture | num_threads | threading |")
    print("|---|---|---|---|---:|---|")
    for lib in threadpool_info():
        print(f"| {os.path.basename(lib.get('filepath', '?'))} | {lib.get('internal_api', '?')} | "
              f"{lib.get('version') or '?'} | {lib.get('architecture') or '-'} | {lib.get('num_threads', '?')} | "
              f"{lib.get('threading_layer') or '-'} |")


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


def onednn_active() -> bool:
    """Is cnnkit's optional oneDNN backend loaded (``pip install 'cnnkit[onednn]'``) and switched on?"""
    import cnnkit as ck

    return ck.backends.onednn.is_available() and ck.backends.onednn.enabled


def compare_backends(name: str, ck_fn, torch_fn, repeats: int = 15, warmup: int = 2,
                     budget: float | None = None) -> dict:
    """Like :func:`compare`, with cnnkit timed twice per round: on the NumPy kernels (oneDNN switched off) and on
    the oneDNN backend (when it is loaded), then torch: NumPy, oneDNN, torch, NumPy, ... each after a
    :func:`settle` pause. Returns the median pairwise ratios numpy/torch and onednn/torch (None without oneDNN),
    the three medians and the rounds run. With ``budget`` (seconds, warm-up included) no new round starts once
    it is spent and at least 3 rounds have run, which bounds a run on a crowded machine."""
    import cnnkit as ck

    with_onednn = onednn_active()

    def numpy_fn():
        with ck.backends.onednn.flags(enabled=False):
            ck_fn()

    fns = [numpy_fn] + ([ck_fn] if with_onednn else []) + [torch_fn]
    if QUICK:
        repeats, warmup = 1, 0
    start = time.perf_counter()
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for r in range(repeats):
        if budget is not None and r >= 3 and time.perf_counter() - start > budget:
            break
        for i, fn in enumerate(fns):
            settle()
            times[i].append(time_once(fn))
    torch_times = times[-1]
    row = {"name": name, "rounds": len(torch_times), "numpy_ms": 1e3 * statistics.median(times[0]),
           "torch_ms": 1e3 * statistics.median(torch_times),
           "numpy_ratio": statistics.median(a / b for a, b in zip(times[0], torch_times)),
           "onednn_ms": None, "onednn_ratio": None}
    if with_onednn:
        row["onednn_ms"] = 1e3 * statistics.median(times[1])
        row["onednn_ratio"] = statistics.median(a / b for a, b in zip(times[1], torch_times))
    return row


def print_backends_table(title: str, rows: list, summary_label: str = "geometric mean") -> None:
    """The table of :func:`compare_backends` rows: NumPy-only, oneDNN and torch columns of one run."""
    import cnnkit as ck

    width = max([len(r["name"]) for r in rows] + [10])
    print(f"\n### {title}  ({THREADS} threads each; ratio = cnnkit / torch, median of pairwise ratios; "
          f"cnnkit backend: {ck.backends.onednn.backend_name()})\n")
    print(f"| {'case'.ljust(width)} | NumPy ms | oneDNN ms | torch ms | NumPy ratio | oneDNN ratio |")
    print(f"|{'-' * (width + 2)}|---------:|----------:|---------:|------------:|-------------:|")

    def cell(v, fmt, w):
        return "-".rjust(w) if v is None else format(v, fmt).rjust(w)

    for r in rows:
        print(f"| {r['name'].ljust(width)} | {r['numpy_ms']:8.3f} | {cell(r['onednn_ms'], '.3f', 9)} | "
              f"{r['torch_ms']:8.3f} | {r['numpy_ratio']:11.2f} | {cell(r['onednn_ratio'], '.2f', 12)} |")
    has = all(r["onednn_ratio"] is not None for r in rows)
    print(f"| {summary_label.ljust(width)} |          |           |          | "
          f"{geomean(r['numpy_ratio'] for r in rows):11.2f} | "
          f"{cell(geomean(r['onednn_ratio'] for r in rows) if has else None, '.2f', 12)} |")
    if has:
        print(f"\nhighest oneDNN ratio: {max(r['onednn_ratio'] for r in rows):.2f}")
