"""The same small module classes defined for cnnkit and for torch, to compare structure, names and reprs.

``make_zoo(fw)`` returns a namespace of classes built on framework ``fw`` ("ck" or "torch"); the classes have
the same names, registration order and ``extra_repr`` in both, so anything observable (key lists, module
orders, reprs) must be equal.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

import cnnkit as ck
import cnnkit.nn as cnn


def framework(fw: str) -> SimpleNamespace:
    """nn, a float tensor factory and an int64 tensor factory of one framework."""
    if fw == "ck":
        return SimpleNamespace(nn=cnn, name="ck",
                               float=lambda *shape: ck.tensor(np.arange(int(np.prod(shape)), dtype=np.float32)
                                                              .reshape(shape) / 7),
                               int=lambda *shape: ck.tensor(np.zeros(shape, np.int64)))
    return SimpleNamespace(nn=torch.nn, name="torch",
                           float=lambda *shape: torch.arange(int(np.prod(shape)), dtype=torch.float32)
                           .reshape(shape) / 7,
                           int=lambda *shape: torch.zeros(shape, dtype=torch.int64))


def make_zoo(fw: str) -> SimpleNamespace:
    f = framework(fw)
    nn = f.nn

    class Affine(nn.Module):
        """y = x * weight + bias, with an integer step counter buffer."""

        def __init__(self, n):
            super().__init__()
            self.n = n
            self.weight = nn.Parameter(f.float(n) + 1)
            self.register_buffer("steps", f.int())
            self.bias = nn.Parameter(f.float(n))

        def forward(self, x):
            return x * self.weight + self.bias

        def extra_repr(self):
            return f"n={self.n}"

    class Scale(nn.Module):
        """A buffer registered before a parameter, a non-persistent buffer, a None parameter."""

        def __init__(self):
            super().__init__()
            self.register_buffer("running", f.float(3))
            self.register_buffer("cache", f.float(2), persistent=False)
            self.register_parameter("unused", None)
            self.alpha = nn.Parameter(f.float(1) + 2)

        def forward(self, x):
            return x * self.alpha

        def extra_repr(self):
            return "alpha"

    class Act(nn.Module):
        def forward(self, x):
            return x

    class TwoLines(nn.Module):
        def forward(self, x):
            return x + 1

        def extra_repr(self):
            return "first line\nsecond line"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = Affine(3)
            self.gamma = nn.Parameter(f.float(3))
            self.features = nn.Sequential(Affine(3), Act(), nn.Sequential(Scale(), Affine(3)), TwoLines())
            self.register_buffer("version", f.int())
            self.heads = nn.ModuleList([Affine(3), Affine(3), Affine(3), Scale(), Act(), Act()])
            self.table = nn.ModuleDict({"b": Affine(2), "a": nn.Sequential(Act(), Affine(2))})
            self.empty = nn.Sequential()
            self.add_module("nothing", None)
            self.shared = self.stem                      # the same module under two names
            self.heads[1].weight = self.heads[0].weight  # a parameter shared by two modules
            self.tail = nn.Identity()

        def forward(self, x):
            x = self.stem(x) * self.gamma
            x = self.features(x)
            for h in self.heads:
                x = h(x)
            return x

    return SimpleNamespace(fw=f, Affine=Affine, Scale=Scale, Act=Act, TwoLines=TwoLines, Net=Net)
