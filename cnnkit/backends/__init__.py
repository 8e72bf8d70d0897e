"""``cnnkit.backends``: the import paths of ``torch.backends`` that training scripts touch (``cudnn``, ``mps``),
and the switch of cnnkit's own optional oneDNN backend (``onednn``).

cnnkit has no cuDNN or MPS backend; the flags scripts set (``cudnn.benchmark = True``,
``cudnn.deterministic = True``) are plain attributes that change nothing, and ``is_available()`` is False.
"""
from . import cudnn, mps, onednn

__all__ = ["cudnn", "mps", "onednn"]
