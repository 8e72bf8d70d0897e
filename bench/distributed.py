"""Data-parallel training throughput over MPI: images/s on 1 and 2 ranks and the time spent in all-reduce.

For each model (LeNet-5 on 1×28×28, ResNet-18 on 3×32×32 with 10 classes; float32, SGD with momentum, random
images) three runs under ``mpiexec`` on this machine (127.0.0.1):

- 1 rank × 2 threads (the whole machine to one process),
- 1 rank × 1 thread,
- 2 ranks × 1 thread (``DistributedDataParallel``, ``--batch-size`` images per rank, so 2× the global batch),
  with the all-reduce overlapping backward (the default) and without (``overlap=False``: after backward).

Each run does ``--warmup`` steps, then times ``--steps`` steps (forward, loss, backward with the gradient
all-reduce, optimizer step). Printed per run: images/s over all ranks, ms per step, the all-reduce time per step as
measured inside training on rank 0 (it includes waiting for the slower rank), the all-reduce of the same gradient
bytes alone (back to back, no compute: the communication cost itself), and the gradient megabytes reduced per
step. ``ratio`` is images/s against 1 rank × 1 thread (above 1: faster): the scale-out of the same per-rank work;
1 rank × 2 threads is the other way to use the same 2 cores. Benchmarks print; they never assert.

Run: python bench/distributed.py [--steps 8] [--warmup 2] [--quick]
(the worker half runs as ``mpiexec -n R python bench/distributed.py --worker ...``)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

if "--quick" in sys.argv:
    sys.argv.remove("--quick")
    os.environ["CNNKIT_BENCH_QUICK"] = "1"
QUICK = os.environ.get("CNNKIT_BENCH_QUICK", "") not in ("", "0")
ROOT = Path(__file__).resolve().parent.parent

MODELS = {  # name: (constructor kwargs, input shape, batch per rank)
    "lenet5": ({"num_classes": 10}, (1, 28, 28), 64),
    "resnet18": ({"num_classes": 10}, (3, 32, 32), 16),
}
RUNS = [(1, 1, True), (2, 1, True), (2, 1, False), (1, 2, True)]  # (ranks, threads per rank, overlap); 1st: base


def worker(args) -> None:
    import numpy as np

    import cnnkit as ck
    from cnnkit.distributed import DistributedDataParallel

    world = ck.distributed.init()
    kwargs, shape, _ = MODELS[args.model]
    if QUICK and args.model == "resnet18":
        shape = (3, 16, 16)
    ck.manual_seed(0)
    model = DistributedDataParallel(ck.models.get(args.model, **kwargs), process_group=world,
                                    overlap=not args.no_overlap)
    optimizer = ck.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = ck.nn.CrossEntropyLoss()
    rng = np.random.default_rng(world.rank)
    x = ck.tensor(rng.normal(size=(args.batch, *shape)).astype(np.float32))
    y = ck.tensor(rng.integers(0, 10, size=args.batch))

    def step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    world.barrier()
    world.stats.update(all_reduce_seconds=0.0, all_reduce_calls=0, all_reduce_bytes=0)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    world.barrier()
    seconds = time.perf_counter() - start
    in_training = world.stats["all_reduce_seconds"] / args.steps
    bytes_per_step = world.stats["all_reduce_bytes"] / args.steps
    alone = 0.0
    if world.world_size > 1:  # the same buckets, all-reduced back to back
        buffers = [b.copy() for b in model.reducer.buffers]
        world.barrier()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            for b in buffers:
                world.all_reduce(b)
        alone = (time.perf_counter() - t0) / args.steps
    if world.rank == 0:
        print(json.dumps({"images_per_s": world.world_size * args.batch * args.steps / seconds,
                          "ms_per_step": 1e3 * seconds / args.steps, "all_reduce_ms": 1e3 * in_training,
                          "alone_ms": 1e3 * alone, "mb_per_step": bytes_per_step / 1e6,
                          "params": sum(p.numel() for p in model.parameters())}), flush=True)


def launch(model: str, ranks: int, threads: int, overlap: bool, steps: int, warmup: int) -> dict:
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("bench/distributed.py: no mpiexec found (pip install 'cnnkit[distributed]')")
    batch = 4 if QUICK else MODELS[model][2]
    env = dict(os.environ, PYTHONPATH=str(ROOT), CNNKIT_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [mpiexec, "-n", str(ranks), "-hosts", "127.0.0.1", sys.executable, str(Path(__file__).resolve()),
               "--worker", "--model", model, "--batch", str(batch), "--steps", str(steps), "--warmup", str(warmup)]
    command += [] if overlap else ["--no-overlap"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/distributed.py: {model} on {ranks} ranks failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return dict(result, model=model, ranks=ranks, threads=threads, batch=batch)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", choices=sorted(MODELS), default="lenet5", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--no-overlap", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=2 if QUICK else 8)
    p.add_argument("--warmup", type=int, default=1 if QUICK else 2)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"environment: {os.cpu_count()} CPUs visible, mpiexec on 127.0.0.1, steps {args.steps} after "
          f"{args.warmup} warm-up, batch per rank: " + ", ".join(f"{m} {4 if QUICK else v[2]}"
                                                              for m, v in MODELS.items()))
    print("\n| case | ranks × threads | images/s | ms/step | all-reduce ms/step (in training) | all-reduce alone ms "
          "| MB reduced/step | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for model in MODELS:
        base = None
        for ranks, threads, overlap in RUNS:
            r = launch(model, ranks, threads, overlap, args.steps, args.warmup)
            base = base or r["images_per_s"]
            how = "" if ranks == 1 else (", overlap" if overlap else ", after backward")
            print(f"| {model} ({r['params']:,} params) | {ranks} × {threads}{how} | {r['images_per_s']:.1f} | "
                  f"{r['ms_per_step']:.1f} | {r['all_reduce_ms']:.2f} | {r['alone_ms']:.2f} | "
                  f"{r['mb_per_step']:.2f} | {r['images_per_s'] / base:.2f} |", flush=True)
    print("\nratio = images/s against 1 rank × 1 thread; 2 ranks process 2× the global batch per step. "
          "'in training' includes waiting for the slower rank; 'alone' is the same bytes all-reduced back to back.")


if __name__ == "__main__":
    main()
