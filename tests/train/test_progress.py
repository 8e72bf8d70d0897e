"""The progress display: the run ETA and images/s from the batch times, the line fitted to 80 and 40 columns
(metrics shortened, never cut), the wrapped summary, and plain lines without a terminal."""
import io
import re

import pytest

from cnnkit.train.progress import FORMS, Progress, RunClock, fit_line, format_seconds, terminal_columns, wrap


class TTY(io.StringIO):
    def isatty(self):
        return True


class Ticks:
    """A timer that advances ``step`` seconds at each call."""

    def __init__(self, step):
        self.t, self.step = 0.0, step

    def __call__(self):
        self.t += self.step
        return self.t


def segments(text):
    """Every state the line was drawn in: the pieces between carriage returns and newlines, trailing blanks off."""
    return [s.rstrip() for s in re.split(r"[\r\n]", text) if s.strip()]


def test_format_seconds():
    assert [format_seconds(s) for s in (0, 59.4, 61, 3599, 3600, 90061, float("nan"))] == \
        ["0:00", "0:59", "1:01", "59:59", "1:00:00", "25:01:01", "?"]


def run_epochs(columns, epochs=3, batches=10, images=32, step=0.5, metrics=None):
    """A run of ``epochs`` epochs with validation, every timer call ``step`` s later: the stream and the ETAs
    the epochs' Progress objects reported after each batch."""
    stream, clock = TTY(), RunClock(Ticks(step))
    etas = []
    for e in range(epochs):
        p = Progress(batches, f"epoch {e + 1}/{epochs}", stream=stream, epochs_after=epochs - e - 1,
                     validates=True, clock=clock, columns=columns)
        for _ in range(batches):
            p.update(images, **(metrics or {"loss": 0.23456, "acc": 0.91234}))
            etas.append(p.eta())
        p.close(f"loss 0.2346, acc 0.9123, val loss 1.2346, val acc 0.8877, lr 0.1, {batches * step:.1f} s "
                f"({images / step:.0f} images/s)")
    return stream.getvalue(), etas


def test_run_eta_counts_every_epoch_and_the_validations():
    # each batch takes 0.5 s (one timer call per update), each validation 0.5 s (the call in close)
    _, etas = run_epochs(120)
    batches_left = [10 * 3 - i for i in range(1, 31)]
    # epoch 1: no validation measured yet; epochs 2 and 3: this one's validation and each later one's add 0.5 s
    expected = [0.5 * b for b in batches_left[:10]]
    expected += [0.5 * b + 0.5 * (3 - e) for e, b in zip([1] * 10 + [2] * 10, batches_left[10:])]
    assert etas == pytest.approx(expected)
    assert etas[-1] == pytest.approx(0.5)  # the last validation


def test_the_line_at_120_80_and_40_columns():
    for columns in (120, 80, 40):
        text, _ = run_epochs(columns)
        for s in segments(text):
            assert len(s) <= columns - 1, (columns, s)
        drawn = [s for s in segments(text) if "=" in s]  # not the summary lines
        assert len(drawn) == 30  # every batch (each is 0.5 s after the last draw)
        # the metrics are there, whole, in the long or the short form; the run ETA always
        for s in drawn:
            assert re.search(r"(loss=0\.2346, acc=0\.9123|l=0\.23 a=0\.91|loss=0\.235 acc=0\.912)$", s), s
            assert re.search(r"ETA \d+:\d\d", s), s
        assert all("64 img/s" in s or "64/s" in s for s in drawn)
    text, _ = run_epochs(120)
    assert "\repoch 1/3:  10%|███                           |  1/10 [0:00<0:04, 64 img/s, run ETA 0:14] " \
           "loss=0.2346, acc=0.9123" in text
    text, _ = run_epochs(80)
    assert re.search(r"\repoch 2/3  50%\|█{7}▌ {7}\|  5/10 64 img/s ETA 0:08 loss=0\.2346, acc=0\.9123", text)
    text, _ = run_epochs(40)
    assert re.search(r"\rep3/3  5/10 64/s ETA 0:03 l=0\.23 a=0\.91 *\r", text)
    # a longer run at a higher rate: the batch counter goes first, then images/s; the ETA and the metrics stay
    text, _ = run_epochs(40, epochs=12, batches=150, images=640)
    assert "\rep12/12 1280/s ETA 0:28 l=0.23 a=0.91" in text
    assert all(len(s) <= 39 for s in segments(text))


def test_the_summary_replaces_the_line_and_wraps_at_commas():
    text, _ = run_epochs(40)
    end = text[text.index("\repoch 1/3: "):]
    summary = end[1:end.index("\n", end.index("run ETA"))]
    lines = [s.rstrip() for s in summary.split("\n")]
    assert lines == ["epoch 1/3: loss 0.2346, acc 0.9123,", "  val loss 1.2346, val acc 0.8877,",
                     "  lr 0.1, 5.0 s (64 images/s),", "  run ETA 0:11"]
    assert re.sub(" +\n", "\n", text).endswith("epoch 3/3: loss 0.2346, acc 0.9123,\n  val loss 1.2346, val acc "
                                                "0.8877,\n  lr 0.1, 5.0 s (64 images/s)\n")  # the last: no ETA
    text, _ = run_epochs(120)
    assert ("\repoch 1/3: loss 0.2346, acc 0.9123, val loss 1.2346, val acc 0.8877, lr 0.1, 5.0 s (64 images/s), "
            "run ETA 0:11") in text


def test_a_large_metric_is_never_cut():
    text, _ = run_epochs(40, metrics={"loss": 123456.789, "acc": 0.5})
    for s in segments(text):
        if not s.startswith(("epoch", "  ")):
            assert re.search(r"l=123456\.79 a=0\.50$", s), s


def test_too_narrow_for_any_form_draws_no_line_per_batch():
    text, _ = run_epochs(15, epochs=1)
    assert "%" not in text and "ETA" not in text and text.startswith("\repoch 1/1: loss")
    assert fit_line(18, {"n": "1", "total": 10}, {"loss": 0.5, "acc": 0.5}, forms=FORMS[-1:]) is None
    assert fit_line(19, {"n": "1", "total": 10}, {"loss": 0.5, "acc": 0.5}, forms=FORMS[-1:]) == "1/10 l=0.50 a=0.50"


def test_wrap_keeps_a_long_item_whole():
    assert wrap(["a", "b" * 30, "c"], 10) == "a,\n  " + "b" * 30 + ",\n  c"


def test_plain_lines_without_a_terminal():
    stream = io.StringIO()
    p = Progress(3, "epoch 1/2", stream=stream, epochs_after=1, clock=RunClock(Ticks(1.0)), columns=40)
    for _ in range(3):
        p.update(8, loss=0.5, acc=0.25)
    p.close("loss 0.5000, acc 0.2500, lr 0.1, 3.0 s (8 images/s)")
    assert stream.getvalue() == "epoch 1/2: loss 0.5000, acc 0.2500, lr 0.1, 3.0 s (8 images/s)\n"


def test_quiet_on_a_terminal_is_plain():
    stream = TTY()
    p = Progress(2, "epoch 1/1", quiet=True, stream=stream)
    p.update(4, loss=1.0, acc=0.0)
    p.update(4, loss=1.0, acc=0.0)
    p.close("done")
    assert stream.getvalue() == "epoch 1/1: done\n"


def test_replayed_batches_are_counted_not_timed():
    clock = RunClock(Ticks(1.0))
    p = Progress(4, "epoch 1/1", stream=TTY(), clock=clock, columns=120)
    p.update(None, loss=1.0, acc=0.0)  # a batch a resumed epoch had already done
    p.update(None, loss=1.0, acc=0.0)
    p.update(10, loss=1.0, acc=0.0)
    assert (p.n, p.timed, clock.batches, p.images, clock.train_seconds) == (3, 1, 1, 10, 1.0)
    assert p.eta() == pytest.approx(1.0)  # one batch left at 1 s per timed batch
    assert "  75%|" in p.line(120) and " 3/4 [0:03<0:01, 10 img/s, run ETA 0:01] " in p.line(120)


def test_ascii_bar_where_the_encoding_has_no_blocks():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    stream.isatty = lambda: True
    p = Progress(16, "epoch 1/1", stream=stream, clock=RunClock(Ticks(1.0)), columns=120)
    for _ in range(9):
        p.update(1, loss=1.0, acc=0.5)
    stream.flush()
    text = stream.buffer.getvalue().decode("ascii")
    assert "\repoch 1/1:  56%|" + "#" * 16 + "7" + " " * 13 + "|  9/16 [" in text  # 9/16 of 30 cells: 16 7/8


def test_terminal_columns_reads_the_COLUMNS_variable(monkeypatch):
    monkeypatch.setenv("COLUMNS", "57")
    assert terminal_columns(io.StringIO()) == 57
    monkeypatch.delenv("COLUMNS")
    assert terminal_columns(io.StringIO()) > 0  # no terminal: stdout's size, or 80
