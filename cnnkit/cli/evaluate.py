"""``cnnkit eval``: a ``cnnkit train`` checkpoint on a test set: loss, accuracy, top-3, the confusion matrix and
per-class precision, recall and F1 (text, or one JSON document with ``--json``).

The model comes back with :func:`cnnkit.train.restore`, the numbers from :func:`cnnkit.train.evaluate` and
:func:`cnnkit.train.precision_recall_f1`; this module checks that the data fits the model and prints.
"""
from __future__ import annotations

import json
import math

from ..data import DataLoader, Subset, TransformedDataset
from ..data import transforms as T
from ..data.datasets import ImageFolder, find_splits
from ..nn import CrossEntropyLoss
from ..train import evaluate, precision_recall_f1, restore
from . import args as A
from . import run_data
from .datasets import NAMES, SHAPES, class_names

HELP = "evaluate a checkpoint on a test set: loss, accuracy, confusion matrix, per-class precision/recall/F1"
RAW_DESCRIPTION = True
DESCRIPTION = """\
Rebuild the model of a `cnnkit train` checkpoint from its meta (the model, its
settings and the training set's per-channel mean and standard deviation), load
its weights and evaluate it on the test split of the data it was trained on
(or of --data): loss, accuracy, top-3 accuracy (3 or more classes), the
confusion matrix, and per class precision, recall, F1 and support (the number
of test images of the class), with their macro (unweighted) and weighted (by
support) averages over the classes:

    precision = TP / (TP + FP)    recall = TP / (TP + FN)
    F1 = 2 * precision * recall / (precision + recall)

(0 where a denominator is 0, as scikit-learn's default).

--json prints one JSON document on stdout instead of the text (the line
"evaluating ... on the ... test set" stays on stderr):

    {"checkpoint": str, "model": str, "data": str, "images": int,
     "loss": float|null, "accuracy": float, "correct": int,
     "top3": float|null (fewer than 3 classes: null),
     "classes": [str, ...],
     "per_class": [{"index": int, "class": str, "precision": float,
                    "recall": float, "f1": float, "support": int}, ...],
     "macro": {"precision": float, "recall": float, "f1": float,
               "support": int},
     "weighted": {... as macro},
     "confusion": [[int, ...], ...]  (rows: true class, columns: predicted)}
"""


def add_arguments(e) -> None:
    e.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, e.g. runs/lenet5-digits/checkpoint.safetensors")
    e.add_argument("--data", "--dataset", dest="data", default=None, type=A.data_spec(NAMES), metavar="DATA",
                   help="the test set (default: the one the checkpoint was trained on; a folder's test/ split, or "
                        "its val/ without one); its images must have the model's channels (they are resized to "
                        "its size)")
    e.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data/<data>)")
    e.add_argument("--download", action="store_true", help="download missing dataset files (MD5-verified)")
    e.add_argument("--batch-size", type=A.positive_int, default=256, help="(default: 256)")
    e.add_argument("--limit", type=A.positive_int, default=None, metavar="N",
                   help="evaluate on the first N images of the test set only (a quick run)")
    e.add_argument("--json", action="store_true",
                   help="print the results as one JSON document on stdout (the schema is above)")


def format_confusion(matrix, names: list) -> str:
    """The confusion matrix as text: a row per true class (labelled with its index and name), a column per
    predicted class (its index), and each row's share of correct predictions (the class's recall)."""
    n = len(matrix)
    width = max(3, len(str(int(matrix.max()))) if matrix.size else 1, len(str(n - 1)))
    named = names != [str(i) for i in range(n)]
    labels = [f"{i} {names[i]}" if named else str(i) for i in range(n)]
    label_width = max(len(label) for label in labels)
    lines = [" " * label_width + "".join(f" {i:>{width}}" for i in range(n)) + "  correct"]
    for i, row in enumerate(matrix):
        total = int(row.sum())
        share = f"{100 * row[i] / total:6.1f}%" if total else "      -"
        lines.append(f"{labels[i]:<{label_width}}" + "".join(f" {int(v):>{width}}" for v in row) + "  " + share)
    return "\n".join(lines)


def format_per_class(report: dict, names: list) -> str:
    """Per-class precision, recall, F1 and support as a table, then the macro and weighted averages."""
    n = len(report["support"])
    named = names != [str(i) for i in range(n)]
    labels = [f"{i} {names[i]}" if named else str(i) for i in range(n)] + ["macro average", "weighted average"]
    width = max(len(label) for label in labels + ["class"])
    support_width = max(7, len(str(report["macro"]["support"])))
    lines = [f"{'class':<{width}}  precision  recall      f1  {'support':>{support_width}}"]
    rows = [(report["precision"][i], report["recall"][i], report["f1"][i], report["support"][i]) for i in range(n)]
    rows += [tuple(report[k][m] for m in ("precision", "recall", "f1", "support")) for k in ("macro", "weighted")]
    for label, (p, r, f, support) in zip(labels, rows):
        lines.append(f"{label:<{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {int(support):>{support_width}}")
    return "\n".join(lines)


def _number(v):
    v = float(v)
    return v if math.isfinite(v) else None  # JSON has no NaN


def as_json(result: dict, report: dict, names: list, restored, checkpoint, label: str) -> dict:
    """The document ``--json`` prints (the schema is in the command's help)."""
    n, confusion = result["n"], result["confusion"]
    return {"checkpoint": str(checkpoint), "model": restored.name, "data": label, "images": n,
            "loss": _number(result["loss"]), "accuracy": _number(result["accuracy"]),
            "correct": round(result["accuracy"] * n) if n else 0,
            "top3": _number(result["top3"]) if len(confusion) >= 3 else None,
            "classes": list(names),
            "per_class": [{"index": i, "class": names[i], "precision": float(report["precision"][i]),
                           "recall": float(report["recall"][i]), "f1": float(report["f1"][i]),
                           "support": int(report["support"][i])} for i in range(len(confusion))],
            "macro": report["macro"], "weighted": report["weighted"],
            "confusion": confusion.tolist()}


def test_split(restored, data: str, args, context):
    """(the test data set, standardized as the model was trained, and its class names)."""
    if run_data.is_folder(data):
        return _folder_test(restored, data, args)
    expected = (restored.channels, restored.size, restored.size)

    def check_channels(shape):
        if shape[0] != restored.channels:
            raise ValueError(f"data mismatch: {args.checkpoint} holds {restored.describe()} for "
                             f"{'×'.join(map(str, expected))} images, the {data} test set has "
                             f"{'×'.join(map(str, shape))} images")

    if data not in context.datasets:
        raise ValueError(f"{args.checkpoint} was trained on '{data}', which is not a --data choice: pass --data")
    if data in SHAPES:
        check_channels(SHAPES[data])  # before reading any file
    test = context.load(data, train=False, data_dir=args.data_dir, download=args.download, limit=args.limit)
    images, labels = test.arrays[0], test.arrays[1]
    check_channels(images.shape[1:])
    if restored.num_classes is not None and len(labels) and int(labels.max()) >= restored.num_classes:
        raise ValueError(f"data mismatch: {args.checkpoint} holds {restored.describe()} with "
                         f"{restored.num_classes} classes, the {data} test set has labels up to {int(labels.max())}")
    steps = [restored.normalize]
    if tuple(images.shape[2:]) != (restored.size, restored.size):  # trained at another size (--image-size)
        steps.insert(0, T.Resize((restored.size, restored.size)))
    test.transform = T.Compose(steps)
    return test, class_names(data, restored.num_classes or int(labels.max()) + 1)


def _folder_test(restored, data: str, args):
    classes = restored.meta.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"{args.checkpoint} was trained on {data} but does not list its classes")
    splits = find_splits(run_data.folder_path(data))
    split = splits.get("test") or splits.get("val")
    if split is None:
        raise FileNotFoundError(f"{run_data.folder_path(data)} has no test/ (or val/) folder to evaluate on")
    images = ImageFolder(split, channels=restored.channels, size=restored.size, classes=classes)
    subset = Subset(images, run_data.spread(len(images), args.limit))
    return TransformedDataset(subset, T.Compose([T.ConvertImageDtype(), restored.normalize])), classes


def run(args, context) -> int:
    restored = restore(args.checkpoint)
    data = args.data or restored.data
    if data is None:
        raise ValueError(f"{args.checkpoint} does not say which data it was trained on: pass --data")
    test, names = test_split(restored, data, args, context)
    label = run_data.data_label(data)
    print(f"evaluating {restored.describe()} on the {label} test set: {len(test):,} images", file=context.err)
    result = evaluate(restored.model, DataLoader(test, batch_size=args.batch_size), CrossEntropyLoss(), topk=3)
    n, confusion = result["n"], result["confusion"]
    names = names[:len(confusion)]
    report = precision_recall_f1(confusion)
    out = context.out
    if args.json:
        document = as_json(result, report, names, restored, args.checkpoint, label)
        print(json.dumps(document, indent=1, allow_nan=False), file=out, flush=True)
        return 0
    print(f"test accuracy: {100 * result['accuracy']:.2f}% ({round(result['accuracy'] * n)}/{n}), test loss "
          f"{result['loss']:.4f}", file=out)
    if len(confusion) >= 3:
        print(f"top-3 accuracy: {100 * result['top3']:.2f}% ({round(result['top3'] * n)}/{n})", file=out)
    print("confusion matrix (rows: true class, columns: predicted class):", file=out)
    print(format_confusion(confusion, names), file=out)
    print("per class (precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean):", file=out)
    print(format_per_class(report, names), file=out, flush=True)
    return 0
