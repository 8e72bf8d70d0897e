"""Parameter: a tensor a module learns (PyTorch's ``nn.Parameter``), registered when assigned to a Module."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a module (``requires_grad=True`` by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, backend.get_default_dtype())
        if isinstance(data, Tensor):
            data = data._data
        super().__init__(data if isinstance(data, np.ndarray) else backend.to_array(data), requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
