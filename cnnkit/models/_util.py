"""What the architecture files share: the input check at a model's public boundary and the check of
``in_channels`` (the channels of the first layer, as timm's ``in_chans``: 1 for grayscale, 3 for RGB)."""
from __future__ import annotations

from ..nn.module import name_error
from ..tensor import Tensor


def check_in_channels(in_channels, model: str) -> int:
    """``in_channels`` as an int, or a ValueError naming ``model`` unless it is a positive int."""
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"{model}: in_channels must be a positive int, got {in_channels!r}")
    return in_channels


def check_image_batch(x, model: str, in_channels: int, min_size: int, native: int) -> None:
    """Raise a clear error unless ``x`` is an (N, in_channels, H, W) tensor with H, W >= ``min_size``.

    ``min_size`` is the smallest side for which every layer of the network still has an output
    (the same as PyTorch's); ``native`` is the resolution the paper trained at, named in the message.
    The message names ``model`` (e.g. ``resnet18``, more precise than the class), so ``Module.__call__``
    does not prefix it again.
    """
    if not isinstance(x, Tensor):
        raise name_error(TypeError(f"{model}: expected a Tensor, got {type(x).__name__}"), None)
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise name_error(ValueError(f"{model}: expected input of shape (N, {in_channels}, H, W) (natively H = W = "
                                    f"{native}), got shape {tuple(x.shape)}"), None)
    if min(x.shape[2:]) < min_size:
        raise name_error(ValueError(f"{model}: input {x.shape[2]}x{x.shape[3]} is too small; every side must be at "
                                    f"least {min_size} (natively {native}), got shape {tuple(x.shape)}"), None)
