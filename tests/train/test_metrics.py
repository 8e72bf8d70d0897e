"""Metrics against brute-force references: accuracy, top-k (with ties), confusion matrix, and their errors."""
import numpy as np
import pytest

import cnnkit as ck
from cnnkit.train import accuracy, confusion_matrix, target_rank, topk_accuracy, topk_correct


def brute_topk(logits, targets, k):
    """Reference: the target is among the first k classes of a stable descending sort (ties by class index)."""
    n = 0
    for row, t in zip(logits, targets):
        order = sorted(range(len(row)), key=lambda c: (-row[c], c))
        n += t in order[:k]
    return n


@pytest.mark.parametrize("seed", range(4))
def test_topk_matches_brute_force_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    logits = rng.integers(0, 3, size=(200, 6)).astype(np.float32)  # few distinct values: ties everywhere
    targets = rng.integers(0, 6, size=200)
    for k in range(1, 7):
        assert topk_correct(logits, targets, k) == brute_topk(logits, targets, k)
    assert topk_correct(logits, targets, 6) == 200
    ranks = target_rank(logits, targets)
    assert [int(r) for r in ranks] == [sorted(range(6), key=lambda c: (-row[c], c)).index(t)
                                       for row, t in zip(logits, targets)]


def test_topk_ties_are_broken_by_class_index():
    logits = np.zeros((3, 4))
    targets = np.array([0, 1, 3])
    assert topk_correct(logits, targets, 1) == 1          # argmax of a constant row is class 0
    assert topk_correct(logits, targets, 2) == 2          # classes 0 and 1
    assert topk_correct(logits, targets, 4) == 3
    assert accuracy(logits, targets) == pytest.approx(1 / 3)
    # top-1 is exactly argmax == target
    z = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    assert topk_correct(z, np.array([2, 0]), 1) == 1
    assert topk_correct(z, np.array([1, 1]), 1) == 1


def test_accuracy_and_topk_accuracy_values_and_tensors():
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((50, 10))
    targets = rng.integers(0, 10, 50)
    expected = np.mean(logits.argmax(1) == targets)
    assert accuracy(logits, targets) == pytest.approx(expected)
    assert accuracy(ck.tensor(logits), ck.tensor(targets)) == pytest.approx(expected)
    top3 = np.mean([t in np.argsort(-row)[:3] for row, t in zip(logits, targets)])
    assert topk_accuracy(logits, targets, 3) == pytest.approx(top3)
    assert np.isnan(accuracy(np.zeros((0, 3)), np.zeros(0, np.int64)))


@pytest.mark.parametrize("seed", range(3))
def test_confusion_matrix_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    c = 5
    t = rng.integers(0, c, 300)
    p = np.where(rng.random(300) < 0.6, t, rng.integers(0, c, 300))
    m = confusion_matrix(p, t, c)
    ref = np.zeros((c, c), np.int64)
    for ti, pi in zip(t, p):
        ref[ti, pi] += 1
    np.testing.assert_array_equal(m, ref)
    assert m.dtype == np.int64 and m.sum() == 300
    np.testing.assert_array_equal(m.sum(axis=1), np.bincount(t, minlength=c))
    assert np.trace(m) == np.sum(p == t)
    np.testing.assert_array_equal(confusion_matrix(ck.tensor(p), ck.tensor(t), c), ref)
    # classes absent from the data still get their row and column
    np.testing.assert_array_equal(confusion_matrix(np.array([0]), np.array([0]), 3),
                                  [[1, 0, 0], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("call, exc, match", [
    (lambda: topk_correct(np.zeros((2, 3)), np.zeros(3, np.int64)), ValueError,
     r"topk_correct: expected logits \(N, C\) and targets \(N,\), got shapes \(2, 3\) and \(3,\)"),
    (lambda: topk_correct(np.zeros(3), np.zeros(3, np.int64)), ValueError, "expected logits"),
    (lambda: topk_correct(np.zeros((2, 3)), np.zeros(2), 1), TypeError, "integer class targets, got dtype float64"),
    (lambda: topk_correct(np.zeros((2, 3)), np.array([0, 3])), ValueError, r"class indices in \[0, 3\)"),
    (lambda: topk_correct(np.zeros((2, 3)), np.array([-1, 0])), ValueError, r"class indices in \[0, 3\)"),
    (lambda: topk_correct(np.zeros((2, 3)), np.array([0, 1]), 4), ValueError, r"k must be in \[1, 3\]"),
    (lambda: topk_correct(np.zeros((2, 3)), np.array([0, 1]), 0), ValueError, "topk_correct: k must be positive, got 0$"),
    (lambda: topk_accuracy(np.zeros((2, 3)), np.array([0, 1]), 5), ValueError, r"k must be in \[1, 3\]"),
    (lambda: confusion_matrix(np.array([0, 1]), np.array([0]), 2), ValueError, "equal shape"),
    (lambda: confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2), ValueError, r"classes must be in \[0, 2\)"),
    (lambda: confusion_matrix(np.array([0, 1]), np.array([0, 1]), 0), ValueError,
     "confusion_matrix: num_classes must be positive, got 0$"),
    (lambda: confusion_matrix(np.array([0.5, 1]), np.array([0, 1]), 2), TypeError, "integer classes"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
