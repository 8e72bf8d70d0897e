"""The data sets of ``--data``: how to load each split, and what the commands know about their images.

``LOADERS`` maps each name to ``load(train, data_dir, download)``; :class:`~cnnkit.cli.context.Context` holds
the mapping a run uses, so ``main(argv, datasets={"digits": load})`` runs a command on other data. The facts
about the data sets' images (names, shapes, class names, framing, polarity) are the library's
(:mod:`cnnkit.data.datasets.catalog`); the commands take them from here.
"""
from __future__ import annotations

from pathlib import Path

from ..data import datasets as D
from ..data.datasets.catalog import DIGIT_FRAMED, LIGHT_ON_DARK, NAMES, SHAPES, class_names

__all__ = ["DIGIT_FRAMED", "LIGHT_ON_DARK", "LOADERS", "NAMES", "SHAPES", "class_names"]


def _digits(train: bool, data_dir=None, download: bool = False):
    return D.digits(train=train)


def _from_files(name: str):
    """The loader of a data set read from files in ``data_dir`` (default ``data/<name>``)."""
    function = name.replace("-", "_")

    def load(train: bool, data_dir=None, download: bool = False):
        root = Path(data_dir or f"data/{function}")
        if not download and not root.is_dir():
            raise FileNotFoundError(f"no {name} data: the folder {root} does not exist (pass --download to fetch "
                                    f"the files, or --data-dir to point at them)")
        return getattr(D, function)(root, train=train, download=download)
    return load


LOADERS = {"digits": _digits, "mnist": _from_files("mnist"), "fashion-mnist": _from_files("fashion-mnist"),
           "cifar10": _from_files("cifar10")}
