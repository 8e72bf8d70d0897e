"""``cnnkit.nn.parallel``: PyTorch's data-parallel wrappers, for scripts that wrap their model unconditionally.

cnnkit runs on one CPU (its kernels already use the cores), so ``DataParallel(module)`` runs ``module``
itself: ``forward`` passes the call through and ``.module`` is the wrapped module, so state-dict keys get the
``module.`` prefix exactly as in PyTorch. ``device_ids`` other than None / [] / CPU ones are refused.
"""
from __future__ import annotations

from ..device import check_device
from .module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """Runs ``module`` on the CPU: ``DataParallel(m)(x) == m(x)``; parameters are ``module.``-prefixed."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a Module, got {type(module).__name__}")
        for d in device_ids or ():
            check_device(d, "DataParallel")
        if output_device is not None:
            check_device(output_device, "DataParallel")
        self.module = module
        self.dim = dim
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0, module_kwargs=None):
    """PyTorch's functional data parallelism on one CPU: ``module(*inputs, **module_kwargs)`` (``inputs`` a
    tensor or a tuple of them). CUDA ``device_ids`` are refused."""
    for d in device_ids or ():
        check_device(d, "data_parallel")
    if output_device is not None:
        check_device(output_device, "data_parallel")
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*args, **(module_kwargs or {}))
