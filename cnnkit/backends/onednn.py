"""``cnnkit.backends.onednn``: the switch of the optional oneDNN backend (``pip install 'cnnkit[onednn]'``).

    ck.backends.onednn.enabled = False          # every convolution on the NumPy kernels from now on
    with ck.backends.onednn.flags(enabled=False):
        ...                                     # only inside the block
    ck.backends.onednn.is_available()           # the library is installed and loads
    ck.backends.onednn.executions()             # oneDNN primitives run so far (proof the backend ran)

On by default when the library loads; the environment variable ``CNNKIT_ONEDNN=0`` switches it off (and
keeps the library unloaded). The switch is process-wide, like torch's ``torch.backends.mkldnn.enabled``.
"""
from __future__ import annotations

import sys
import types
from contextlib import contextmanager

from ..kernels import onednn as backend

__all__ = ["flags", "is_available", "version", "executions", "backend_name"]


def is_available() -> bool:
    """Is the oneDNN library installed and loadable (and not switched off by CNNKIT_ONEDNN=0)?"""
    return backend.available()


def version() -> tuple | None:
    """(major, minor, patch) of the loaded oneDNN library (its ``dnnl_version()``), or None."""
    return backend.version()


def executions() -> int:
    """oneDNN primitives executed so far in this process."""
    return backend.executions()


def backend_name() -> str:
    """'onednn x.y.z' when supported float32 layers run on oneDNN, else 'numpy' (with the reason)."""
    if backend.active():
        return "onednn " + ".".join(map(str, backend.version()))
    why = "switched off" if backend.available() else (backend.load_error() or "not installed")
    return f"numpy (oneDNN: {why})"


@contextmanager
def flags(enabled: bool):
    """Switch the backend on or off for the ``with`` block; the previous setting returns after it."""
    before = backend.enabled()
    backend.set_enabled(enabled)
    try:
        yield
    finally:
        backend.set_enabled(before)


class _Module(types.ModuleType):
    """Makes ``enabled`` a read/write attribute of this module backed by the kernels' switch."""

    @property
    def enabled(self) -> bool:
        return backend.enabled()

    @enabled.setter
    def enabled(self, on: bool) -> None:
        backend.set_enabled(on)


sys.modules[__name__].__class__ = _Module
