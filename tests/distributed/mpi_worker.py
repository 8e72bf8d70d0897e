"""Run by tests/distributed/test_mpi.py under ``mpiexec -n 2`` (and once as a single process for the reference).

    python mpi_worker.py steps OUT [--sync-bn] [--ranks-batch B] [--steps K]
        K steps of SGD on a small float64 CNN, DistributedDataParallel + DistributedSampler; every rank writes
        OUT/rank<r>.npz with the state after every step ("<step>/<name>").
    python mpi_worker.py raise            rank 1 raises ValueError; rank 0 waits in an all-reduce
    python mpi_worker.py mismatch         rank 1 builds a model with a different layer
    python mpi_worker.py fit OUT EPOCHS [--fail-at-batch N] [--resume]
        Trainer.fit on a sharded data set with checkpoints in OUT; with --fail-at-batch rank 1's data set raises
        at its N-th batch (an interrupted run).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.data import ArrayDataset, DataLoader, Subset
from cnnkit.distributed import DistributedDataParallel, DistributedSampler, SyncBatchNorm

N, SEED = 64, 5


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=(N, 2, 8, 8))
    y = rng.integers(0, 3, size=N)
    return ArrayDataset(x, y)


def network(bn: bool, width: int = 4):
    ck.manual_seed(SEED)
    layers = [nn.Conv2d(2, width, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(width))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(width * 16, 3)]
    return nn.Sequential(*layers).double()


class Changing(nn.Module):
    """The network, then a 3 → 3 layer applied ``uses`` times (0, 1 or 2: the graph changes from step to step)."""

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.extra = nn.Linear(3, 3).double()
        self.uses = 1

    def forward(self, x):
        y = self.body(x)
        for _ in range(self.uses):
            y = self.extra(y)
        return y


def steps(args, world) -> None:
    model = network(args.bn or args.sync_bn)
    if args.graph_changes:
        model = Changing(model)
    if args.sync_bn:
        model = SyncBatchNorm.convert_sync_batchnorm(model)
    if world.world_size > 1 or args.ddp:
        model = DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    net = model.module if hasattr(model, "module") else model
    optimizer = ck.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    dataset = data()
    sampler = DistributedSampler(dataset, seed=3)
    loader = DataLoader(dataset, batch_size=args.batch, sampler=sampler)
    loss_fn = nn.CrossEntropyLoss()
    saved, step = {}, 0
    for epoch in range(10):
        loader.set_epoch(epoch)
        for x, y in loader:
            if args.graph_changes:
                net.uses = (0, 1, 1, 2, 2, 1, 0, 2)[step % 8]
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            for name, t in net.state_dict().items():
                saved[f"{step}/{name}"] = t._data.copy()
            if step == args.steps:
                if hasattr(model, "reducer"):
                    saved["started_early"] = np.array(model.reducer.started_early)
                    saved["redone"] = np.array(model.reducer.redone)
                np.savez(f"{args.out}/rank{world.rank}.npz", **saved)
                return


def fit(args, world) -> None:
    dataset = data()
    fail_at = args.fail_at_batch if world.rank == 1 else None

    class Failing(ArrayDataset):
        calls = 0

        def __getitem__(self, index):
            Failing.calls += 1
            if fail_at is not None and Failing.calls >= fail_at:
                raise RuntimeError(f"rank {world.rank}: the data set failed on purpose at batch {Failing.calls}")
            return super().__getitem__(index)

    train = Failing(*dataset.arrays)
    model = DistributedDataParallel(SyncBatchNorm.convert_sync_batchnorm(network(True)))
    optimizer = ck.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = ck.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    trainer = ck.train.Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler, checkpoint=f"{args.out}/ck.safetensors",
                               log=f"{args.out}/log.csv", quiet=True, distributed=world)
    if args.resume:
        trainer.load_checkpoint(f"{args.out}/ck.safetensors")
    loader = DataLoader(train, batch_size=8, sampler=DistributedSampler(train, seed=1))
    val = DataLoader(Subset(dataset, list(range(world.rank, N, world.world_size))), batch_size=16)
    trainer.fit(loader, args.epochs, val=val)
    if world.rank == 0:
        np.savez(f"{args.out}/final.npz", **{k: v._data for k, v in model.module.state_dict().items()})


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("out", nargs="?")
    p.add_argument("epochs", nargs="?", type=int)
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--bn", action="store_true")
    p.add_argument("--ddp", action="store_true")
    p.add_argument("--graph-changes", action="store_true")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--bucket-mb", type=float, default=25.0)
    p.add_argument("--fail-at-batch", type=int)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    world = ck.distributed.init()
    if args.mode == "steps":
        steps(args, world)
    elif args.mode == "raise":
        if world.rank == 1:
            raise ValueError("rank 1 failed on purpose")
        world.all_reduce(np.zeros(3))
        print("rank 0 passed the all-reduce: the job did not abort", flush=True)
    elif args.mode == "mismatch":
        ck.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 3 if world.rank == 0 else 5))
        DistributedDataParallel(model)
    elif args.mode == "fit":
        fit(args, world)
    return 0


if __name__ == "__main__":
    sys.exit(main())
