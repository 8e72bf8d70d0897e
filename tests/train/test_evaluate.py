"""``cnnkit.train.evaluate``: loss, accuracy, top-k and the confusion matrix of a model on a loader, against a hand
computation with NumPy on a small data set; the Trainer's evaluate gives the same numbers."""
import io

import numpy as np
import pytest

from cnnkit import nn
from cnnkit.data import DataLoader, TensorDataset
from cnnkit.nn.loss import CrossEntropyLoss, MSELoss
from cnnkit.optim import SGD
from cnnkit.train import Trainer, evaluate


class Fixed(nn.Module):
    """A 'model' whose logits are its input: the numbers of evaluate are computable by hand."""

    def forward(self, x):
        return x * 1.0


LOGITS = np.array([[2.0, 1.0, 0.0],    # predicts 0, target 0: correct
                   [0.5, 0.2, 0.9],    # predicts 2, target 1: wrong; 1 is third
                   [0.1, 3.0, 0.3],    # predicts 1, target 1: correct
                   [1.0, 1.0, 0.0],    # tie 0 / 1 -> predicts 0, target 1: wrong, but second
                   [0.0, 0.0, 5.0]])   # predicts 2, target 2: correct
TARGETS = np.array([0, 1, 1, 1, 2])


def by_hand(logits, targets):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(len(targets)), targets].mean()
    predicted = logits.argmax(axis=1)
    confusion = np.zeros((3, 3), np.int64)
    for t, p in zip(targets, predicted):
        confusion[t, p] += 1
    return loss, np.mean(predicted == targets), confusion


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_evaluate_equals_a_hand_computation(batch_size):
    data = TensorDataset(LOGITS, TARGETS)
    result = evaluate(Fixed(), DataLoader(data, batch_size=batch_size), CrossEntropyLoss(), topk=2)
    loss, accuracy, confusion = by_hand(LOGITS, TARGETS)
    assert result["n"] == 5 and result["accuracy"] == accuracy == 3 / 5
    assert result["loss"] == pytest.approx(loss, rel=1e-12)  # per-batch means weighted by the batch sizes
    assert result["top2"] == 4 / 5  # row 3's target is second (tie broken by class index); row 1's is third
    assert np.array_equal(result["confusion"], confusion) and result["confusion"].dtype == np.int64
    # a Dataset is batched with batch_size
    again = evaluate(Fixed(), data, CrossEntropyLoss(), topk=2, batch_size=batch_size)
    assert again.keys() == result.keys() and np.array_equal(again["confusion"], result["confusion"])
    assert again["loss"] == result["loss"]


def test_the_trainers_evaluate_is_evaluate():
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((37, 4)).astype(np.float32), rng.integers(0, 3, 37))
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), topk=2, batch_size=10,
                      stream=io.StringIO())
    a, b = trainer.evaluate(data), evaluate(model, data, CrossEntropyLoss(), topk=2, batch_size=10)
    assert a.keys() == b.keys() == {"loss", "accuracy", "n", "top2", "confusion"}
    assert a["loss"] == b["loss"] and a["accuracy"] == b["accuracy"] and a["top2"] == b["top2"]
    assert np.array_equal(a["confusion"], b["confusion"]) and model.training


def test_non_class_targets_and_errors():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    result = evaluate(Fixed(), TensorDataset(x, x + 1), MSELoss(), batch_size=4)
    assert result["loss"] == pytest.approx(1.0) and result["n"] == 6
    assert np.isnan(result["accuracy"]) and "confusion" not in result
    with pytest.raises(TypeError, match="evaluate: expected a DataLoader or a Dataset, got int"):
        evaluate(Fixed(), 3, MSELoss())
    with pytest.raises(TypeError, match="evaluate: expected a DataLoader or a Dataset, got None"):
        evaluate(Fixed(), None, MSELoss())
    with pytest.raises(ValueError, match="evaluate: topk must be a positive int or None, got 0"):
        evaluate(Fixed(), TensorDataset(x, x), MSELoss(), topk=0)
    with pytest.raises(ValueError, match="evaluate: batch_size must be a positive int, got 0"):
        evaluate(Fixed(), TensorDataset(x, x), MSELoss(), batch_size=0)
