"""Weight initialization (PyTorch's ``torch.nn.init``), drawing from cnnkit's project-wide generator.

For a weight of shape (out, in, kH, kW): fan_in = in·kH·kW, fan_out = out·kH·kW.
  xavier (Glorot):  Var = gain² · 2 / (fan_in + fan_out)
  kaiming (He):     Var = gain² / fan            (fan = fan_in or fan_out, gain from the nonlinearity)
A uniform U(-b, b) has variance b²/3, so the uniform variants use b = √3 · std.
Every function fills the tensor in place, keeps its dtype and returns it. Random ones draw from the
project-wide generator (``ck.manual_seed``) unless a ``numpy.random.Generator`` is passed as ``generator``.
"""
from __future__ import annotations

import math

import numpy as np

from .._warn import warn
from ..ops import validate
from ..ops.inplace import changed
from ..random import get_generator
from ..tensor import Tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear/conv/sigmoid 1, relu √2, tanh 5/3, leaky_relu √(2/(1+a²)) (a = ``param``, default 0.01), selu 3/4.
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif validate.is_real(param):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity '{nonlinearity}'")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dims, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _check_tensor(tensor, fn: str, random: bool = False) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    if random and not np.issubdtype(tensor._data.dtype, np.floating):
        raise TypeError(f"{fn}: random initialization needs a floating point tensor, got dtype {tensor._data.dtype}")


def _rng(generator) -> np.random.Generator:
    if generator is None:
        return get_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"init: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    return generator


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor._data[...] = values.astype(tensor._data.dtype, copy=False)
    changed(tensor)
    return tensor


def _is_empty(tensor: Tensor, fn: str) -> bool:
    if tensor._data.size == 0:
        warn(f"{fn}: initializing a zero-element tensor is a no-op")
        return True
    return False


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b)."""
    _check_tensor(tensor, "uniform_", random=True)
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    rng = _rng(generator)
    if tensor._data.dtype == np.float32:  # draw in the tensor's precision: no float64 temporary of its size
        values = rng.random(tensor.shape, dtype=np.float32)
        values *= np.float32(b - a)
        values += np.float32(a)
        return _fill(tensor, values)
    return _fill(tensor, rng.uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _check_tensor(tensor, "normal_", random=True)
    if not std >= 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    rng = _rng(generator)
    if tensor._data.dtype == np.float32:  # draw in the tensor's precision: no float64 temporary of its size
        values = rng.standard_normal(tensor.shape, dtype=np.float32)
        values *= np.float32(std)
        values += np.float32(mean)
        return _fill(tensor, values)
    return _fill(tensor, rng.normal(mean, std, tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with N(mean, std²) samples redrawn until they fall inside [a, b]."""
    _check_tensor(tensor, "trunc_normal_", random=True)
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if not std > 0:
        raise ValueError(f"trunc_normal_: expected std > 0, got {std}")
    rng = _rng(generator)
    values = rng.normal(mean, std, tensor.shape)
    bad = (values < a) | (values > b)
    while np.any(bad):
        values[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``."""
    _check_tensor(tensor, "constant_")
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    _check_tensor(tensor, "zeros_")
    return _fill(tensor, np.zeros(tensor.shape))


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    _check_tensor(tensor, "ones_")
    return _fill(tensor, np.ones(tensor.shape))


def _xavier_std(tensor: Tensor, gain: float, fn: str) -> float | None:
    _check_tensor(tensor, fn, random=True)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if _is_empty(tensor, fn):
        return None
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): U(-b, b) with b = gain·√(6 / (fan_in + fan_out))."""
    std = _xavier_std(tensor, gain, "xavier_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    std = _xavier_std(tensor, gain, "xavier_normal_")
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a, mode: str, nonlinearity: str, fn: str) -> float | None:
    """std = gain / √fan, or None for a zero-element tensor (left as is, as PyTorch does)."""
    _check_tensor(tensor, fn, random=True)
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = calculate_gain(nonlinearity, a)
    if _is_empty(tensor, fn):
        return None
    return gain / math.sqrt(fan_in if mode.lower() == "fan_in" else fan_out)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain·√(3 / fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / √fan."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def _deprecated(new, old_name: str):
    def alias(*args, **kwargs):
        warn(f"nn.init.{old_name} is now deprecated in favor of nn.init.{new.__name__}.", FutureWarning)
        return new(*args, **kwargs)
    alias.__name__ = old_name
    alias.__doc__ = f"Deprecated alias of :func:`{new.__name__}` (PyTorch keeps it too, with a FutureWarning)."
    return alias


# PyTorch's deprecated names without the trailing underscore (older scripts and textbooks still call them)
uniform = _deprecated(uniform_, "uniform")
normal = _deprecated(normal_, "normal")
constant = _deprecated(constant_, "constant")
xavier_uniform = _deprecated(xavier_uniform_, "xavier_uniform")
xavier_normal = _deprecated(xavier_normal_, "xavier_normal")
kaiming_uniform = _deprecated(kaiming_uniform_, "kaiming_uniform")
kaiming_normal = _deprecated(kaiming_normal_, "kaiming_normal")
