"""State dicts: the error of one that does not fit a module, the result of a non-strict load, and reading an entry.

A state dict maps dotted names (``features.0.weight``) to arrays; ``Module.load_state_dict`` accepts cnnkit Tensors,
ndarrays, torch tensors (read without importing torch) and nested lists of numbers as the values.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor

__all__ = ["StateDictError", "IncompatibleKeys", "state_array"]


class StateDictError(ValueError, RuntimeError):
    """A state dict does not fit the module (missing/unexpected keys, wrong shapes, unreadable values)."""


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def state_array(value, key: str, module_name: str) -> np.ndarray:
    """The values of one state-dict entry as an ndarray (a cnnkit Tensor, an ndarray, a torch tensor, numbers)."""
    if isinstance(value, Tensor):
        arr = value._data
    elif isinstance(value, np.ndarray):
        arr = value
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor, without importing torch
        try:
            arr = value.detach().cpu().numpy()
        except Exception:
            arr = None
    else:
        try:
            arr = np.asarray(value)
        except Exception:
            arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        found = type(value).__name__ if arr is None or arr.dtype.kind == "O" else f"dtype {arr.dtype}"
        raise StateDictError(f"load_state_dict for {module_name}: value for '{key}' must be a Tensor or an array of "
                             f"numbers, found {found}")
    return arr
