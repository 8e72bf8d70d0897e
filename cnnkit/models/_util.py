"""What the architecture files share: the input check at a model's public boundary."""
from __future__ import annotations

from ..nn.module import name_error
from ..tensor import Tensor


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
