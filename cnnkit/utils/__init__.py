"""``cnnkit.utils``: PyTorch's ``torch.utils`` import paths (``cnnkit.utils.data`` is ``cnnkit.data``'s loading API)."""
from . import data

__all__ = ["data"]
