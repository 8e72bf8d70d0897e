"""``cnnkit train``'s progress display on a real terminal (a pseudo-terminal of 80 and of 40 columns) and without
one: every drawn state fits the width, the metrics are whole, the run ETA and images/s are shown."""
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def train_on_a_terminal(tmp_path, columns):
    """``cnnkit train`` (2 epochs on 200 digits) with stderr on a pseudo-terminal ``columns`` wide: its stderr."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-m", "cnnkit", "train", "--epochs", "2", "--limit", "200",
                             "--batch-size", "8", "--out", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=slave, cwd=tmp_path, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                raise TimeoutError("no output for 120 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        out = proc.stdout.read().decode()
        proc.stdout.close()
        proc.wait(timeout=120)
    assert proc.returncode == 0
    assert out.startswith("test accuracy: ")
    return b"".join(chunks).decode().replace("\r\n", "\n")  # the terminal turns "\n" into "\r\n"


@pytest.mark.parametrize("columns", [80, 40])
def test_progress_fits_the_terminal(tmp_path, columns):
    err = train_on_a_terminal(tmp_path, columns)
    states = [s.rstrip() for s in re.split(r"[\r\n]", err) if s.strip()]
    assert all(len(s) <= columns for s in states if not s.startswith(("training ", "backend: ", "wrote ", "saved ")))
    drawn = [s for s in states if re.search(r"(acc|a)=", s)]  # the lines drawn during the epochs
    assert len(drawn) >= 4  # at least the first and the last batch of each epoch
    for s in drawn:
        assert len(s) <= columns - 1, s
        assert re.search(r"ETA \d+:\d\d ", s), s  # the whole run's
        assert re.search(r"(loss=\d+\.\d{4}, acc=\d\.\d{4}|l=\d+\.\d\d a=\d\.\d\d)$", s), s
    if columns == 80:
        assert all(re.search(r"\| *\d+/\d+ \d+ img/s ETA", s) for s in drawn)
    else:
        assert all(re.search(r"^ep[12]/2 (\s*\d+/\d+ )?\d+/s ETA", s) for s in drawn)
    # each epoch ends with its summary, wrapped to the width; after the first, the run's ETA
    summaries = re.findall(r"epoch (\d)/2: loss \d\.\d{4},(?:\s+[^\r\n]*?,)*?\s+[^\r\n]*?images/s\)(,\s+run ETA "
                           r"\d+:\d\d)?", err)
    assert summaries == [("1", summaries[0][1]), ("2", "")] and summaries[0][1]


def test_no_terminal_one_plain_line_per_epoch(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--epochs", "2", "--limit", "200",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "ETA" not in proc.stderr
    lines = [s for s in proc.stderr.splitlines() if s.startswith("epoch ")]
    assert len(lines) == 2
    for i, line in enumerate(lines, 1):
        assert re.fullmatch(rf"epoch {i}/2: loss \d\.\d{{4}}, acc \d\.\d{{4}}, val loss \d\.\d{{4}}, val acc "
                            rf"\d\.\d{{4}}, lr [\d.e-]+, \d+\.\d s \(\d+ images/s\)", line), line
