"""``cnnkit.utils``: PyTorch's ``torch.utils`` import paths (``cnnkit.utils.data`` is ``cnnkit.data``'s loading API;
``cnnkit.utils.checkpoint`` runs a checkpointed function with the same results, without the memory saving)."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
