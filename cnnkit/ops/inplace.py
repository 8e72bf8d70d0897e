"""In-place Tensor methods (``x.add_(y)``, ``p.mul_(0.9)``, ``w.normal_(0, 0.01)``, ``g.zero_()``, ...).

Each one computes what its out-of-place op computes (same broadcasting and promotion), then writes the result
into the tensor's own array, cast to the tensor's dtype (a float result into an integer tensor is refused, as in
PyTorch), and returns the tensor. ``other`` must broadcast *to* the tensor's shape.

cnnkit does not record in-place ops in the graph. While grad mode is on, an in-place op on a tensor that
requires grad, or with an operand that requires grad, raises ``RuntimeError`` (use the out-of-place op, or
wrap an update of a parameter in ``with no_grad():`` as PyTorch requires for leaves). Every in-place op bumps
the tensor's version count; backward refuses to use an op whose input changed after it was recorded (PyTorch's
"modified by an inplace operation" error).
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels
from ..autograd.grad_mode import enabled as _grad_enabled
from ..autograd.grad_mode import no_grad
from ..random import get_generator
from ..tensor import Tensor
from . import activation as A
from . import elementwise as E
from . import trig
from .indexing import masked_fill

__all__ = ["INPLACE_METHODS", "setitem", "changed"]


def guard_inplace(self: Tensor, name: str, operands=()) -> None:
    """Refuse an in-place change that the graph would need to record (cnnkit records none)."""
    if not _grad_enabled.get():
        return
    if self.requires_grad:
        raise RuntimeError(f"{name}: a tensor that requires grad cannot be changed in place while the graph is "
                           f"recorded (cnnkit does not record in-place ops); use the out-of-place op, or wrap a "
                           f"parameter update in `with ck.no_grad():`")
    if any(isinstance(o, Tensor) and o.requires_grad for o in operands):
        raise RuntimeError(f"{name}: an operand requires grad, and cnnkit does not record in-place ops; use the "
                           f"out-of-place op (or detach the operand)")


def changed(self: Tensor) -> None:
    """``self``'s array was written in place: bump its version (autograd's check) and drop what the kernels keep
    derived from it (oneDNN's packed weights)."""
    self._version[0] += 1
    kernels.written(self._data)


def _store(self: Tensor, result, name: str) -> Tensor:
    """Write ``result`` (a Tensor or array of a shape broadcastable to self's) into self's array."""
    arr = result._data if isinstance(result, Tensor) else np.asarray(result)
    if backend.is_floating(arr.dtype) and not backend.is_floating(self._data.dtype):
        raise RuntimeError(f"{name}: result type {arr.dtype} can't be cast to the desired output type "
                           f"{self._data.dtype}")
    try:
        target = np.broadcast_shapes(arr.shape, self._data.shape)
    except ValueError:
        target = None
    if target != self._data.shape:
        raise RuntimeError(f"{name}: output with shape {tuple(self._data.shape)} doesn't match the broadcast shape "
                           f"{tuple(np.broadcast_shapes(arr.shape, self._data.shape)) if target else arr.shape}")
    np.copyto(self._data, arr, casting="unsafe")
    changed(self)
    return self


def _binary(fn, name):
    def method(self, other, *, alpha=None):
        guard_inplace(self, name, (other,))
        with no_grad():
            if alpha is not None:
                other = E.mul(other, alpha) if isinstance(other, Tensor) else other * alpha
            return _store(self, fn(self, other), name)
    method.__name__ = name
    method.__doc__ = f"In place: self = {fn.__name__}(self, other) (``alpha`` scales other for add_/sub_)."
    return method


def _unary(fn, name):
    def method(self, *args, **kwargs):
        guard_inplace(self, name, args)
        with no_grad():
            return _store(self, fn(self, *args, **kwargs), name)
    method.__name__ = name
    method.__doc__ = f"In place: self = {fn.__name__}(self, ...)."
    return method


def div_(self, other, *, rounding_mode=None):
    """In place: self = div(self, other, rounding_mode)."""
    guard_inplace(self, "div_", (other,))
    with no_grad():
        return _store(self, E.div(self, other, rounding_mode=rounding_mode), "div_")


def zero_(self):
    guard_inplace(self, "zero_")
    self._data[...] = 0
    changed(self)
    return self


def fill_(self, value):
    guard_inplace(self, "fill_", (value,))
    self._data[...] = value.item() if isinstance(value, Tensor) else value
    changed(self)
    return self


def copy_(self, src, non_blocking: bool = False):
    """Copy ``src`` (broadcast to self's shape, cast to self's dtype) into self."""
    guard_inplace(self, "copy_", (src,))
    arr = src._data if isinstance(src, Tensor) else np.asarray(src)
    try:
        np.copyto(self._data, np.broadcast_to(arr, self._data.shape), casting="unsafe")
    except ValueError:
        raise ValueError(f"copy_: cannot copy shape {tuple(arr.shape)} into shape {tuple(self._data.shape)}") \
            from None
    changed(self)
    return self


def _draw(self, name, values):
    guard_inplace(self, name)
    if not backend.is_floating(self._data.dtype):
        raise TypeError(f"{name}: expected a floating point tensor, got dtype {self._data.dtype}")
    self._data[...] = values
    changed(self)
    return self


def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
    """Fill with samples of N(mean, std²) from the project-wide generator."""
    if std < 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    rng = get_generator() if generator is None else getattr(generator, "numpy_generator", generator)
    return _draw(self, "normal_", mean + std * rng.standard_normal(self._data.shape))


def uniform_(self, *args, generator=None, **kwargs):
    """``uniform_(from=0, to=1)``: fill with samples of U(from, to) (``from`` is PyTorch's keyword)."""
    bounds = dict(zip(("from", "to"), args))
    for key, value in kwargs.items():
        if key not in ("from", "to") or key in bounds:
            raise TypeError(f"uniform_: unexpected keyword argument {key!r}")
        bounds[key] = value
    lo, hi = float(bounds.get("from", 0.0)), float(bounds.get("to", 1.0))
    if lo > hi:
        raise ValueError(f"uniform_: expected from <= to, got from={lo}, to={hi}")
    rng = get_generator() if generator is None else getattr(generator, "numpy_generator", generator)
    return _draw(self, "uniform_", rng.uniform(lo, hi, self._data.shape))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 1 with probability ``p`` (a number or a tensor broadcast to self), else 0."""
    prob = p._data if isinstance(p, Tensor) else np.asarray(p, dtype=np.float64)
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError("bernoulli_: p must be in [0, 1]")
    rng = get_generator() if generator is None else getattr(generator, "numpy_generator", generator)
    return _draw(self, "bernoulli_", rng.random(self._data.shape) < prob)


def random_(self, *args, generator=None, **kwargs):
    """``random_(from=0, to=None)``: integers drawn uniformly from [from, to) (``random_(to)``: [0, to)); without
    ``to``, from [0, 2^mantissa] for floating dtypes (2^24 float32, 2^53 float64) and the dtype's range for integers,
    as in PyTorch."""
    name = "random_"
    bounds = dict(zip(("from", "to") if len(args) != 1 else ("to",), args))
    for key, value in kwargs.items():
        if key not in ("from", "to") or key in bounds:
            raise TypeError(f"{name}: unexpected keyword argument {key!r}")
        bounds[key] = value
    guard_inplace(self, name)
    dt = self._data.dtype
    lo, hi = int(bounds.get("from", 0)), bounds.get("to")
    if hi is None:
        if dt.kind == "f":
            hi = 2 ** (np.finfo(dt).nmant + 1) + 1
        elif dt == np.bool_:
            hi = 2
        else:
            hi = int(np.iinfo(dt).max) + 1
    hi = int(hi)
    if lo >= hi:
        raise ValueError(f"{name}: expected from < to, got from={lo}, to={hi}")
    rng = get_generator() if generator is None else getattr(generator, "numpy_generator", generator)
    self._data[...] = rng.integers(lo, hi, self._data.shape)
    changed(self)
    return self


def detach_(self):
    """Detach self from the graph that made it, in place (it becomes a leaf that does not require grad)."""
    self.creator = None
    self.requires_grad = False
    return self


def addcmul_(self, tensor1, tensor2, *, value=1):
    """In place: self = self + value · tensor1 · tensor2."""
    guard_inplace(self, "addcmul_", (tensor1, tensor2))
    with no_grad():
        return _store(self, E.add(self, E.mul(E.mul(tensor1, tensor2), value)), "addcmul_")


def addcdiv_(self, tensor1, tensor2, *, value=1):
    """In place: self = self + value · tensor1 / tensor2."""
    guard_inplace(self, "addcdiv_", (tensor1, tensor2))
    with no_grad():
        return _store(self, E.add(self, E.mul(E.div(tensor1, tensor2), value)), "addcdiv_")


def masked_fill_(self, mask, value):
    """In place: self[mask] = value (``mask`` a bool tensor broadcastable to self)."""
    guard_inplace(self, "masked_fill_", (value,))
    with no_grad():
        return _store(self, masked_fill(self, mask, value), "masked_fill_")


def _augmented(inplace, outplace, name):
    """``x += y`` and friends. PyTorch changes ``x`` in place (and records that in the graph). cnnkit changes it in
    place whenever nothing is being recorded (``p -= lr * p.grad`` under no_grad updates the parameter); while the
    graph is recorded through ``x`` or ``y`` it computes the result out of place and Python rebinds the name (the
    values are PyTorch's; another reference to the old ``x`` keeps the old values). A leaf that requires grad is
    refused, as in PyTorch."""
    def method(self, other):
        if _grad_enabled.get() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            if self.requires_grad and self.creator is None:
                raise RuntimeError(f"{name}: a leaf tensor that requires grad cannot be changed in place while the "
                                   f"graph is recorded; wrap the update in `with ck.no_grad():`")
            return outplace(self, other)
        return inplace(self, other)
    method.__name__ = name
    return method


INPLACE_METHODS = {
    "add_": _binary(E.add, "add_"), "sub_": _binary(E.sub, "sub_"), "mul_": _binary(E.mul, "mul_"),
    "div_": div_, "pow_": _binary(E.pow, "pow_"),
    "clamp_": _unary(E.clamp, "clamp_"), "clip_": _unary(E.clamp, "clip_"),
    "exp_": _unary(E.exp, "exp_"), "log_": _unary(E.log, "log_"), "sqrt_": _unary(E.sqrt, "sqrt_"),
    "abs_": _unary(E.abs, "abs_"), "neg_": _unary(E.neg, "neg_"), "sign_": _unary(E.sign, "sign_"),
    "sin_": _unary(trig.sin, "sin_"), "cos_": _unary(trig.cos, "cos_"),
    "relu_": _unary(A.relu, "relu_"), "sigmoid_": _unary(A.sigmoid, "sigmoid_"), "tanh_": _unary(A.tanh, "tanh_"),
    "zero_": zero_, "fill_": fill_, "copy_": copy_, "normal_": normal_, "uniform_": uniform_, "bernoulli_": bernoulli_,
    "addcmul_": addcmul_, "addcdiv_": addcdiv_, "masked_fill_": masked_fill_, "random_": random_, "detach_": detach_,
}
INPLACE_METHODS.update({
    "__iadd__": _augmented(INPLACE_METHODS["add_"], E.add, "__iadd__"),
    "__isub__": _augmented(INPLACE_METHODS["sub_"], E.sub, "__isub__"),
    "__imul__": _augmented(INPLACE_METHODS["mul_"], E.mul, "__imul__"),
    "__itruediv__": _augmented(div_, E.div, "__itruediv__"),
})


def setitem(self, index, value) -> None:
    """``x[index] = value`` (value broadcast to the selected places, cast to x's dtype)."""
    guard_inplace(self, "__setitem__", (value,))
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(p._data if isinstance(p, Tensor) else p for p in parts)
    v = value._data if isinstance(value, Tensor) else value
    try:
        self._data[parts if isinstance(index, tuple) else parts[0]] = v
    except (IndexError, ValueError) as e:
        raise type(e)(f"__setitem__: cannot assign to index {index!r} of a tensor of shape "
                      f"{tuple(self._data.shape)}: {e}") from None
    changed(self)
