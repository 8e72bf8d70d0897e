"""One project-wide random generator.

Everything random in cnnkit (weight initialisation, dropout masks, shuffling,
augmentation) draws from the generator returned by :func:`get_generator`, so
``ck.manual_seed(s)`` reproduces a whole run. Like PyTorch, the generator starts
from a fixed seed, so an unseeded script is reproducible too.
"""
from __future__ import annotations

import numpy as np

DEFAULT_SEED = 67280421310721  # PyTorch's initial CPU seed

_generator = np.random.Generator(np.random.PCG64(DEFAULT_SEED))
_seed = DEFAULT_SEED


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the project-wide generator (a non-negative int)."""
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative seed, got {seed}")
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    return _generator


def initial_seed() -> int:
    return _seed


def get_generator() -> np.random.Generator:
    """The generator every random operation in cnnkit draws from."""
    return _generator


def get_rng_state() -> dict:
    """The generator state as a JSON-serialisable dict (for checkpoints)."""
    return {"seed": _seed, "bit_generator": _generator.bit_generator.state}


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    global _seed
    try:
        bg = state["bit_generator"]
        if bg.get("bit_generator") != "PCG64":
            raise ValueError
        _generator.bit_generator.state = bg
        _seed = int(state.get("seed", _seed))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError("set_rng_state: expected a state returned by get_rng_state()") from None


class Generator:
    """A separate random stream (PyTorch's ``torch.Generator``): ``Generator().manual_seed(42)`` can be passed as
    ``generator=`` to ``random_split``, ``DataLoader``, ``randn``/``rand``/``randint``/``randperm`` and the in-place
    samplers. Only the CPU device exists."""

    def __init__(self, device="cpu"):
        if str(device).partition(":")[0] != "cpu":
            raise RuntimeError(f"Generator: cannot use device '{device}': cnnkit runs on the CPU only")
        self._seed = DEFAULT_SEED
        self.numpy_generator = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Generator.manual_seed: expected a non-negative int, got {seed!r}")
        self._seed = int(seed)
        self.numpy_generator = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2**63))).initial_seed()

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return {"seed": self._seed, "bit_generator": self.numpy_generator.bit_generator.state}

    def set_state(self, state: dict) -> Generator:
        self.numpy_generator.bit_generator.state = state["bit_generator"]
        self._seed = int(state["seed"])
        return self
