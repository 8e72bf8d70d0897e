"""The training progress display: one line per epoch, redrawn in place on a terminal and fitted to its width.

On a terminal (``stream.isatty()``, without ``quiet``) the line is redrawn after a batch (at most every
:data:`REFRESH_SECONDS`), e.g. on a wide terminal

    epoch 2/10:  40%|██████▍         | 8/20 [0:01<0:02, 812 img/s, run ETA 0:31] loss=0.2301, acc=0.9312

and, when the epoch ends, replaced by the epoch's summary line (the one printed without a terminal) followed by
the run's ETA, wrapped at its commas to the terminal's width. Otherwise nothing is printed per batch and the
summary line alone is printed when the epoch ends.

The run ETA is the time left for the whole run (all epochs, validation included):

    ETA = (b_left + b · e_after) · t_batch + (e_after + v) · t_val

with ``b_left`` the batches left in this epoch, ``b`` the batches per epoch, ``e_after`` the epochs after this
one, ``t_batch`` the mean training seconds per batch so far in this ``fit``, ``t_val`` the mean seconds of
the validations done so far (0 before the first one) and ``v`` 1 while this epoch's validation is to come.
images/s is the epoch's training images over its training time.

Fitting (``columns`` from the ``COLUMNS`` variable, else the stream's terminal, else
``shutil.get_terminal_size``): the line is at most ``columns - 1`` characters (the last column would make some
terminals wrap). The forms of :data:`FORMS` are tried in order, richest first: the epoch's times, the bar, the
percentage, the batch counter and images/s are dropped, and the metrics shortened (3 decimals, short names
``l a vl va``, 2 decimals), but a metric is never cut. A terminal too narrow for the shortest form gets no line
per batch.
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import time

REFRESH_SECONDS = 0.1  # the line is redrawn at most this often
SHORT_NAMES = {"loss": "l", "acc": "a", "val_loss": "vl", "val_acc": "va"}
BLOCKS = " ▏▎▍▌▋▊▉█"  # eighths of a bar cell
ASCII_BLOCKS = " 1234567#"  # the same on a stream whose encoding has no block characters
BAR_WIDTH = (10, 30)  # the bar's narrowest and widest number of cells


def terminal_columns(stream) -> int:
    """The width of the terminal ``stream`` writes to: ``COLUMNS`` if set (as ``shutil.get_terminal_size``
    reads it), else the stream's own terminal, else ``shutil.get_terminal_size()`` (stdout's, or 80)."""
    if os.environ.get("COLUMNS", "").strip().isdigit() and int(os.environ["COLUMNS"]) > 0:
        return shutil.get_terminal_size().columns
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns if columns > 0 else shutil.get_terminal_size().columns


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def format_seconds(seconds: float) -> str:
    """``M:SS`` below an hour, ``H:MM:SS`` from one; ``?`` when unknown (NaN)."""
    if not math.isfinite(seconds):
        return "?"
    s = max(0, round(seconds))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_metrics(metrics: dict, decimals: int, short: bool, sep: str) -> str:
    """``name=value`` pairs, e.g. ``loss=0.2301, acc=0.9312`` (4, False, ", ") or ``l=0.23 a=0.93`` (2, True, " ")."""
    return sep.join(f"{SHORT_NAMES.get(k, k) if short else k}={v:.{decimals}f}" for k, v in metrics.items())


def can_encode(stream, text: str) -> bool:
    """Whether ``stream`` (its ``encoding``; UTF-8 if it has none) can write ``text``."""
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _bar(fraction: float, width: int, blocks: str = BLOCKS) -> str:
    eighths = int(fraction * width * 8)
    full, part = divmod(min(eighths, width * 8), 8)
    return (blocks[-1] * full + (blocks[part] if full < width else "")).ljust(width)


# The forms of the line, richest first: (template, metric style (decimals, short names, separator)).
# {bar} is filled with as many cells (BAR_WIDTH) as the width leaves.
FORMS = [
    ("{desc}: {pct:3d}%|{bar}| {n}/{total} [{elapsed}<{left}, {rate} img/s, run ETA {eta}] {metrics}",
     (4, False, ", ")),
    ("{desc} {pct:3d}%|{bar}| {n}/{total} {rate} img/s ETA {eta} {metrics}", (4, False, ", ")),
    ("{desc} {pct:3d}%|{bar}| {n}/{total} {rate} img/s ETA {eta} {metrics}", (3, False, " ")),
    ("{desc} {n}/{total} {rate} img/s ETA {eta} {metrics}", (3, False, " ")),
    ("{desc} {n}/{total} {rate} img/s ETA {eta} {metrics}", (3, True, " ")),
    ("{short_desc} {n}/{total} {rate}/s ETA {eta} {metrics}", (3, True, " ")),
    ("{short_desc} {n}/{total} {rate}/s ETA {eta} {metrics}", (2, True, " ")),
    ("{short_desc} {rate}/s ETA {eta} {metrics}", (2, True, " ")),
    ("{short_desc} ETA {eta} {metrics}", (2, True, " ")),
    ("{n}/{total} {metrics}", (2, True, " ")),
]


def fit_line(columns: int, fields: dict, metrics: dict, forms: list = FORMS, blocks: str = BLOCKS) -> str | None:
    """The richest of ``forms`` that fits in ``columns - 1`` characters, or None if none does."""
    limit = columns - 1
    for template, style in forms:
        values = dict(fields, metrics=format_metrics(metrics, *style), bar="")
        line = template.format(**values)
        if "{bar}" in template:
            room = limit - len(line)
            if room < BAR_WIDTH[0]:
                continue
            line = template.format(**dict(values, bar=_bar(fields["fraction"], min(room, BAR_WIDTH[1]), blocks)))
        if len(line) <= limit:
            return line
    return None


def wrap(items: list, columns: int, indent: str = "  ") -> str:
    """``items`` joined by ", " in lines of at most ``columns - 1`` characters (continuation lines indented);
    an item longer than a line gets a line of its own, whole."""
    lines, line = [], ""
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        candidate = f"{line} {piece}" if line else piece
        if line and len(candidate) > columns - 1:
            lines.append(line)
            candidate = indent + piece
        line = candidate
    lines.append(line)
    return "\n".join(lines)


class RunClock:
    """The times of one ``fit`` across its epochs, for the run ETA: training seconds and batches, and the
    seconds of each validation."""

    def __init__(self, timer=time.perf_counter):
        self.timer = timer
        self.train_seconds, self.batches = 0.0, 0
        self.val_seconds: list = []

    @property
    def seconds_per_batch(self) -> float:
        return self.train_seconds / self.batches if self.batches else float("nan")

    @property
    def seconds_per_validation(self) -> float:
        return sum(self.val_seconds) / len(self.val_seconds) if self.val_seconds else 0.0


class NoProgress:
    """The progress display of a rank other than 0 of a distributed run: nothing."""

    def update(self, images=None, **metrics) -> None:
        pass

    def close(self, summary: str) -> None:
        pass

    def abort(self) -> None:
        pass


class Progress:
    """The progress of one epoch: ``p.update(images, loss=..., acc=...)`` after each batch (``images`` None for
    a batch replayed by a resumed epoch: counted, not timed), ``p.close(summary)`` at the end.

    ``total``: batches in the epoch; ``desc``: e.g. ``"epoch 2/10"``; ``epochs_after``: epochs of the run after
    this one; ``validates``: whether a validation follows the epoch's batches; ``clock``: the run's
    :class:`RunClock` (a new one: this epoch alone); ``columns``: the width (None: :func:`terminal_columns`,
    read at every redraw, so a resized terminal is followed).
    """

    def __init__(self, total: int, desc: str, quiet: bool = False, stream=None, *, epochs_after: int = 0,
                 validates: bool = False, clock: RunClock | None = None, columns: int | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.desc = total, desc
        self.epochs_after, self.validates, self.columns = epochs_after, validates, columns
        self.clock = clock if clock is not None else RunClock()
        self.live = not quiet and is_terminal(self.stream)
        self.blocks = BLOCKS if can_encode(self.stream, BLOCKS) else ASCII_BLOCKS
        self.n, self.timed, self.images, self.seconds = 0, 0, 0, 0.0  # batches; timed ones, their images and time
        self.metrics: dict = {}
        self.start = self.last = self.clock.timer()
        self.drawn_at, self.drawn_width = None, 0

    def _columns(self) -> int:
        return self.columns if self.columns is not None else terminal_columns(self.stream)

    def eta(self, validated: bool = False) -> float:
        """Seconds left in the run (see the module docstring); NaN before the first timed batch."""
        per_batch, per_val = self.clock.seconds_per_batch, self.clock.seconds_per_validation
        batches = (self.total - self.n) + self.total * self.epochs_after
        vals = self.epochs_after + (1 if self.validates and not validated else 0)
        return (batches * per_batch if batches else 0.0) + vals * per_val

    def line(self, columns: int) -> str | None:
        """The line as drawn now at ``columns`` (None: too narrow for any form)."""
        elapsed = self.last - self.start
        per_batch = self.seconds / self.timed if self.timed else float("nan")
        short = self.desc.replace("epoch ", "ep", 1)
        fields = {"desc": self.desc, "short_desc": short, "n": f"{self.n:>{len(str(self.total))}}", "total": self.total,
                  "fraction": self.n / self.total if self.total else 1.0,
                  "pct": int(100 * self.n / self.total) if self.total else 100,
                  "elapsed": format_seconds(elapsed), "left": format_seconds((self.total - self.n) * per_batch),
                  "rate": f"{self.images / self.seconds:.0f}" if self.seconds > 0 else "?",
                  "eta": format_seconds(self.eta())}
        return fit_line(columns, fields, self.metrics, blocks=self.blocks)

    def update(self, images: int | None = None, **metrics) -> None:
        now = self.clock.timer()
        if images is not None:
            self.clock.train_seconds += now - self.last
            self.clock.batches += 1
            self.seconds += now - self.last
            self.timed += 1
            self.images += images
        self.last = now
        self.n += 1
        self.metrics = metrics
        if self.live and (self.drawn_at is None or now - self.drawn_at >= REFRESH_SECONDS or self.n == self.total):
            self._draw(self.line(self._columns()))
            self.drawn_at = now

    def _draw(self, text: str | None) -> None:
        if text is None:
            return
        first = text.split("\n", 1)[0]
        pad = " " * max(0, self.drawn_width - len(first))
        self.stream.write("\r" + first + pad + text[len(first):])
        self.stream.flush()
        self.drawn_width = len(first)

    def close(self, summary: str) -> None:
        """End the epoch (after its validation): on a terminal the line becomes ``"<desc>: <summary>"`` and the
        run ETA, wrapped to the width; otherwise print ``"<desc>: <summary>"``."""
        if self.validates:
            self.clock.val_seconds.append(self.clock.timer() - self.last)
        if not self.live:
            print(f"{self.desc}: {summary}", file=self.stream, flush=True)
            return
        items = f"{self.desc}: {summary}".split(", ")
        if self.epochs_after:
            items.append(f"run ETA {format_seconds(self.eta(validated=True))}")
        self._draw(wrap(items, self._columns()) + "\n")
        self.live = False

    def abort(self) -> None:
        """End the line (if one was drawn) without a summary: the epoch did not finish."""
        if self.live and self.drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()
        self.live = False
