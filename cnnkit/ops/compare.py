"""Comparisons and logic, element-wise with broadcasting: ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``,
``logical_and/or/xor/not``, ``isfinite``, ``isnan``, ``allclose``. Their results are bool tensors (no gradient);
the operands are promoted like the arithmetic ops' (``x_float32 < 0.5`` compares in float32)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import as_operand, binary_operands, check_broadcast


def _compare(np_fn, a, b, name) -> Tensor:
    a, b = binary_operands(a, b, name)
    try:
        return Tensor._wrap(np_fn(a._data, b._data))
    except ValueError:
        check_broadcast(name, a.shape, b.shape)
        raise


def eq(a, b) -> Tensor:
    return _compare(np.equal, a, b, "eq")


def ne(a, b) -> Tensor:
    return _compare(np.not_equal, a, b, "ne")


def lt(a, b) -> Tensor:
    return _compare(np.less, a, b, "lt")


def le(a, b) -> Tensor:
    return _compare(np.less_equal, a, b, "le")


def gt(a, b) -> Tensor:
    return _compare(np.greater, a, b, "gt")


def ge(a, b) -> Tensor:
    return _compare(np.greater_equal, a, b, "ge")


def logical_and(a, b) -> Tensor:
    return _compare(np.logical_and, a, b, "logical_and")


def logical_or(a, b) -> Tensor:
    return _compare(np.logical_or, a, b, "logical_or")


def logical_xor(a, b) -> Tensor:
    return _compare(np.logical_xor, a, b, "logical_xor")


def logical_not(x) -> Tensor:
    return Tensor._wrap(np.logical_not(as_operand(x, "logical_not")._data))


def isfinite(x) -> Tensor:
    return Tensor._wrap(np.isfinite(as_operand(x, "isfinite")._data))


def isnan(x) -> Tensor:
    return Tensor._wrap(np.isnan(as_operand(x, "isnan")._data))


def allclose(a, b, rtol=1e-5, atol=1e-8) -> bool:
    return bool(np.allclose(as_operand(a, "allclose")._data, as_operand(b, "allclose")._data, rtol=rtol, atol=atol))
