"""The array module and the dtype rules.

cnnkit computes with NumPy today; everything that touches dtypes asks this
module, so a GPU array module could replace it later in one place.

Dtype rules (PyTorch's):
  * Python floats and float lists become the default float dtype (float32);
  * NumPy arrays keep their dtype (float64 stays float64: gradient checks need it);
  * Python ints become int64 and bools become bool (labels stay integer).
"""
from __future__ import annotations

import numpy as np

xp = np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype given to float data that carries no dtype of its own (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the default float dtype (float32 or float64)."""
    global _default_float
    d = np.dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {d}")
    _default_float = d


def as_dtype(dtype) -> np.dtype | None:
    """Normalise a user dtype (np.float32, 'float32', ck.float32, torch-like names) to np.dtype."""
    if dtype is None:
        return None
    if dtype is float:
        return _default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a NumPy dtype such as float32, got {dtype!r}") from None


def is_floating(dtype) -> bool:
    if isinstance(dtype, np.dtype):  # every op's output asks: a dtype's kind is a field, issubdtype a microsecond
        return dtype.kind == "f"
    return np.issubdtype(dtype, np.floating)


def to_array(data, dtype=None) -> np.ndarray:
    """Turn user data into an ndarray following the dtype rules above (copies only when needed)."""
    dtype = as_dtype(dtype)
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    try:
        arr = np.asarray(data)
    except ValueError:
        raise ValueError(f"tensor: cannot make a tensor from ragged {type(data).__name__} data (nested sequences "
                         f"of different lengths)") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data with elements of dtype "
                        f"{arr.dtype} (expected numbers or bools)")
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype == np.float64 or arr.dtype == np.float16:
        # Python floats carry no precision: they take the default float dtype.
        return arr.astype(_default_float)
    if arr.dtype.kind in "iu" and arr.dtype != int64 and not isinstance(data, np.ndarray):
        return arr.astype(int64)
    return arr
