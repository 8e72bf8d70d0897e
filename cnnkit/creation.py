"""The functions that create tensors: ``tensor``, ``zeros``, ``ones``, ``randn``, ``arange``, ``linspace``, ``eye``, ...

Every creation function takes PyTorch's keywords: ``dtype``, ``device`` (only the CPU; see ``device.py``),
``requires_grad``; the size may be given as ints, one tuple, or ``size=``. ``layout``, ``pin_memory`` and
``memory_format`` are accepted at their defaults. Random ones draw from the project-wide generator
(``random.py``) unless given a ``generator``.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .device import check_device
from .random import get_generator
from .tensor import Tensor

__all__ = ["arange", "as_tensor", "bernoulli", "empty", "empty_like", "eye", "from_numpy", "full", "full_like",
           "is_tensor", "linspace", "multinomial", "normal", "ones", "ones_like", "rand", "rand_like", "randint",
           "randn", "randn_like", "randperm", "tensor", "zeros", "zeros_like"]

def _size_args(size, name: str, size_kw=None) -> tuple:
    if size_kw is not None:
        if size:
            raise TypeError(f"{name}: give the size either positionally or as size=, not both")
        size = (size_kw,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        shape = tuple(int(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected sizes as ints or one tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}: sizes must be non-negative, got {shape}")
    return shape


def _float_dtype(dtype) -> np.dtype:
    return backend.as_dtype(dtype) or backend.get_default_dtype()


def _check_extras(name: str, device, extras: dict) -> None:
    """Refuse a non-CPU device; accept PyTorch's layout/pin_memory/memory_format keywords at their defaults."""
    check_device(device, name)
    for key, value in extras.items():
        if key == "pin_memory" and not value:
            continue
        if key in ("layout", "memory_format") and (value is None or "strided" in str(value)
                                                    or "contiguous" in str(value) or "preserve" in str(value)):
            continue
        raise TypeError(f"{name}: unexpected keyword argument {key}={value!r}")


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (list, scalar, ndarray or Tensor).

    Python floats become float32 (the default dtype); NumPy arrays keep their dtype; ints become int64.
    """
    _check_extras("tensor", device, {"pin_memory": pin_memory})
    if isinstance(data, Tensor):
        data = data._data
    elif isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in data):
        data = [v._data if isinstance(v, Tensor) else v for v in data]
    arr = backend.to_array(data, dtype)
    if arr is data or (isinstance(data, np.ndarray) and np.shares_memory(arr, data)):
        arr = arr.copy()
    return _finish(arr, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` itself if it is already a Tensor of that dtype, else a tensor made from it (no copy if possible)."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or data.dtype == backend.as_dtype(dtype)):
        return data
    if isinstance(data, Tensor):
        data = data._data
    return Tensor._wrap(backend.to_array(data, dtype))


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a cnnkit Tensor."""
    return isinstance(obj, Tensor)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("zeros", device, extras)
    return _finish(np.zeros(_size_args(sizes, "zeros", size), _float_dtype(dtype)), requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("ones", device, extras)
    return _finish(np.ones(_size_args(sizes, "ones", size), _float_dtype(dtype)), requires_grad)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("empty", device, extras)
    return _finish(np.empty(_size_args(sizes, "empty", size), _float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("full", device, extras)
    if dtype is None:
        dtype = backend.to_array(fill_value).dtype
    return _finish(np.full(_size_args((size,), "full"), fill_value, backend.as_dtype(dtype)), requires_grad)


def zeros_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("zeros_like", device, extras)
    return _finish(np.zeros(input.shape, backend.as_dtype(dtype) or input.dtype), requires_grad)


def ones_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("ones_like", device, extras)
    return _finish(np.ones(input.shape, backend.as_dtype(dtype) or input.dtype), requires_grad)


def empty_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    _check_extras("empty_like", device, extras)
    return _finish(np.empty(input.shape, backend.as_dtype(dtype) or input.dtype), requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False,
              **extras) -> Tensor:
    _check_extras("full_like", device, extras)
    return _finish(np.full(input.shape, fill_value, backend.as_dtype(dtype) or input.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive); int64 for int arguments, else float32."""
    _check_extras("arange", device, extras)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = backend.int64 if is_int else backend.get_default_dtype()
    return _finish(np.arange(start, end, step).astype(backend.as_dtype(dtype)), requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    _check_extras("linspace", device, extras)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    start, end = (float(v.item()) if isinstance(v, Tensor) else float(v) for v in (start, end))
    return _finish(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    """The n×m identity matrix (m = n by default)."""
    _check_extras("eye", device, extras)
    for v, what in ((n, "n"), (m, "m")):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise ValueError(f"eye: {what} must be a non-negative int, got {v!r}")
    return _finish(np.eye(int(n), None if m is None else int(m), dtype=_float_dtype(dtype)), requires_grad)


def _rng(generator, name: str) -> np.random.Generator:
    if generator is None:
        return get_generator()
    rng = getattr(generator, "numpy_generator", generator)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: generator must be a cnnkit Generator, got {type(generator).__name__}")
    return rng


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad: bool = False,
         **extras) -> Tensor:
    """Uniform samples on [0, 1) from the project-wide generator."""
    _check_extras("rand", device, extras)
    shape = _size_args(sizes, "rand", size)
    return _finish(_rng(generator, "rand").random(shape).astype(_float_dtype(dtype), copy=False), requires_grad)


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad: bool = False,
          **extras) -> Tensor:
    """Standard normal samples from the project-wide generator."""
    _check_extras("randn", device, extras)
    shape = _size_args(sizes, "randn", size)
    return _finish(_rng(generator, "randn").standard_normal(shape).astype(_float_dtype(dtype), copy=False),
                   requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` with numbers, or elementwise ``mean``/``std`` tensors
    (broadcast together; the result has their shape). No gradient flows to ``mean`` or ``std`` (as in PyTorch
    for the sampling itself)."""
    check_device(device, "normal")
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise ValueError("normal: std must be non-negative")
    if size is None:
        if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
            raise TypeError("normal: give size= when mean and std are numbers")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = next(t.dtype for t in (mean, std) if isinstance(t, Tensor))
    else:
        shape = _size_args((size,), "normal")
        dt = None
    d = backend.as_dtype(dtype) or dt or backend.get_default_dtype()
    z = _rng(generator, "normal").standard_normal(shape)
    return _finish((np.asarray(m, np.float64) + np.asarray(s, np.float64) * z).astype(d), requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (elementwise, or ``p`` if given), else 0; the result has input's dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: expected a Tensor of probabilities, got {type(input).__name__}")
    prob = input._data if p is None else np.asarray(p, dtype=np.float64)
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    draws = _rng(generator, "bernoulli").random(input._data.shape) < prob
    return Tensor._wrap(draws.astype(input._data.dtype))


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Category indices drawn with probabilities proportional to the non-negative weights ``input`` (1-d, or 2-d:
    one draw per row), ``num_samples`` of them, with or without ``replacement``; int64."""
    name = "multinomial"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor of weights, got {type(input).__name__}")
    w = input._data.astype(np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"{name}: expected a 1-d or 2-d tensor of weights, got shape {tuple(w.shape)}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name}: weights must be finite and non-negative")
    rows = w.reshape(-1, w.shape[-1])
    if np.any(rows.sum(axis=1) <= 0):
        raise ValueError(f"{name}: every row of weights must have a positive sum")
    n = int(num_samples)
    if n <= 0:
        raise ValueError(f"{name}: num_samples must be positive, got {num_samples}")
    if not replacement and n > int(np.min(np.count_nonzero(rows, axis=1))):
        raise ValueError(f"{name}: cannot draw {n} samples without replacement from fewer non-zero weights")
    rng = _rng(generator, name)
    if replacement:  # inverse of each row's cumulative distribution at uniform draws
        cdf = np.cumsum(rows / rows.sum(axis=1, keepdims=True), axis=1)
        u = rng.random((rows.shape[0], n))
        out = np.minimum((u[..., None] >= cdf[:, None, :]).sum(axis=-1), rows.shape[1] - 1)
    else:  # Gumbel top-k: the n largest log w + Gumbel noise are a draw without replacement
        with np.errstate(divide="ignore"):
            keys = np.where(rows > 0, np.log(rows) + rng.gumbel(size=rows.shape), -np.inf)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :n]
    return Tensor._wrap(out.reshape(w.shape[:-1] + (n,)).astype(np.int64))


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None, requires_grad: bool = False,
            **extras) -> Tensor:
    """Integers uniform on [low, high) (int64)."""
    _check_extras("randint", device, extras)
    if high is None:
        low, high = 0, low
    return _finish(_rng(generator, "randint").integers(low, high, size=_size_args((size,), "randint"))
                   .astype(backend.as_dtype(dtype) or backend.int64), requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    _check_extras("randperm", device, extras)
    return _finish(_rng(generator, "randperm").permutation(int(n)).astype(backend.as_dtype(dtype) or backend.int64),
                   requires_grad)


def rand_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    return rand(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad, **extras)


def randn_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, **extras) -> Tensor:
    return randn(input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad, **extras)
