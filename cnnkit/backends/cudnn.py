"""``cnnkit.backends.cudnn``: the cuDNN flags as plain attributes (cnnkit has no cuDNN; setting them changes
nothing: cnnkit's convolution picks its algorithm by itself, deterministically)."""
from __future__ import annotations

benchmark = False
deterministic = False
enabled = True
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    """None: cuDNN is not present."""
    return None
