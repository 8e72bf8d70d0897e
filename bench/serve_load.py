"""Load check of `cnnkit serve`: 200 drawings from 8 concurrent clients on the loopback, every answer checked.

Run: python bench/serve_load.py [CHECKPOINT] [--requests 200] [--clients 8] [--quick]

Starts `cnnkit serve CHECKPOINT --port 0` in a subprocess (default checkpoint:
runs/lenet5-digits/checkpoint.safetensors; without one, a LeNet-5 is trained for 6 epochs into a temporary folder
first), posts drawings of a "1" and a "0"
(light strokes on a black 280×280 canvas, like the page's) from CLIENTS threads, each with its own keep-alive
connection, and checks every answer: status 200, the drawn digit predicted, and the same JSON as the answer to
the same drawing sent alone before the load (so concurrent requests do not disturb each other). Prints the
latency percentiles (p50, p95, max) and the throughput. Exits non-zero if any answer is wrong. Quick mode (``--quick``
or CNNKIT_BENCH_QUICK=1, as for the other benchmarks; the test suite smoke-runs it so): 16 requests from 4 clients.
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "runs" / "lenet5-digits" / "checkpoint.safetensors"


def drawing(digit: int, dx: float = 0.0) -> bytes:
    """A "1" (a slightly slanted stroke) or a "0" (an ellipse), 22 px wide, shifted by ``dx`` canvas pixels."""
    image = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(image)
    if digit == 1:
        points = [(145 + dx, 45), (140 + dx, 140), (136 + dx, 235)]
    else:
        t = np.linspace(0, 2 * math.pi, 40)
        points = list(zip((140 + dx + 62 * np.sin(t)).tolist(), (140 - 92 * np.cos(t)).tolist(), strict=True))
    pen.line(points, fill=255, width=22, joint="curve")
    for x, y in (points[0], points[-1]):
        pen.ellipse([x - 11, y - 11, x + 11, y + 11], fill=255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def env_with_root() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def train_small(folder: Path) -> Path:
    print(f"no checkpoint at {DEFAULT}: training LeNet-5 for 6 epochs into {folder}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "cnnkit", "train", "lenet5", "--epochs", "6", "--out", str(folder),
                    "--quiet"], check=True, env=env_with_root(), cwd=ROOT)
    return folder / "checkpoint.safetensors"


def start_server(checkpoint: Path):
    """``(process, host, port)`` of ``cnnkit serve`` on a free loopback port."""
    command = [sys.executable, "-m", "cnnkit", "serve", str(checkpoint), "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env_with_root(),
                            cwd=ROOT)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=120)
        except queue.Empty:
            proc.kill()
            raise SystemExit("serve_load: the server printed no URL within 120 s") from None
        print(line, end="", file=sys.stderr)
        if "http://" in line:
            address = line[line.index("http://") + 7:].split("/")[0]
            host, port = address.rsplit(":", 1)
            return proc, host, int(port)


def post(conn: http.client.HTTPConnection, body: bytes):
    conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
    response = conn.getresponse()
    return response.status, response.read()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--requests", type=int, default=None, help="(default: 200; 16 with --quick)")
    parser.add_argument("--clients", type=int, default=None, help="(default: 8; 4 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few requests, numbers mean nothing")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("CNNKIT_BENCH_QUICK", "") not in ("", "0")
    n_requests = args.requests or (16 if quick else 200)
    n_clients = args.clients or (4 if quick else 8)
    with tempfile.TemporaryDirectory(prefix="cnnkit-serve-load-") as tmp:
        checkpoint = Path(args.checkpoint) if args.checkpoint else (DEFAULT if DEFAULT.is_file()
                                                                      else train_small(Path(tmp)))
        proc, host, port = start_server(checkpoint)
        try:
            return run_load(host, port, n_requests, n_clients)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def run_load(host: str, port: int, n_requests: int, n_clients: int) -> int:
    cases = [(digit, dx) for dx in (-30.0, 0.0, 30.0) for digit in (1, 0)]
    bodies = [drawing(digit, dx) for digit, dx in cases]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    reference = []
    for (digit, _), body in zip(cases, bodies, strict=True):  # each drawing alone, before the load
        status, data = post(conn, body)
        answer = json.loads(data)
        if status != 200 or answer["prediction"] != digit:
            raise SystemExit(f"serve_load: the server does not recognize the {digit} ({status}: {data[:200]!r})")
        reference.append(data)
    conn.close()

    jobs: queue.Queue = queue.Queue()
    for i in range(n_requests):
        jobs.put(i % len(cases))
    latencies, failures, lock = [], [], threading.Lock()

    def client():
        c = http.client.HTTPConnection(host, port, timeout=60)
        try:
            while True:
                try:
                    k = jobs.get_nowait()
                except queue.Empty:
                    return
                start = time.perf_counter()
                status, data = post(c, bodies[k])
                seconds = time.perf_counter() - start
                with lock:
                    latencies.append(seconds)
                    if status != 200 or data != reference[k]:
                        failures.append(f"drawing {cases[k]}: status {status}, {data[:120]!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    print(f"{len(latencies)} requests from {n_clients} concurrent clients in {wall:.2f} s "
          f"({len(latencies) / wall:.1f} requests/s)")
    print(f"latency: p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")
    correct = len(latencies) - len(failures)
    print(f"correct answers: {correct}/{n_requests}")
    for line in failures[:10]:
        print("  wrong:", line)
    return 0 if correct == n_requests else 1


if __name__ == "__main__":
    sys.exit(main())
