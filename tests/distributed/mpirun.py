"""``mpiexec -n N`` on this machine (127.0.0.1 only) for the tests: finds the launcher next to the Python that runs
the tests (the mpich wheel puts it in the virtualenv's bin) or on PATH."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("mpi_worker.py")


def mpiexec() -> str | None:
    return shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")


def run(n: int, *args, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``args`` (after the Python interpreter) on ``n`` ranks; returns the finished process and its seconds."""
    launcher = mpiexec()
    assert launcher is not None, "mpi4py is installed but no mpiexec was found next to Python or on PATH"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [launcher, "-n", str(n), "-hosts", "127.0.0.1", sys.executable, *map(str, args)]
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    return done, time.monotonic() - start


def python(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``args`` in one plain Python process (a world of one), like ``run``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)
