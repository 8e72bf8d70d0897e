"""What training reports besides the progress display (:mod:`cnnkit.train.progress`): the metrics log (CSV, or
JSON lines for a ``.jsonl`` path) and the training-curve plot (PNG, matplotlib's Agg backend).

The log and the plot are rewritten from the whole history after every epoch (atomically), so a resumed run
continues the log of its checkpoint and a new run in the same folder starts a new log.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ..io.atomic import atomic_output

COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s"]


def _columns(history: list) -> list:
    """The standard columns, then any other keys of the rows in order of appearance."""
    cols = list(COLUMNS)
    for row in history:
        cols.extend(k for k in row if k not in cols)
    return cols


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN/inf
    return v


def write_log(path, history: list) -> None:
    """Write the metrics of every epoch so far: a CSV with a header row, or JSON lines for a ``.jsonl`` path.

    Missing values are empty CSV fields / JSON ``null``.
    """
    cols = _columns(history)
    if Path(path).suffix == ".jsonl":
        text = "".join(json.dumps({k: _json_value(row.get(k)) for k in cols}, allow_nan=False) + "\n"
                       for row in history)
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in cols})
        text = buf.getvalue()
    with atomic_output(path) as f:
        f.write(text.encode("utf-8"))


def plot_history(history: list, path) -> None:
    """Loss and accuracy per epoch (train and validation) as a PNG (matplotlib, Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend to pick
    from matplotlib.ticker import MaxNLocator


    epochs = [h["epoch"] for h in history]

    def series(key):
        vals = [h.get(key) for h in history]
        vals = [float("nan") if v is None else v for v in vals]
        return None if all(math.isnan(v) for v in vals) else vals

    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        for split, style in (("train", "-o"), ("val", "-s")):
            vals = series(f"{split}_{key}")
            if vals is not None:
                ax.plot(epochs, vals, style, label=split, markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    with atomic_output(path) as f:
        fig.savefig(f, format="png", dpi=100)
