"""Argument validation shared by the ops, the layers, the optimizers and the data pipeline.

Every check takes the value, the argument's name and the name of the function or layer that received it,
and either returns the value normalised (``pair(3, ...)`` is ``(3, 3)``) or raises ``TypeError`` (wrong
kind of value) / ``ValueError`` (right kind, wrong range) whose message reads

    "<fn>: <arg> must be <what is expected>, got <what was given>"

Ops pass their functional name (``"max_pool2d"``), layers their class name from ``__init__``
(``"MaxPool2d"``); errors raised while a layer runs are prefixed with the layer's repr by ``Module.__call__``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ._util import normalize_dim

__all__ = ["is_int", "is_real", "integer", "positive_int", "non_negative_int", "pair", "padding", "flag", "number",
           "finite_number", "probability", "one_of", "dim", "floating_dtype"]


def is_int(v) -> bool:
    """An integer that is not a bool (Python or NumPy)."""
    if type(v) is int:  # the common case first: the ABC check below costs a microsecond per call
        return True
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v) -> bool:
    """A real number that is not a bool (Python or NumPy; NaN and ±∞ included)."""
    if type(v) is float or type(v) is int:
        return True
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_))


def integer(value, arg: str, fn: str, minimum: int | None = None) -> int:
    """``value`` as an int (at least ``minimum`` when given)."""
    if not is_int(value):
        raise TypeError(f"{fn}: {arg} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        rule = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f"at least {minimum}"
        raise ValueError(f"{fn}: {arg} must be {rule}, got {value!r}")
    return int(value)


def positive_int(value, arg: str, fn: str) -> int:
    """``value`` as an int >= 1."""
    return integer(value, arg, fn, 1)


def non_negative_int(value, arg: str, fn: str) -> int:
    """``value`` as an int >= 0."""
    return integer(value, arg, fn, 0)


def pair(value, arg: str, fn: str, minimum: int | None = 1) -> tuple:
    """An int, or a sequence of one or two ints, as (h, w); each at least ``minimum`` (None: any int)."""
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        out = value  # the common case: a module's own (h, w)
    elif is_int(value):
        out = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and all(is_int(v) for v in value) and len(value) in (1, 2):
        out = (int(value[0]), int(value[-1]))
    elif isinstance(value, (tuple, list)) and all(is_int(v) for v in value):
        raise ValueError(f"{fn}: {arg} must be a single int or a tuple of two ints, got {value!r}")
    else:
        raise TypeError(f"{fn}: {arg} must be an int or a tuple of two ints, got {value!r}")
    if minimum is not None and min(out) < minimum:
        rule = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f"at least {minimum}"
        raise ValueError(f"{fn}: {arg} must be {rule}, got {value!r}")
    return out


def padding(value, kernel: tuple, stride: tuple, dilation: tuple, fn: str) -> tuple:
    """A convolution's padding as (top, bottom, left, right): an int, a pair, 'valid' or 'same' (PyTorch's rules).

    'same' pads d·(k − 1) in total per dim, the odd one on the bottom/right, and needs stride 1.
    """
    if isinstance(value, str):
        if value == "valid":
            return (0, 0, 0, 0)
        if value == "same":
            if tuple(stride) != (1, 1):
                raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions "
                                 f"(expected stride 1, got stride {tuple(stride)})")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"{fn}: padding must be 'valid', 'same', an int or a tuple of two ints, got {value!r}")
    ph, pw = pair(value, "padding", fn, minimum=0)
    return (ph, ph, pw, pw)


def flag(value, arg: str, fn: str) -> bool:
    """``value`` as a bool; anything else (0, 1, "yes") is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {arg} must be a bool, got {value!r}")
    return bool(value)


def number(value, arg: str, fn: str) -> float:
    """A real number (not a bool) as a float; NaN and ±∞ are allowed."""
    if not is_real(value):
        raise TypeError(f"{fn}: {arg} must be a number, got {value!r}")
    return float(value)


def finite_number(value, arg: str, fn: str) -> float:
    """A finite real number as a float."""
    v = number(value, arg, fn)
    if not math.isfinite(v):
        raise ValueError(f"{fn}: {arg} must be a finite number, got {value!r}")
    return v


def probability(value, arg: str, fn: str) -> float:
    """A number in [0, 1] as a float."""
    v = number(value, arg, fn)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{fn}: {arg} must be a probability in [0, 1], got {value!r}")
    return v


def one_of(value, choices: tuple, arg: str, fn: str):
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{fn}: {arg} must be one of {choices}, got {value!r}")
    return value


def dim(value, ndim: int, fn: str) -> int:
    """A dimension index of a tensor with ``ndim`` dims (negatives count from the end) as a non-negative int;
    TypeError if it is not an int, IndexError if it is out of range."""
    return normalize_dim(value, ndim, fn)


def floating_dtype(dtype, fn: str) -> np.dtype:
    """A layer's parameter dtype: ``dtype`` (None: the default float dtype); integer types are refused."""
    d = backend.as_dtype(dtype) or backend.get_default_dtype()
    if not backend.is_floating(d):
        raise TypeError(f"{fn}: dtype must be a floating point type, got {d}")
    return d
