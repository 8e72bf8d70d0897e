"""Steadiness: six consecutive forward + backward calls of one layer, worst / best, cnnkit beside torch.

Issue 16 (item 5) measured the threading of the NumPy path collapsing on a 2-core machine: the same layer
called six times in a row took 47-483 ms, and up to 2.5 s with another process keeping a core busy. This
script measures that spread for the issue's three layers (2 threads each, float32):

- ``1x1 256->64 @56 b4``, ``3x3 256@14 b8``, ``3x3 64@56 b4`` (padding 1 for the 3x3 layers).

Per layer and round: one untimed warm-up call, then six back-to-back timed calls in cnnkit, a settle pause,
the same in torch (the order of the two frameworks alternates between rounds). A row prints the best and the
worst of all the timed calls of its phase and their ratio, the spread (the issue's target: at most 1.5 quiet).
``--busy`` adds a phase with a competing process spinning on one core (a Python busy loop,
started before the phase and terminated after it); its rows also print the worst call against the same
framework's quiet best (target: at most 3).

Run it twice, as the issue asks for both kinds of GEMM kernel on this AVX-512 CPU::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/stability.py --busy
    OPENBLAS_CORETYPE=Haswell python bench/stability.py --busy       # OpenBLAS's AVX2 kernels

``--using key=value`` (repeatable) runs cnnkit's calls under ``kernels.using(key=value)``, to compare
threading choices: ``--using split_blas_kernels=True``. ``--threading`` instead alternates, in one run, cnnkit as
it is, cnnkit with BLAS limited to one thread (by the benchmark, through threadpoolctl) with and without its own
workers, and torch, and prints each one's median and spread.

Run: python bench/stability.py [--rounds 3] [--busy] [--using key=value ...] [--quick]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conv import conv_case
from harness import QUICK, THREADS, print_environment, quick, settle, time_once

from cnnkit import kernels

LAYERS = [
    ("1x1 256->64 @56 b4", lambda: conv_case(quick(4, 1), quick(256, 8), quick(64, 8), quick(56, 7), 1)),
    ("3x3 256@14 b8", lambda: conv_case(quick(8, 1), quick(256, 8), quick(256, 8), quick(14, 7), 3, padding=1)),
    ("3x3 64@56 b4", lambda: conv_case(quick(4, 1), quick(64, 8), quick(64, 8), quick(56, 7), 3, padding=1)),
]
CALLS = 6


def _value(text: str):
    """A ``--using`` value: an int, a float, True/False/None, else the string."""
    for convert in (int, float):
        with contextlib.suppress(ValueError):
            return convert(text)
    return {"True": True, "False": False, "None": None}.get(text, text)


@contextlib.contextmanager
def busy_neighbour(on: bool):
    """A separate process spinning on one core for the duration of the block (nothing if ``on`` is False)."""
    if not on:
        yield
        return
    # spins until its parent (this benchmark) is gone, so that a killed benchmark leaves no spinner behind
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.3)  # let it start spinning
        yield
    finally:
        spinner.terminate()
        spinner.wait()


def _contestants(run_ck, run_th, options: dict, threading: bool) -> dict:
    """{name: (fn, context factory)}: cnnkit (under ``options``) and torch; with ``threading`` also cnnkit under
    the other threading choices. The benchmark, as the user of its process, may limit BLAS's threads for a
    block (threadpoolctl); cnnkit itself never does."""
    out = {"cnnkit": (run_ck, lambda: kernels.using(**options)), "torch": (run_th, contextlib.nullcontext)}
    if threading:
        from threadpoolctl import threadpool_limits

        @contextlib.contextmanager
        def blas1(**using):
            with threadpool_limits(limits=1, user_api="blas"), kernels.using(**using):
                yield

        out["cnnkit, BLAS 1 thread + own workers"] = (run_ck, lambda: blas1(split_blas_kernels=True))
        out["cnnkit, BLAS 1 thread, one thread"] = (run_ck, lambda: blas1(threads=1))
    return out


def measure(rounds: int, options: dict, threading: bool = False) -> dict:
    """{layer: {contestant: [seconds...]}} for the current machine state; the contestants' blocks alternate
    (their order rotates between rounds)."""
    out = {}
    for name, make in LAYERS:
        contestants = _contestants(*make(), options, threading)
        times = {c: [] for c in contestants}
        order = list(contestants)
        for r in range(rounds):
            for c in order[r % len(order):] + order[:r % len(order)]:
                fn, context = contestants[c]
                settle()
                with context():
                    fn()  # warm-up: first-call allocations are not the threading's spread
                    times[c].extend(time_once(fn) for _ in range(1 if QUICK else CALLS))
        out[name] = times
    return out


def print_threading(result: dict) -> None:
    """One row per layer and contestant: median, best, worst, spread."""
    print(f"\n### threading choices, alternated in one run  ({THREADS} threads each; {CALLS} consecutive calls per "
          "round; ms)\n")
    print("| case | runs as | median | best | worst | spread |")
    print("|---|---|--:|--:|--:|--:|")
    for name, times in result.items():
        for c, t in times.items():
            print(f"| {name} | {c} | {1e3 * statistics.median(t):.1f} | {1e3 * min(t):.1f} | {1e3 * max(t):.1f} | "
                  f"{max(t) / min(t):.2f} |")


def print_spreads(title: str, result: dict, quiet_best: dict | None = None) -> None:
    print(f"\n### {title}  ({THREADS} threads each; {CALLS} consecutive calls per round; ms)\n")
    extra = " | cnnkit worst / quiet best | torch worst / quiet best" if quiet_best else ""
    dash = "|--:|--:" if quiet_best else ""
    print(f"| case | cnnkit best–worst | cnnkit spread | torch best–worst | torch spread | spread ratio{extra} |")
    print(f"|---|--:|--:|--:|--:|--:{dash}|")
    for name, times in result.items():
        cells = []
        for framework in ("cnnkit", "torch"):
            t = times[framework]
            cells += [f"{1e3 * min(t):.1f}–{1e3 * max(t):.1f}", f"{max(t) / min(t):.2f}"]
        ratio = (max(times["cnnkit"]) / min(times["cnnkit"])) / (max(times["torch"]) / min(times["torch"]))
        row = f"| {name} | {' | '.join(cells)} | {ratio:.2f}"
        if quiet_best:
            row += "".join(f" | {max(times[f]) / quiet_best[name][f]:.2f}" for f in ("cnnkit", "torch"))
        print(row + " |")


def main(rounds: int, busy: bool, options: dict, threading: bool = False) -> dict:
    print_environment()
    if threading:
        results = {"quiet": measure(rounds, options, True)}
        print_threading(results["quiet"])
        if busy:
            with busy_neighbour(True):
                results["busy"] = measure(rounds, options, True)
            print("\nwith one core kept busy by another process:")
            print_threading(results["busy"])
        return results
    if options:
        print(f"cnnkit runs under kernels.using({', '.join(f'{k}={v!r}' for k, v in options.items())})")
    quiet = measure(rounds, options)
    print_spreads("quiet: six consecutive forward + backward calls, worst / best (spread ratio = cnnkit / torch)",
                  quiet)
    results = {"quiet": quiet}
    if busy:
        with busy_neighbour(True):
            results["busy"] = measure(rounds, options)
        best = {name: {f: min(t[f]) for f in t} for name, t in quiet.items()}
        print_spreads("one core kept busy by another process", results["busy"], best)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of six calls per framework and layer")
    parser.add_argument("--busy", action="store_true", help="also measure with a process spinning on one core")
    parser.add_argument("--using", action="append", default=[], metavar="KEY=VALUE",
                        help="run cnnkit under kernels.using(KEY=VALUE) (repeatable)")
    parser.add_argument("--threading", action="store_true",
                        help="also run cnnkit with a single-threaded BLAS (with and without its own workers), "
                             "alternated with the default and torch, and print medians and spreads")
    args = parser.parse_args()
    opts = dict(item.split("=", 1) for item in args.using)
    main(quick(args.rounds, 1), args.busy, {k: _value(v) for k, v in opts.items()}, args.threading)
