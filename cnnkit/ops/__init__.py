"""Differentiable primitives, a file per family; importing this package binds them to ``Tensor``."""
from . import activation, compare, dtype, elementwise, linalg, reduce, shape, tensor_methods

tensor_methods.install()

__all__ = ["activation", "compare", "dtype", "elementwise", "linalg", "reduce", "shape"]
