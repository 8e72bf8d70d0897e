"""Restoring a trained model from a checkpoint: its architecture, its weights and how its inputs were prepared.

    trained = restore("runs/lenet5-digits/checkpoint.safetensors")
    logits = trained.logits(trained.normalize(images01))      # images (N, C, H, W) in [0, 1]

A checkpoint written by ``cnnkit train`` (a :class:`~cnnkit.train.Trainer` checkpoint) carries, besides the
weights (``model``) and the ``epoch``, a ``meta`` entry that says how to rebuild the model and its inputs:

    meta = {"model": "lenet5",                      a name of the model registry (cnnkit.models.get)
            "model_kwargs": {"num_classes": 10, ...},  the keyword arguments it was built with
            "preprocessing": {"channels": 1, "size": 28,       inputs are channels × size × size,
                              "mean": [...], "std": [...]},    standardized per channel: (x − mean) / std
            "data": "digits"}                       the training set's name (optional)

Every entry is checked (the file is untrusted): a missing or malformed one raises ``ValueError`` naming the
file and what is wrong, and so do a model name the registry does not know and weights that do not fit.
"""
from __future__ import annotations

import numpy as np

from .. import models
from ..data.transforms import Normalize
from ..io.checkpoint import load
from ..ops import validate
from ..tensor import Tensor, no_grad

__all__ = ["Restored", "checkpoint_model", "restore"]


def _is_positive_int(value) -> bool:
    return validate.is_int(value) and value > 0


class Restored:
    """A trained model rebuilt from a checkpoint (see :func:`restore`), in eval mode, and what its ``meta`` says
    about the inputs.

    Attributes: ``model``, ``name`` (its registry name), ``data`` (the training set's name, or None),
    ``channels`` and ``size`` (inputs are channels × size × size), ``mean`` and ``std`` (float64 (channels,),
    the standardization), ``normalize`` (that standardization as a transform), ``num_classes`` and ``epoch``
    (None when the checkpoint does not say), ``path`` and ``meta``.
    """

    def __init__(self, model, name: str, *, channels: int, size: int, mean, std, data=None, num_classes=None,
                 epoch=None, path=None, meta=None):
        self.model, self.name, self.data, self.path, self.meta = model, name, data, path, meta
        self.channels, self.size = channels, size
        self.mean, self.std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        self.normalize = Normalize(self.mean, self.std)
        self.num_classes, self.epoch = num_classes, epoch

    def describe(self) -> str:
        """e.g. ``lenet5 (epoch 20, trained on digits)``."""
        facts = ([f"epoch {self.epoch}"] if self.epoch else []) + ([f"trained on {self.data}"] if self.data else [])
        return f"{self.name} ({', '.join(facts)})" if facts else self.name

    def logits(self, x, batch_size: int = 64) -> np.ndarray:
        """The model's outputs (N, classes) for standardized inputs ``x`` (N, C, H, W), in batches of
        ``batch_size``, without a graph."""
        with no_grad():
            return np.concatenate([self.model(Tensor._wrap(x[i:i + batch_size]))._data
                                   for i in range(0, len(x), batch_size)])


def checkpoint_model(state) -> str:
    """What a loaded checkpoint says its model is, for messages: ``a resnet18 checkpoint`` (with its
    ``model_kwargs``, e.g. ``a resnet18 checkpoint (num_classes=1000)``), or ``a checkpoint of an unnamed model``
    when its ``meta`` does not say."""
    meta = state.get("meta") if isinstance(state, dict) else None
    name = meta.get("model") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        return "a checkpoint of an unnamed model"
    kwargs = meta.get("model_kwargs")
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k in ("num_classes", "in_channels")) \
        if isinstance(kwargs, dict) else ""
    return f"a {name} checkpoint" + (f" ({shown})" if shown else "")


def restore(path, data_names=None) -> Restored:
    """The model of the training checkpoint ``path`` rebuilt from its ``meta`` with its weights loaded, in eval
    mode (see the module docstring for the ``meta`` it needs). ``data_names``: the training-set names to
    recognize (``Restored.data`` is None for another name); default: any string."""
    state = load(path)
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ValueError(f"{path} is not a training checkpoint (it has no 'model' weights); eval and predict "
                         f"read the checkpoints written by `cnnkit train`")
    meta = state.get("meta")
    if not isinstance(meta, dict):
        raise ValueError(f"{path} has no 'meta' entry, so it does not say which model it holds and how its "
                         f"inputs were prepared (checkpoints written by `cnnkit train` have one)")
    name, kwargs, prep = meta.get("model"), meta.get("model_kwargs", {}), meta.get("preprocessing")
    if not isinstance(name, str) or not isinstance(kwargs, dict) or not isinstance(prep, dict):
        raise ValueError(f"{path} has an invalid 'meta' entry: it needs 'model' (a name), 'model_kwargs' (a "
                         f"dict) and 'preprocessing' (a dict)")
    channels, size = prep.get("channels"), prep.get("size")
    if not (_is_positive_int(channels) and _is_positive_int(size)):
        raise ValueError(f"{path} has an invalid 'meta' entry: preprocessing channels and size must be "
                         f"positive ints, got {channels!r} and {size!r}")
    try:
        mean = np.asarray(prep.get("mean"), dtype=np.float64)
        std = np.asarray(prep.get("std"), dtype=np.float64)
    except (TypeError, ValueError):
        mean = std = np.zeros(0)
    if (mean.shape != (channels,) or std.shape != (channels,) or not np.all(np.isfinite(mean))
            or not np.all(np.isfinite(std)) or not np.all(std > 0)):
        raise ValueError(f"{path} has an invalid 'meta' entry: expected {channels} finite channel means and "
                         f"positive standard deviations, got mean {prep.get('mean')!r}, std {prep.get('std')!r}")
    try:
        model = models.get(name, **kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: cannot rebuild its model: {e}") from None
    try:
        model.load_state_dict(state["model"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: its weights do not fit {name}: {e}") from None
    data = meta.get("data")
    if not isinstance(data, str) or not data or (data_names is not None and data not in data_names):
        data = None
    num_classes = kwargs.get("num_classes") if _is_positive_int(kwargs.get("num_classes")) else None
    epoch = state.get("epoch") if _is_positive_int(state.get("epoch")) else None
    return Restored(model.eval(), name, channels=channels, size=size, mean=mean, std=std, data=data,
                    num_classes=num_classes, epoch=epoch, path=path, meta=meta)
