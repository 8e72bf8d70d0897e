"""The data sets of ``--data``: how to load each split, and what the commands know about their images.

``LOADERS`` maps each name to ``load(train, data_dir, download)``; :class:`~cnnkit.cli.context.Context` holds
the mapping a run uses, so ``main(argv, datasets={"digits": load})`` runs a command on other data.
"""
from __future__ import annotations

from pathlib import Path

from ..data import datasets as D

NAMES = ("digits", "mnist", "fashion-mnist", "cifar10")
SHAPES = {"digits": (1, 28, 28), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
CLASSES = {"fashion-mnist": D.FASHION_MNIST_CLASSES, "cifar10": D.CIFAR10_CLASSES}  # digits name themselves
DIGIT_FRAMED = ("digits", "mnist")  # a digit centred in a 20×20 box of a black 28×28 field
LIGHT_ON_DARK = ("digits", "mnist", "fashion-mnist")  # light strokes / objects on a black background


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


def class_names(data, num_classes: int) -> list:
    """Class names of ``data`` (Fashion-MNIST's and CIFAR-10's names; digits are their own names) or indices."""
    names = CLASSES.get(data)
    if names is None or len(names) != num_classes:
        return [str(i) for i in range(num_classes)]
    return list(names)
