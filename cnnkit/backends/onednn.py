"""``cnnkit.backends.onednn``: the switch of the optional oneDNN backend (``pip install 'cnnkit[onednn]'``).

    ck.backends.onednn.enabled = False          # the process-wide default: NumPy kernels from now on
    with ck.backends.onednn.flags(enabled=False):
        ...                                     # only inside the block, in this thread / context
    ck.backends.onednn.is_available()           # the library is installed and loads
    ck.backends.onednn.executions()             # oneDNN primitives run so far (proof the backend ran)

On by default when the library loads; the environment variable ``CNNKIT_ONEDNN=0`` switches it off (and
keeps the library unloaded). ``enabled = X`` sets the process-wide default, like torch's
``torch.backends.mkldnn.enabled``; ``flags`` overrides it for its block in the calling thread (or asyncio task)
only, as ``kernels.using`` does, so two threads may run one with and one without oneDNN; reading ``enabled``
gives the setting in effect where it is read.
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
    """Switch the backend on or off for the ``with`` block in this thread / context; the previous setting returns
    after it. Other threads keep theirs."""
    with backend.enabled_for(enabled):
        yield


class _Module(types.ModuleType):
    """Makes ``enabled`` a read/write attribute of this module backed by the kernels' switch."""

    @property
    def enabled(self) -> bool:
        return backend.enabled()

    @enabled.setter
    def enabled(self, on: bool) -> None:
        backend.set_enabled(on)


sys.modules[__name__].__class__ = _Module
