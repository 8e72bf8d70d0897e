"""A driver of ours for public models under ``cnnkit run``: it imports a model module from the unpacked pytorchcv
wheel unedited (its only torch imports are ``torch`` and ``torch.nn``), builds the model, trains it a few Adam
steps on a generated batch and prints each step's loss.

    cnnkit run tests/clients/pytorchcv_driver.py TREE MODULE BUILDER [--steps N]

TREE is the directory holding the wheel's ``pytorchcv`` package (tests/clients/public.py fetches it), MODULE a
module of ``pytorchcv.models`` (``resnet_cifar``), BUILDER its model function (``resnet20_cifar10``). The script is
written against torch; under ``cnnkit run`` both it and pytorchcv get cnnkit.
"""
import argparse
import importlib
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree")
    parser.add_argument("module")
    parser.add_argument("builder")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.tree)
    build = getattr(importlib.import_module(f"pytorchcv.models.{args.module}"), args.builder)
    torch.manual_seed(0)
    net = build()
    net.train()
    classes = 10
    rng = np.random.default_rng(0)
    y = np.arange(args.batch) % classes
    x = 0.5 * rng.standard_normal((args.batch, 3, 32, 32)) + rng.standard_normal((classes, 3, 32, 32))[y]
    x, y = torch.tensor(x.astype(np.float32)), torch.tensor(y)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)
    losses = []
    for step in range(args.steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        print(f"step {step + 1} loss {losses[-1]:.4f}")
    print(f"{args.builder} trained on {torch.__name__}")
    return losses


if __name__ == "__main__":
    main()
