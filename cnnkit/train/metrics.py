"""Classification metrics on logits (N, C) and integer targets (N,): accuracy, top-k, confusion matrix, and
per-class precision, recall and F1 from a confusion matrix.

Ties are broken by class index, as ``argmax`` does: a target ranks after every class with a higher logit
and after every class with an equal logit and a smaller index. So top-1 is exactly ``argmax == target``,
and a constant output (all logits equal) is "correct" only for class 0 (top-1) or classes 0..k-1 (top-k).
"""
from __future__ import annotations

import numpy as np

from ..ops import validate
from ..tensor import Tensor


def _arr(x) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _check(logits: np.ndarray, targets: np.ndarray, name: str) -> None:
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"{name}: expected logits (N, C) and targets (N,), got shapes {logits.shape} and "
                         f"{targets.shape}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class targets, got dtype {targets.dtype}")
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(f"{name}: targets must be class indices in [0, {logits.shape[1]}), got values in "
                         f"[{targets.min()}, {targets.max()}]")


def target_rank(logits, targets) -> np.ndarray:
    """0-based rank of each row's target among its logits (0 = the arg-max), ties broken by class index:

    rank_n = #{c : z_nc > z_nt} + #{c < t : z_nc = z_nt}   with t = targets_n.
    """
    logits, targets = _arr(logits), _arr(targets)
    _check(logits, targets, "target_rank")
    target_logit = np.take_along_axis(logits, targets[:, None], axis=1)
    before = np.arange(logits.shape[1])[None, :] < targets[:, None]
    return (logits > target_logit).sum(axis=1) + ((logits == target_logit) & before).sum(axis=1)


def topk_correct(logits, targets, k: int = 1) -> int:
    """How many targets are among the k highest logits of their row (ties broken by class index)."""
    logits, targets = _arr(logits), _arr(targets)
    _check(logits, targets, "topk_correct")
    k = validate.positive_int(k, "k", "topk_correct")
    if k > logits.shape[1]:
        raise ValueError(f"topk_correct: k must be in [1, {logits.shape[1]}] for {logits.shape[1]} classes, got {k}")
    if k == 1:
        return int(np.count_nonzero(logits.argmax(axis=1) == targets))
    return int(np.count_nonzero(target_rank(logits, targets) < k))


def accuracy(logits, targets) -> float:
    """Fraction of rows whose arg-max is the target (NaN for no rows)."""
    n = len(_arr(targets))
    correct = topk_correct(logits, targets, 1)
    return correct / n if n else float("nan")


def topk_accuracy(logits, targets, k: int = 5) -> float:
    """Fraction of rows whose target is among the k highest logits (NaN for no rows)."""
    n = len(_arr(targets))
    correct = topk_correct(logits, targets, k)
    return correct / n if n else float("nan")


def confusion_matrix(predictions, targets, num_classes: int) -> np.ndarray:
    """M[i, j] = number of samples of true class i predicted as class j (int64, num_classes × num_classes).

    Rows sum to the class counts of ``targets``, the trace is the number of correct predictions.
    """
    num_classes = validate.positive_int(num_classes, "num_classes", "confusion_matrix")
    p, t = _arr(predictions), _arr(targets)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"confusion_matrix: expected predicted and true classes of equal shape (N,), got shapes "
                         f"{p.shape} and {t.shape}")
    if p.dtype.kind not in "iu" or t.dtype.kind not in "iu":
        raise TypeError(f"confusion_matrix: expected integer classes, got dtypes {p.dtype} and {t.dtype}")
    p, t = p.astype(np.int64), t.astype(np.int64)
    if p.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: classes must be in [0, {num_classes}), got values in "
                         f"[{min(p.min(), t.min())}, {max(p.max(), t.max())}]")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def precision_recall_f1(confusion) -> dict:
    """Per-class precision, recall, F1 and support of a confusion matrix M (rows: true class, columns: predicted):

        precision_c = M[c, c] / Σ_i M[i, c]      recall_c = M[c, c] / Σ_j M[c, j]
        F1_c = 2 · precision_c · recall_c / (precision_c + recall_c)      support_c = Σ_j M[c, j]

    A ratio whose denominator is 0 is 0 (scikit-learn's ``zero_division`` default). Returns float64 arrays
    ``precision``, ``recall``, ``f1`` and int64 ``support`` (one entry per class), and the averages over all the
    classes as dicts ``macro`` (unweighted means) and ``weighted`` (means weighted by support), each with
    ``precision``, ``recall``, ``f1`` and ``support`` (the number of samples), as scikit-learn's
    ``precision_recall_fscore_support(average="macro" / "weighted")``.
    """
    m = np.asarray(confusion)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"precision_recall_f1: expected a square confusion matrix (C, C), got shape {m.shape}")
    if m.dtype.kind not in "iu":
        raise TypeError(f"precision_recall_f1: expected integer counts, got dtype {m.dtype}")
    m = m.astype(np.int64)
    hits = np.diag(m).astype(np.float64)
    support, predicted = m.sum(axis=1), m.sum(axis=0)
    precision, recall = _ratio(hits, predicted), _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = int(support.sum())
    weights = support / total if total else np.zeros(len(support))
    result = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    result["macro"] = {k: float(result[k].mean()) for k in ("precision", "recall", "f1")} | {"support": total}
    result["weighted"] = {k: float(result[k] @ weights) for k in ("precision", "recall", "f1")} | {"support": total}
    return result


class RunningMean:
    """Weighted running mean (e.g. of per-batch losses weighted by batch size)."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, value: float, n: int = 1) -> None:
        self.total += float(value) * n
        self.count += n

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")
