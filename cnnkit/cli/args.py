"""Argument types shared by the commands: each converts the text of an option and rejects a bad value with
argparse's one-line error ``argument --epochs: expected a positive integer, got 0``."""
from __future__ import annotations

import argparse

from .. import models


def checked(convert, what: str, valid):
    """An argparse ``type``: ``convert(text)``, rejected with "expected <what>" unless ``valid(value)``."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value
    return parse


positive_int = checked(int, "a positive integer", lambda v: v > 0)
non_negative_int = checked(int, "a non-negative integer", lambda v: v >= 0)
non_negative_float = checked(float, "a finite non-negative number", lambda v: 0 <= v < float("inf"))
positive_float = checked(float, "a finite positive number", lambda v: 0 < v < float("inf"))
fraction = checked(float, "a number in [0, 1)", lambda v: 0 <= v < 1)


def dataset_name(text: str) -> str:
    """``fashion_mnist`` and ``Fashion-MNIST`` name ``fashion-mnist``."""
    return text.replace("_", "-").lower()


def data_spec(names):
    """An argparse ``type`` for ``--data``: one of ``names`` (``fashion_mnist`` and ``Fashion-MNIST`` name
    ``fashion-mnist``) or ``folder:PATH``."""
    def parse(text: str) -> str:
        if text.startswith("folder:"):
            if len(text) == len("folder:"):
                raise argparse.ArgumentTypeError("expected folder:PATH, got 'folder:' without a path")
            return text
        name = dataset_name(text)
        if name not in names:
            raise argparse.ArgumentTypeError(f"invalid choice: '{text}' (choose from {', '.join(names)}, "
                                             f"folder:PATH)")
        return name
    return parse


def model_name(text: str) -> str:
    """A name of the model registry (``cnnkit models``)."""
    if text not in models.list():
        raise argparse.ArgumentTypeError(f"unknown model '{text}'; available: {', '.join(models.list())}")
    return text


def shape(text: str) -> tuple:
    """``C,H,W`` (positive integers separated by commas) -> a tuple of ints."""
    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas (C,H,W), got {text!r}")
    return dims
