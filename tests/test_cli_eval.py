"""``cnnkit eval``'s per-class precision, recall and F1 (text and ``--json``), checked against scikit-learn's
``precision_recall_fscore_support`` on the model's own predictions; and ``precision_recall_f1`` on its own."""
import io
import json
import re

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

import cnnkit.data.datasets
from cnnkit import cli
from cnnkit.data import ArrayDataset
from cnnkit.train import confusion_matrix, precision_recall_f1, restore

_CACHE = {}


def _small_digits(train=True, **kwargs):
    """The first 200 training / 120 test images of the digits."""
    if train not in _CACHE:
        d = cnnkit.data.datasets.digits(train=train)
        n = 200 if train else 120
        _CACHE[train] = (d.arrays[0][:n].copy(), d.arrays[1][:n].copy())
    x, y = _CACHE[train]
    return ArrayDataset(x.copy(), y.copy())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = cli.main(["train", "--quiet", "--epochs", "2", "--out", str(out)], datasets={"digits": _small_digits},
                    stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    return out / "checkpoint.safetensors"


def sklearn_answer(checkpoint):
    """The model's predictions on the 120 test images, computed here, and scikit-learn's metrics of them."""
    restored = restore(checkpoint)
    x, y = _small_digits(train=False).arrays
    pred = restored.logits(restored.normalize(x)).argmax(axis=1)
    labels = list(range(10))
    per_class = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    macro = precision_recall_fscore_support(y, pred, labels=labels, average="macro", zero_division=0)
    weighted = precision_recall_fscore_support(y, pred, labels=labels, average="weighted", zero_division=0)
    return y, pred, per_class, macro, weighted


def run_eval(checkpoint, *extra):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["eval", str(checkpoint), *extra], datasets={"digits": _small_digits}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_json_matches_scikit_learn(checkpoint):
    code, out, err = run_eval(checkpoint, "--json")
    assert code == 0 and "120 images" in err
    doc = json.loads(out)  # the whole of stdout is one JSON document
    y, pred, (p, r, f, s), macro, weighted = sklearn_answer(checkpoint)
    assert doc["images"] == 120 and doc["correct"] == int((pred == y).sum())
    assert doc["accuracy"] == pytest.approx((pred == y).mean(), abs=1e-12)
    assert doc["classes"] == [str(i) for i in range(10)] and doc["model"] == "lenet5" and doc["data"] == "digits"
    assert doc["checkpoint"] == str(checkpoint) and doc["loss"] > 0 and 0 <= doc["top3"] <= 1
    assert np.array_equal(doc["confusion"], confusion_matrix(pred, y, 10))
    assert [c["index"] for c in doc["per_class"]] == list(range(10))
    for key, want in (("precision", p), ("recall", r), ("f1", f)):
        assert [c[key] for c in doc["per_class"]] == pytest.approx(want, abs=1e-12)
    assert [c["support"] for c in doc["per_class"]] == list(s)
    for got, want in ((doc["macro"], macro), (doc["weighted"], weighted)):
        assert [got["precision"], got["recall"], got["f1"]] == pytest.approx(want[:3], abs=1e-12)
        assert got["support"] == 120
    assert 0 < doc["macro"]["f1"] < 1  # two epochs on 200 images: neither perfect nor nothing


def test_text_table_matches_scikit_learn(checkpoint):
    code, out, _ = run_eval(checkpoint)
    assert code == 0
    assert re.search(r"^test accuracy: \d+\.\d\d% \(\d+/120\), test loss \d\.\d{4}$", out, re.M)  # as before
    assert "confusion matrix (rows: true class, columns: predicted class):" in out
    table = out[out.index("\nclass "):].strip().splitlines()
    assert table[0] == "class             precision  recall      f1  support"
    _, _, (p, r, f, s), macro, weighted = sklearn_answer(checkpoint)
    rows = [line.rsplit(None, 4) for line in table[1:]]
    assert [row[0] for row in rows] == [str(i) for i in range(10)] + ["macro average", "weighted average"]
    for i, row in enumerate(rows[:10]):
        assert row[1:] == [f"{p[i]:.4f}", f"{r[i]:.4f}", f"{f[i]:.4f}", str(s[i])]
    for row, want in zip(rows[10:], (macro, weighted)):
        assert row[1:] == [f"{want[0]:.4f}", f"{want[1]:.4f}", f"{want[2]:.4f}", "120"]


def test_help_documents_the_json_schema():
    out = io.StringIO()
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"], stdout=out)
    text = out.getvalue()
    assert "--json" in text and '"per_class": [{"index": int, "class": str, "precision": float,' in text
    assert "recall = TP / (TP + FN)" in text


@pytest.mark.parametrize("seed", range(6))
def test_precision_recall_f1_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 8))
    y, pred = rng.integers(0, c, 60), rng.integers(0, c, 60)
    pred[y == 0] = 0 if seed % 2 else 1  # classes with no predictions or a perfect one
    y[y == c - 1] = 0  # a class with no samples
    report = precision_recall_f1(confusion_matrix(pred, y, c))
    labels = list(range(c))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    assert np.allclose(report["precision"], p, rtol=0, atol=1e-15) and np.allclose(report["recall"], r, rtol=0,
                                                                                     atol=1e-15)
    assert np.allclose(report["f1"], f, rtol=0, atol=1e-15) and np.array_equal(report["support"], s)
    for average in ("macro", "weighted"):
        want = precision_recall_fscore_support(y, pred, labels=labels, average=average, zero_division=0)
        got = report[average]
        assert [got["precision"], got["recall"], got["f1"]] == pytest.approx(want[:3], abs=1e-15)
        assert got["support"] == 60


def test_precision_recall_f1_rejects_what_is_not_a_confusion_matrix():
    with pytest.raises(ValueError, match=r"precision_recall_f1: expected a square confusion matrix \(C, C\), got "
                                         r"shape \(2, 3\)"):
        precision_recall_f1(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="precision_recall_f1: expected integer counts, got dtype float64"):
        precision_recall_f1(np.eye(2))
