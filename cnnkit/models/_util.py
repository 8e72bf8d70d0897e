"""What the architecture files share: the input check at a model's public boundary."""
from __future__ import annotations

from ..tensor import Tensor


def check_image_batch(x, who: str, in_channels: int, min_size: int, native: int) -> None:
    """Raise a clear error unless ``x`` is an (N, in_channels, H, W) tensor with H, W >= ``min_size``.

    ``min_size`` is the smallest side for which every layer of the network still has an output
    (the same as PyTorch's); ``native`` is the resolution the paper trained at, named in the message.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{who}: expected input of shape (N, {in_channels}, H, W) (natively H = W = {native}), "
                         f"got shape {tuple(x.shape)}")
    if min(x.shape[2:]) < min_size:
        raise ValueError(f"{who}: input {x.shape[2]}x{x.shape[3]} is too small; every side must be at least "
                         f"{min_size} (natively {native}), got shape {tuple(x.shape)}")
