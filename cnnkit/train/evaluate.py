"""Evaluating a model on a data set: mean loss, accuracy, top-k accuracy and the confusion matrix.

    result = evaluate(model, DataLoader(test, batch_size=256), nn.CrossEntropyLoss(), topk=3)
    result["loss"], result["accuracy"], result["top3"], result["confusion"], result["n"]

The loss is averaged over samples, L̄ = Σ_b n_b · L_b / Σ_b n_b (L_b the mean loss of batch b of n_b samples);
accuracy is the share of samples whose arg-max is the target, top-k the share whose target is among the k
highest logits (ties broken by class index, see :mod:`cnnkit.train.metrics`), and the confusion matrix counts
M[true, predicted]. The model runs in eval mode without a graph; its mode is restored after.
"""
from __future__ import annotations

import numpy as np

from ..data.dataloader import DataLoader
from ..ops import validate
from ..tensor import Tensor, no_grad
from .metrics import RunningMean, confusion_matrix, topk_correct

__all__ = ["as_loader", "class_targets", "evaluate", "predict"]


def as_loader(data, batch_size: int, shuffle: bool, name: str):
    """``data`` as a DataLoader: a DataLoader (or None) as is, a Dataset batched with ``batch_size``; ``name``
    (the caller, e.g. ``Trainer.fit``) starts the TypeError for anything else."""
    if data is None or isinstance(data, DataLoader):
        return data
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    raise TypeError(f"{name}: expected a DataLoader or a Dataset, got {type(data).__name__}")


def class_targets(out, y) -> bool:
    """True if (out, y) are logits (N, C) and class indices (N,), so accuracy is defined."""
    return out.ndim == 2 and y.ndim == 1 and y._data.dtype.kind in "iu"


def _reduce(group, loss_mean, n, scored, correct, correct_k, confusion):
    """The sums of every rank's shard, added up over the ranks of ``group`` (same on every rank)."""
    sums = group.all_reduce(np.array([loss_mean.total, loss_mean.count, n, scored, correct, correct_k],
                                     dtype=np.float64))
    num_classes = int(group.all_reduce(np.array([0 if confusion is None else len(confusion)], np.int64), "max")[0])
    if num_classes:
        full = np.zeros((num_classes, num_classes), np.int64)
        if confusion is not None:
            full[:len(confusion), :len(confusion)] = confusion
        confusion = group.all_reduce(full)
    loss_mean.total, loss_mean.count = float(sums[0]), int(sums[1])
    return loss_mean, int(sums[2]), int(sums[3]), int(sums[4]), int(sums[5]), confusion


def evaluate(model, data, loss, *, topk: int | None = None, batch_size: int = 64, process_group=None) -> dict:
    """Mean ``loss``, accuracy (and top-k with ``topk``), the confusion matrix (true class × predicted class) and
    the number of samples ``n`` of ``model`` on ``data`` (a DataLoader, or a Dataset batched with
    ``batch_size``); in eval mode, without a graph; the model's mode is restored after.

    With ``process_group`` (``cnnkit.distributed.init()``) each rank evaluates its own shard of the data and the
    sums (losses, counts, correct predictions, the confusion matrix) are added up over the ranks: every rank
    returns the result on the union of the shards.

    Returns ``{"loss", "accuracy", "n"}``, plus ``"top<k>"`` with ``topk`` and ``"confusion"`` (int64, C × C)
    when the outputs are logits (N, C) and the targets class indices (N,); accuracy is NaN otherwise.
    """
    if topk is not None and (not validate.is_int(topk) or topk < 1):
        raise ValueError(f"evaluate: topk must be a positive int or None, got {topk!r}")
    if not validate.is_int(batch_size) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be a positive int, got {batch_size!r}")
    loader = as_loader(data, batch_size, False, "evaluate")
    if loader is None:
        raise TypeError("evaluate: expected a DataLoader or a Dataset, got None")
    was_training = model.training
    model.eval()
    loss_mean, correct, correct_k, n = RunningMean(), 0, 0, 0
    preds, targets, num_classes = [], [], 0
    try:
        with no_grad():
            for x, y in loader:
                out = model(x)
                loss_mean.update(loss(out, y).item(), len(y))
                n += len(y)
                if not class_targets(out, y):
                    continue
                logits, t = out._data, y._data
                correct += topk_correct(logits, t, 1)
                if topk:
                    correct_k += topk_correct(logits, t, min(topk, logits.shape[1]))
                preds.append(logits.argmax(axis=1))
                targets.append(t)
                num_classes = logits.shape[1]
    finally:
        model.train(was_training)
    scored = sum(len(t) for t in targets)  # samples with class targets
    confusion = (confusion_matrix(np.concatenate(preds), np.concatenate(targets), num_classes) if preds else None)
    if process_group is not None and process_group.world_size > 1:
        loss_mean, n, scored, correct, correct_k, confusion = _reduce(process_group, loss_mean, n, scored, correct,
                                                                      correct_k, confusion)
    result = {"loss": loss_mean.mean, "accuracy": correct / scored if scored else float("nan"), "n": n}
    if topk:
        result[f"top{topk}"] = correct_k / scored if scored else float("nan")
    if confusion is not None:
        result["confusion"] = confusion
    return result


def predict(model, x, batch_size: int, return_logits: bool = False) -> np.ndarray:
    """The predicted classes ŷ_i = argmax_c f(x_i)_c (int64, shape (N,)) of inputs ``x`` (N, ...), or the raw outputs
    (N, C) with ``return_logits``; in batches of ``batch_size``, in eval mode without a graph (the mode is restored
    after). ``x`` (a Tensor or an array) is cast to the dtype of the model's parameters."""
    arr = x._data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0 or len(arr) == 0:
        raise ValueError(f"Trainer.predict: expected a non-empty batch of inputs (N, ...), got shape {arr.shape}")
    dtype = next((p._data.dtype for p in model.parameters()), arr.dtype)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outs = [model(Tensor._wrap(arr[i:i + batch_size]))._data for i in range(0, len(arr), batch_size)]
    finally:
        model.train(was_training)
    logits = np.concatenate(outs)
    return logits if return_logits else logits.argmax(axis=1)
