"""What a command gets besides its parsed arguments: the data sets it may load and the streams it writes to.

``main(argv, datasets=..., stdout=..., stderr=...)`` builds one :class:`Context` per run; a test (or a program
embedding the command) passes a smaller data set or a stream there instead of patching modules.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from ..data import ArrayDataset
from .datasets import LOADERS


@dataclass
class Context:
    """``datasets``: ``--data`` name -> ``load(train: bool, data_dir: str | None, download: bool)`` returning an
    ``ArrayDataset`` of images in [0, 1] (N, C, H, W) and class labels (N,) (default :data:`datasets.LOADERS`);
    ``stdout`` / ``stderr``: where results and messages go (None: ``sys.stdout`` / ``sys.stderr`` at the time of
    writing, so pytest's capsys sees them)."""

    datasets: Mapping[str, Callable] = field(default_factory=lambda: dict(LOADERS))
    stdout: TextIO | None = None
    stderr: TextIO | None = None

    @property
    def out(self) -> TextIO:
        return self.stdout if self.stdout is not None else sys.stdout

    @property
    def err(self) -> TextIO:
        return self.stderr if self.stderr is not None else sys.stderr

    def load(self, data: str, *, train: bool, data_dir=None, download: bool = False, limit: int | None = None):
        """The training or the test split of the data set ``data`` (its first ``limit`` samples with ``limit``)."""
        dataset = self.datasets[data](train=train, data_dir=data_dir, download=download)
        if limit is not None and limit < len(dataset):
            dataset = ArrayDataset(*(a[:limit] for a in dataset.arrays))
        return dataset
