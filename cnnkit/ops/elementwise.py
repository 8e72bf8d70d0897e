"""Element-wise arithmetic and math, with NumPy broadcasting.

Each binary op's backward sums the gradient back to each input's own shape
(``sum_to``), which is the chain rule through broadcasting.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, binary_operands, check_broadcast, sum_to
from .dtype import cast


class _Binary(Function):
    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        try:
            return self.compute(a, b)
        except ValueError:
            check_broadcast(type(self).__name__.lower(), a.shape, b.shape)
            raise

    def reduce(self, ga, gb):
        na, nb = self.needs_input_grad
        return (sum_to(ga, self.a_shape) if na and ga is not None else None,
                sum_to(gb, self.b_shape) if nb and gb is not None else None)


class Add(_Binary):
    """y = a + b;  da = dy, db = dy."""

    def compute(self, a, b):
        return a + b

    def backward(self, gy):
        return self.reduce(gy, gy)


class Sub(_Binary):
    """y = a - b;  da = dy, db = -dy."""

    def compute(self, a, b):
        return a - b

    def backward(self, gy):
        return self.reduce(gy, -gy if self.needs_input_grad[1] else None)


class Mul(_Binary):
    """y = a * b;  da = dy * b, db = dy * a."""

    def compute(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        return self.reduce(gy * self.b if na else None, gy * self.a if nb else None)


class Div(_Binary):
    """y = a / b;  da = dy / b, db = -dy * a / b²."""

    def compute(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        na, nb = self.needs_input_grad
        ga = gy / self.b if na else None
        gb = -gy * self.a / (self.b * self.b) if nb else None
        return self.reduce(ga, gb)


class Pow(_Binary):
    """y = a ** b;  da = dy * b * a^(b-1), db = dy * y * ln a (0 where a = 0 and b >= 0, as in PyTorch)."""

    def compute(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, gy):
        na, nb = self.needs_input_grad
        a, b = self.a, self.b
        ga = gy * b * a ** (b - 1) if na else None
        gb = None
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = gy * self.y * np.log(a)
            gb = np.where((a == 0) & (b >= 0), 0, gb).astype(gy.dtype, copy=False)
        return self.reduce(ga, gb)


class Maximum(_Binary):
    """y = max(a, b); the gradient goes to the larger input, split in half on ties (PyTorch's rule)."""

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, gy):
        return self.reduce(*_split_by_winner(gy, self.a, self.b, self.needs_input_grad))


class Minimum(_Binary):
    """y = min(a, b); the gradient goes to the smaller input, split in half on ties."""

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, gy):
        return self.reduce(*_split_by_winner(gy, self.b, self.a, self.needs_input_grad))


def _split_by_winner(gy, a, b, needs):
    """Gradients of max(a, b): all of dy to the strictly larger side, half to each on a tie."""
    weight_a = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(gy.dtype)
    ga = gy * weight_a if needs[0] else None
    gb = gy * (1 - weight_a) if needs[1] else None
    return ga, gb


class PowScalar(Function):
    """y = x ** c for a number c;  dx = dy * c * x^(c-1)."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.x = x
        return x ** self.c

    def backward(self, gy):
        c = self.c
        if c == 0:
            return np.zeros_like(gy)
        if c == 2:
            return gy * (2 * self.x)
        return gy * (c * self.x ** (c - 1))


class RPowScalar(Function):
    """y = c ** x for a number c;  dx = dy * y * ln c."""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        self.y = np.asarray(self.c, dtype=x.dtype) ** x
        return self.y

    def backward(self, gy):
        return gy * self.y * np.log(np.asarray(self.c, dtype=gy.dtype))


class Neg(Function):
    """y = -x."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    """y = e^x;  dx = dy * y."""

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    """y = ln x;  dx = dy / x."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, gy):
        return gy / self.x


class Sqrt(Function):
    """y = √x;  dx = dy / (2y)."""

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)


def _signum(x: np.ndarray) -> np.ndarray:
    """sign(x) with PyTorch's value 0 at NaN."""
    s = np.asarray(np.sign(x))
    if s.dtype.kind == "f":
        s[np.isnan(s)] = 0
    return s


class Abs(Function):
    """y = |x|;  dx = dy * sign(x) (0 at 0 and at NaN, as in PyTorch)."""

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, gy):
        return gy * _signum(self.x)


class Sign(Function):
    """y = sign(x); its gradient is zero everywhere (defined as 0 at the jump)."""

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return _signum(x)

    def backward(self, gy):
        return np.zeros(self.shape, self.dtype)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dx = dy where lo <= x <= hi, else 0."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.x = x
        return np.clip(x, self.lo, self.hi)

    def backward(self, gy):
        mask = np.ones(self.x.shape, dtype=bool)
        if self.lo is not None:
            mask &= self.x >= self.lo
        if self.hi is not None:
            mask &= self.x <= self.hi
        return gy * mask


class Where(Function):
    """y = x where cond else other;  dx = dy where cond (summed to x's shape), d(other) = dy elsewhere."""

    def __init__(self, cond: np.ndarray):
        self.cond = cond

    def forward(self, x, other):
        self.x_shape, self.o_shape = x.shape, other.shape
        return np.where(self.cond, x, other)

    def backward(self, gy):
        nx, no = self.needs_input_grad
        zero = np.zeros((), gy.dtype)
        gx = sum_to(np.where(self.cond, gy, zero), self.x_shape) if nx else None
        go = sum_to(np.where(self.cond, zero, gy), self.o_shape) if no else None
        return gx, go


class Copy(Function):
    """y = a copy of x (``clone``);  dx = dy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


# ----- public functions -------------------------------------------------------------------------

def add(a, b) -> Tensor:
    return Add()(*binary_operands(a, b, "add"))


def sub(a, b) -> Tensor:
    return Sub()(*binary_operands(a, b, "sub"))


def mul(a, b) -> Tensor:
    return Mul()(*binary_operands(a, b, "mul"))


def div(a, b, *, rounding_mode=None) -> Tensor:
    """a / b (true division); ``rounding_mode='trunc'`` or ``'floor'`` rounds the quotient (no gradient; integer
    inputs stay integer)."""
    if rounding_mode is None:
        return Div()(*binary_operands(a, b, "div", float_result=True))
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    a, b = binary_operands(a, b, "div")
    with np.errstate(divide="ignore", invalid="ignore"):
        if backend.is_floating(a.dtype):
            q = a._data / b._data
            return Tensor._wrap(np.trunc(q) if rounding_mode == "trunc" else np.floor(q))
        if rounding_mode == "floor":
            return Tensor._wrap(np.floor_divide(a._data, b._data))
        return Tensor._wrap((np.sign(a._data) * np.sign(b._data) * (np.abs(a._data) // np.abs(b._data)))
                            .astype(a.dtype))


def floor_divide(a, b) -> Tensor:
    """⌊a / b⌋ (``a // b``), no gradient."""
    return div(a, b, rounding_mode="floor")


def pow(a, b) -> Tensor:
    """``a ** b``: a number exponent (or base) is a constant; two tensors differentiate both."""
    if isinstance(b, np.generic):
        b = b.item()  # a NumPy scalar exponent must not promote float32 to float64
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(a, Tensor) and not isinstance(b, Tensor) and isinstance(b, (int, float)):
        if not backend.is_floating(a.dtype) and (isinstance(b, float) or b < 0):
            a = cast(a, backend.get_default_dtype())
        return PowScalar(b)(a)
    if isinstance(b, Tensor) and not isinstance(a, Tensor) and isinstance(a, (int, float)):
        if not backend.is_floating(b.dtype):
            if isinstance(a, int):  # int ** int tensor stays integer (no gradient), as in PyTorch
                dt = b.dtype if b.dtype.kind in "iu" else backend.int64
                return Tensor._wrap(np.power(np.asarray(a, dt), b._data.astype(dt, copy=False)))
            b = cast(b, backend.get_default_dtype())
        return RPowScalar(a)(b)
    return Pow()(*binary_operands(a, b, "pow"))


def maximum(a, b) -> Tensor:
    return Maximum()(*binary_operands(a, b, "maximum"))


def minimum(a, b) -> Tensor:
    return Minimum()(*binary_operands(a, b, "minimum"))


def neg(x) -> Tensor:
    return Neg()(as_operand(x, "neg"))


def _float_unary(fn_cls, x, name):
    x = as_operand(x, name)
    if not backend.is_floating(x.dtype):
        x = cast(x, backend.get_default_dtype())
    return fn_cls()(x)


def exp(x) -> Tensor:
    return _float_unary(Exp, x, "exp")


def log(x) -> Tensor:
    return _float_unary(Log, x, "log")


def sqrt(x) -> Tensor:
    return _float_unary(Sqrt, x, "sqrt")


def abs(x) -> Tensor:
    return Abs()(as_operand(x, "abs"))


def sign(x) -> Tensor:
    return Sign()(as_operand(x, "sign"))


def clamp(x, min=None, max=None) -> Tensor:
    """Limit ``x`` to [min, max] (either bound may be None)."""
    x = as_operand(x, "clamp")
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for v in (min, max):
        if v is not None and not isinstance(v, (int, float, np.generic)):
            raise TypeError(f"clamp: min and max must be numbers, got {type(v).__name__}")
    min, max = (v.item() if isinstance(v, np.generic) else v for v in (min, max))  # no float64 promotion
    if not backend.is_floating(x.dtype) and any(isinstance(v, float) for v in (min, max)):
        x = cast(x, backend.get_default_dtype())
    return Clamp(min, max)(x)


clip = clamp


def where(condition, x, other) -> Tensor:
    """Elements of ``x`` where ``condition`` is true, else of ``other`` (all three broadcast)."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    x, other = binary_operands(x, other, "where")
    try:
        np.broadcast_shapes(cond.shape, x.shape, other.shape)
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape}, {x.shape} and {other.shape} do not broadcast") from None
    return Where(cond)(x, other)


def clone(x: Tensor) -> Tensor:
    return Copy()(x)
