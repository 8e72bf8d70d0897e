"""Devices: cnnkit computes on the CPU, and says so.

``device("cpu")`` (also ``device("cpu", 0)``, ``device("cpu:0")``) is accepted everywhere PyTorch accepts a
device: ``Tensor.to(device)``, ``device=`` of the creation functions, ``Module.to(device)``. Every tensor's
``.device`` is ``device(type='cpu')``. A CUDA (or any other accelerator) device is refused with an error that
says so, at the point where it is asked for: ``device("cuda")`` can be *named* (a script may build it before
checking ``cuda.is_available()``), but moving data to it raises. ``cuda.is_available()`` is False, so the
usual ``"cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU.
"""
from __future__ import annotations

__all__ = ["CPU", "device", "check_device"]

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "mtia", "ipu", "hpu", "privateuseone")


class device:
    """A device name: ``device("cpu")``, ``device("cuda", 0)``, ``device("cuda:1")``, or a ``device``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            if index is not None:
                raise ValueError(f"device: give an index with a type name, not with {type!r}")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise ValueError(f"device({type}): cnnkit has no accelerator devices; it runs on the CPU "
                             f"(use device('cpu'))")
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type.__class__.__name__}")
        name, _, idx = type.partition(":")
        if name not in _TYPES:
            raise ValueError(f"device: expected one of {', '.join(_TYPES)}, got {type!r}")
        if idx:
            if index is not None:
                raise ValueError(f"device: the index is given twice in device({type!r}, {index})")
            if not idx.isdigit():
                raise ValueError(f"device: invalid device string {type!r}")
            index = int(idx)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise ValueError(f"device: the index must be a non-negative int, got {index!r}")
        self.type, self.index = name, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def check_device(dev, fn: str) -> device:
    """``dev`` (a device, a string, an int or None) as a CPU ``device``; any other device raises ``RuntimeError``
    naming ``fn`` and saying that cnnkit runs on the CPU."""
    if dev is None:
        return CPU
    if isinstance(dev, int) and not isinstance(dev, bool):
        raise RuntimeError(f"{fn}: device {dev} is an accelerator index; cnnkit runs on the CPU only "
                           f"(cuda.is_available() is False); use device='cpu'")
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise RuntimeError(f"{fn}: cannot use device '{d}': cnnkit runs on the CPU only "
                           f"(cuda.is_available() is False); use device='cpu'")
    return d
