"""The handle of a registered hook: ``handle.remove()`` unhooks (PyTorch's ``RemovableHandle``)."""
from __future__ import annotations

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """Returned by ``register_forward_hook``: ``handle.remove()`` (or leaving a ``with handle:`` block) unhooks."""

    def __init__(self, hooks: dict, key: int):
        self._hooks, self.id = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
