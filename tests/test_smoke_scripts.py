"""Smoke runs: every example and every benchmark script runs to the end as a subprocess (benchmarks in quick
mode: one timed call per case, tiny sizes, no settle pauses) and prints its table. Numbers are not checked."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
BENCHES = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "harness.py")

# what each script prints once it has run (the header of its table)
EXAMPLE_HEADERS = {"autograd_tour.py": "gradcheck of"}
BENCH_HEADERS = {"serve_load.py": "latency: p50"}  # not a comparison with torch: no ratio table
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
        assert "| measure | cnnkit MiB | torch MiB | ratio |" in out, out[-2000:]
