"""Smoke runs: every example and every benchmark script runs to the end as a subprocess (benchmarks in quick
mode: one timed call per case, tiny sizes, no settle pauses) and prints its table. Numbers are not checked, except in
bench/targets.py's table: every target row present, every ratio finite and its met/missed mark right."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cnnkit as ck

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
BENCHES = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "harness.py")

# what each script prints once it has run (the header of its table)
EXAMPLE_HEADERS = {"autograd_tour.py": "gradcheck of"}
BENCH_HEADERS = {"serve_load.py": "latency: p50",  # not a comparison with torch: no ratio table
                 "stability.py": "| case | runs as | median | best–worst | spread |"}  # spreads, not ratios
BENCH_ARGS = {"train.py": [["--batch-size", "8", "--batches", "2"],
                           ["--batch-size", "8", "--batches", "2", "--data", "digits"]]}


def run(script: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CNNKIT_BENCH_QUICK="1")
    done = subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"{script.name} {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def test_every_script_is_covered():
    assert {p.name for p in EXAMPLES} <= set(EXAMPLE_HEADERS), "add the new example's table header here"
    assert {p.name for p in BENCHES} >= {"conv.py", "train.py"}


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script):
    out = run(script)
    assert EXAMPLE_HEADERS[script.name] in out, out[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("script, args", [(p, a) for p in BENCHES for a in BENCH_ARGS.get(p.name, [[]])],
                         ids=lambda v: v.name if isinstance(v, Path) else " ".join(v) or "default")
def test_benchmark_runs_quick(script, args):
    if script.name == "distributed.py":
        pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'cnnkit[distributed]')")
    out = run(script, "--quick", *args)
    if script.name in BENCH_HEADERS:
        assert BENCH_HEADERS[script.name] in out, out[-2000:]
        return
    assert "| case" in out and "ratio" in out, out[-2000:]
    if script.name == "models.py":
        assert "| measure | cnnkit NumPy MiB |" in out, out[-2000:]
    if script.name == "targets.py":
        check_targets_table(out)


TARGET_CASES = ["convolution fwd+bwd suite, geometric mean", "convolution fwd+bwd suite, highest layer",
                "LeNet-5 training, batch 64", "ResNet-18 training step, batch 8, 112x112",
                "ResNet-18 inference, batch 1, 224x224", "VGG-11 inference, batch 1, 224x224",
                "ResNet-50 training peak memory (cnnkit / torch)"]


def targets_table(out: str) -> list:
    """The rows of bench/targets.py's closing table, as lists of cells."""
    lines = out[out.index("### issue 16 targets"):].splitlines()[2:]
    assert lines[0].startswith("| case | NumPy ratio | target | NumPy | oneDNN ratio | target | oneDNN |"), lines[0]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def check_mark(ratio: str, target: str, mark: str) -> None:
    value = float(ratio)
    assert math.isfinite(value) and value > 0, ratio
    if target == "-":
        assert mark == "(no target)"
    else:
        assert mark == ("met" if value <= float(target.lstrip("≤ ")) else "missed"), (ratio, target, mark)


def check_targets_table(out: str) -> None:
    """Every case of issue 16's targets is a row; each ratio is a finite positive number and its mark agrees
    with the target; the oneDNN column is filled exactly when the backend is active here."""
    rows = targets_table(out)
    assert [r[0] for r in rows] == TARGET_CASES, out[-3000:]
    onednn = ck.backends.onednn.is_available() and ck.backends.onednn.enabled
    for case, np_ratio, np_target, np_mark, dnn_ratio, dnn_target, dnn_mark in rows:
        check_mark(np_ratio, np_target, np_mark)
        if onednn:
            check_mark(dnn_ratio, dnn_target, dnn_mark)
        else:
            assert (dnn_ratio, dnn_mark) == ("-", "not run"), (case, dnn_ratio, dnn_mark)
