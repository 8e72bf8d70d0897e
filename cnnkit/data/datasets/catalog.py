"""What is known about the images of each named data set: their shape, their class names, and how a drawing or
a photo must be converted to look like them (``cnnkit train --data NAME`` writes the name into a checkpoint).

    NAMES          the data sets by name: digits (built in), mnist, fashion-mnist, cifar10
    SHAPES         one image's shape (C, H, W)
    DIGIT_FRAMED   a digit centred in a 20×20 box of a black 28×28 field (see data/images.py's frame_digit)
    LIGHT_ON_DARK  light strokes or objects on a black background (a dark drawing on white must be inverted)
    class_names    the classes' names (digits name themselves)
"""
from __future__ import annotations

from .cifar import CIFAR10_CLASSES
from .idx import FASHION_MNIST_CLASSES

__all__ = ["CLASSES", "DIGIT_FRAMED", "LIGHT_ON_DARK", "NAMES", "SHAPES", "class_names"]

NAMES = ("digits", "mnist", "fashion-mnist", "cifar10")
SHAPES = {"digits": (1, 28, 28), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
CLASSES = {"fashion-mnist": FASHION_MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}  # digits name themselves
DIGIT_FRAMED = ("digits", "mnist")
LIGHT_ON_DARK = ("digits", "mnist", "fashion-mnist")


def class_names(data, num_classes: int) -> list:
    """Class names of ``data`` (Fashion-MNIST's and CIFAR-10's names; digits are their own names) or indices."""
    names = CLASSES.get(data)
    if names is None or len(names) != num_classes:
        return [str(i) for i in range(num_classes)]
    return list(names)
