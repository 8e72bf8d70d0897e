"""Argument types shared by the commands: each converts the text of an option and rejects a bad value with
argparse's one-line error ``argument --epochs: expected a positive integer, got 0``."""
from __future__ import annotations

import argparse

from .. import models
from .._suggest import did_you_mean
from ..insight.receptive_box import parse_layer_unit


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
            raise argparse.ArgumentTypeError(f"invalid choice: '{text}'{did_you_mean(name, names)} (choose from "
                                             f"{', '.join(names)}, folder:PATH)")
        return name
    return parse


def model_name(text: str) -> str:
    """A name of the model registry (``cnnkit models``)."""
    if text not in models.list():
        raise argparse.ArgumentTypeError(f"unknown model '{text}'{did_you_mean(text, models.list())}; available: "
                                         f"{', '.join(models.list())}")
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


def dims(counts: tuple, form: str):
    """An argparse ``type`` for sizes written ``5x5x3`` (also ``5×5×3`` or ``5,5,3``): positive integers, as many
    as one of ``counts``; ``form`` names the accepted forms in the message (e.g. "HxW or HxWxC")."""
    def parse(text: str) -> tuple:
        try:
            values = tuple(int(v) for v in text.lower().replace("×", "x").replace(",", "x").split("x"))
        except ValueError:
            values = ()
        if len(values) not in counts or min(values) < 1:
            raise argparse.ArgumentTypeError(f"expected {form} (positive integers), got '{text}'")
        return values
    return parse


def square(text: str) -> int:
    """A square window ``K`` or ``KxK`` -> K."""
    values = dims((1, 2), "K or KxK")(text)
    if len(values) == 2 and values[0] != values[1]:
        raise argparse.ArgumentTypeError(f"expected a square window K or KxK, got '{text}'")
    return values[0]


def layer_unit(text: str) -> tuple:
    """``LAYER`` or ``LAYER:ROW,COL`` -> (layer, None) or (layer, (row, col))."""
    try:
        return parse_layer_unit(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAYER or LAYER:ROW,COL (e.g. features.c3:4,5), got "
                                         f"'{text}'") from None
