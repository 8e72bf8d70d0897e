"""Runs are never lost and the test set stays out of training: numbered sibling folders, --overwrite, --resume
with explicit options (applied with a notice, or refused), stale temporary files, validation-driven plateau,
early stopping and best checkpoint, and a SIGKILL loop during checkpoint writes."""
import csv
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.data.datasets
from cnnkit import cli
from cnnkit.data import ArrayDataset

REPO = Path(__file__).resolve().parents[1]
_DIGITS = {}


def digits(train=True, **kwargs):
    """96 training / 48 test images of the built-in digits."""
    if train not in _DIGITS:
        d = cnnkit.data.datasets.digits(train=train)
        n = 96 if train else 48
        _DIGITS[train] = (d.arrays[0][:n].copy(), d.arrays[1][:n].copy())
    return ArrayDataset(*(a.copy() for a in _DIGITS[train]))


def train(args, datasets=None):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["train", "--quiet", *args], stdout=out, stderr=err, datasets=datasets or {"digits": digits})
    return code, out.getvalue(), err.getvalue()


def rows(folder):
    with (Path(folder) / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def test_an_earlier_run_is_never_replaced(tmp_path):
    out = tmp_path / "run"
    assert train(["--epochs", "2", "--out", str(out)])[0] == 0
    first = (out / "checkpoint.safetensors").read_bytes()
    code, _, err = train(["--epochs", "1", "--out", str(out)])
    assert code == 0
    assert (f"{out} holds an earlier run, which is kept: writing to {tmp_path / 'run-2'} (--overwrite replaces it, "
            f"--resume continues it)") in err
    assert (out / "checkpoint.safetensors").read_bytes() == first and len(rows(out)) == 2
    assert ck.load(tmp_path / "run-2/checkpoint.safetensors")["epoch"] == 1
    assert train(["--epochs", "1", "--out", str(out)])[0] == 0
    assert (tmp_path / "run-3/checkpoint.safetensors").is_file()
    code, _, err = train(["--epochs", "1", "--out", str(out), "--overwrite"])
    assert code == 0 and f"--overwrite: the earlier run in {out} is replaced" in err
    assert ck.load(out / "checkpoint.safetensors")["epoch"] == 1 and len(rows(out)) == 1
    (tmp_path / "file").write_text("x")
    code, _, err = train(["--out", str(tmp_path / "file")])
    assert code == 1 and err == f"cnnkit train: error: --out {tmp_path / 'file'}: is a file, not a folder\n"


def test_out_that_cannot_be_created_names_out(tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, err = train(["--epochs", "1", "--out", str(tmp_path / "file" / "run")])
    last = err.splitlines()[-1]
    assert code == 1 and last.startswith(f"cnnkit train: error: --out {tmp_path / 'file' / 'run'}: cannot create "
                                         f"the folder (") and "Traceback" not in err


def test_resume_applies_explicit_options_with_a_notice(tmp_path):
    assert train(["--epochs", "2", "--out", str(tmp_path)])[0] == 0
    code, _, err = train(["--epochs", "3", "--lr", "0.04", "--momentum", "0.5", "--weight-decay", "0",
                          "--batch-size", "16", "--out", str(tmp_path), "--resume"])
    assert code == 0, err
    assert "resume: --lr 0.04 replaces the checkpoint's --lr 0.02" in err
    assert "resume: --momentum 0.5 replaces the checkpoint's --momentum 0.9" in err
    assert "resume: --weight-decay 0 replaces the checkpoint's --weight-decay 0.005" in err
    assert "resume: --batch-size 16 replaces the checkpoint's --batch-size 32" in err
    state = ck.load(tmp_path / "checkpoint.safetensors")
    group = state["optimizer"]["param_groups"][0]
    assert group["momentum"] == 0.5 and group["weight_decay"] == 0 and group["initial_lr"] == 0.04
    assert state["meta"]["options"]["lr"] == 0.04 and state["meta"]["options"]["batch_size"] == 16


class _Interrupting(ArrayDataset):
    """A training set whose read number ``stop`` raises KeyboardInterrupt (Ctrl-C)."""

    def __init__(self, *arrays, stop):
        super().__init__(*arrays)
        self.reads, self.stop = 0, stop

    def __getitem__(self, index):
        self.reads += 1
        if self.reads == self.stop:
            raise KeyboardInterrupt
        return super().__getitem__(index)


def test_resume_rescales_the_schedule_from_the_new_rate(tmp_path):
    common = ["--schedule", "step", "--epochs", "6"]
    assert train(common + ["--out", str(tmp_path / "a")])[0] == 0

    def interrupted_in_epoch_4(train, **kwargs):  # 3 training batches and 1 validation batch an epoch
        d = digits(train)
        return _Interrupting(*d.arrays, stop=13) if train else d

    code, _, err = train(common + ["--out", str(tmp_path / "b")], {"digits": interrupted_in_epoch_4})
    assert code == 130 and ck.load(tmp_path / "b/checkpoint.safetensors")["epoch"] == 3
    code, _, err = train(common + ["--out", str(tmp_path / "b"), "--resume", "--lr", "0.2"])
    assert code == 0 and "resume: --lr 0.2 replaces the checkpoint's --lr 0.02" in err
    full, resumed = [float(r["lr"]) for r in rows(tmp_path / "a")], [float(r["lr"]) for r in rows(tmp_path / "b")]
    assert resumed[:3] == full[:3] == pytest.approx([0.02, 0.02, 0.002])  # step: ×0.1 every 2 epochs (6 // 3)
    assert resumed[3:] == pytest.approx([10 * v for v in full[3:]])  # the same schedule from a 10× base rate


def test_stale_temporary_files_are_removed_at_the_next_start(tmp_path):
    out = tmp_path / "run"
    assert train(["--epochs", "1", "--out", str(out)])[0] == 0
    stale = [out / ".checkpoint.safetensors.k1ll3d.tmp", out / ".metrics.csv.x.tmp", out / ".best.safetensors.y.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    keep = out / ".notes.tmp"
    keep.write_text("not ours")
    code, _, err = train(["--epochs", "2", "--out", str(out), "--resume"])
    assert code == 0 and f"removed 3 temporary file(s) that an interrupted write left in {out}" in err
    assert not any(p.exists() for p in stale) and keep.exists()


class _Recorder(ArrayDataset):
    """Records each read (its split) in a shared list."""

    def __init__(self, *arrays, split, events):
        super().__init__(*arrays)
        self.split, self.events = split, events

    def __getitem__(self, index):
        self.events.append(self.split)
        return super().__getitem__(index)


def test_the_test_set_is_read_only_after_training(tmp_path):
    events = []

    def load(train, **kwargs):
        d = digits(train)
        return _Recorder(*d.arrays, split="train" if train else "test", events=events)

    code, out, err = train(["--epochs", "3", "--schedule", "plateau", "--early-stop", "5", "--out", str(tmp_path)],
                           {"digits": load})
    assert code == 0, err
    first_test = events.index("test")
    assert "train" in events and "train" not in events[first_test:]  # the validation split is part of "train"
    assert len([r for r in rows(tmp_path) if r["val_loss"]]) == 3


def test_plateau_steps_on_the_validation_loss(tmp_path):
    code, _, err = train(["--epochs", "5", "--schedule", "plateau", "--lr", "1e-6", "--out", str(tmp_path)])
    assert code == 0, err
    log = rows(tmp_path)
    val = [float(r["val_loss"]) for r in log]
    lrs = [float(r["lr"]) for r in log]
    assert max(val) - min(val) < 1e-4 * min(val)  # a rate of 1e-6 changes next to nothing: the loss stalls
    assert lrs == pytest.approx([1e-6, 1e-6, 1e-6, 1e-6, 1e-7])  # patience 2: reduced after the 4th epoch


def test_early_stop_and_best_checkpoint(tmp_path):
    code, out, err = train(["--epochs", "10", "--lr", "1e-9", "--schedule", "none", "--early-stop", "2",
                            "--out", str(tmp_path)])
    assert code == 0, err
    assert "early stop: val_acc has not improved for 2 epochs (best: epoch 1)" in err
    assert ck.load(tmp_path / "checkpoint.safetensors")["epoch"] == 3 and len(rows(tmp_path)) == 3
    assert ck.load(tmp_path / "best.safetensors")["epoch"] == 1
    # a real run: best.safetensors holds the epoch with the highest validation accuracy (the first of equals)
    code, out, err = train(["--epochs", "4", "--out", str(tmp_path / "real")])
    log = rows(tmp_path / "real")
    acc = [float(r["val_acc"]) for r in log]
    best = ck.load(tmp_path / "real/best.safetensors")
    assert best["epoch"] == 1 + int(np.argmax(acc)) and float(best["history"][-1]["val_acc"]) == max(acc)
    if best["epoch"] != 4:
        assert f"best checkpoint (epoch {best['epoch']}, by val_acc): test accuracy" in out
    code, _, err = train(["--epochs", "3", "--best-metric", "val_loss", "--out", str(tmp_path / "by_loss")])
    loss = [float(r["val_loss"]) for r in rows(tmp_path / "by_loss")]
    assert ck.load(tmp_path / "by_loss/best.safetensors")["epoch"] == 1 + int(np.argmin(loss))


def test_validation_is_needed_for_early_stop_and_plateau(tmp_path):
    for option in (["--early-stop", "2"], ["--schedule", "plateau"]):
        code, _, err = train(["--val-split", "0", *option, "--out", str(tmp_path)])
        assert code == 1 and "watch the validation data: give --val-split a fraction above 0" in err
    code, _, err = train(["--val-split", "0", "--epochs", "1", "--out", str(tmp_path / "none")])
    assert code == 0 and "96 training, 0 validation, 48 test images" in err
    assert not (tmp_path / "none/best.safetensors").exists()


@pytest.mark.parametrize("args, message", [
    (["--momentum", "1"], "argument --momentum: expected a number in [0, 1), got 1"),
    (["--momentum", "1.5"], "argument --momentum: expected a number in [0, 1), got 1.5"),
    (["--val-split", "1"], "argument --val-split: expected a number in [0, 1), got 1"),
    (["--weight-decay", "-1"], "argument --weight-decay: expected a finite non-negative number, got -1"),
    (["--early-stop", "0"], "argument --early-stop: expected a positive integer, got 0"),
    (["--best-metric", "f1"], "argument --best-metric: invalid choice: 'f1'"),
    (["--data", "folder:"], "argument --data/--dataset: expected folder:PATH, got 'folder:' without a path"),
])
def test_ranges_checked_up_front(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


# ----- SIGKILL during checkpoint writes ---------------------------------------------------------------------------
def _temps(folder: Path) -> list:
    return sorted(p.name for p in folder.glob(".*.tmp"))


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_never_loses_the_run(tmp_path):
    """A ResNet-18 run (90 MB checkpoints, one small batch an epoch) killed with SIGKILL a few milliseconds after
    a checkpoint write starts, six times: a loadable checkpoint of the previous epochs always remains, the
    metrics log never lists an epoch the checkpoint does not hold, and the next start removes the temporary
    files."""
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "cnnkit", "train", "resnet18", "--quiet", "--limit", "12", "--batch-size",
               "12", "--image-size", "8", "--schedule", "none", "--epochs", "1000", "--out", str(out)]
    rng = random.Random(0)
    last_epoch, hits = 0, 0
    for kill in range(6):
        proc = subprocess.Popen(command + (["--resume"] if (out / "checkpoint.safetensors").exists() else []),
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not any(p.name.startswith(".checkpoint.safetensors.") for p in out.glob(".*.tmp")) or \
                    (kill == 0 and not (out / "checkpoint.safetensors").exists()):
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
        hits += bool(_temps(out))
        state = ck.load(out / "checkpoint.safetensors")  # the previous checkpoint is whole
        assert state["epoch"] >= max(last_epoch, 1)
        last_epoch = state["epoch"]
        assert max(int(r["epoch"]) for r in rows(out)) <= state["epoch"]  # the log never runs ahead
        if (out / "best.safetensors").exists():
            assert ck.load(out / "best.safetensors")["epoch"] <= state["epoch"]
    assert hits >= 1  # the kills left temporary files of interrupted writes behind
    left = _temps(out)
    proc = subprocess.run(command[:-4] + ["--epochs", str(last_epoch + 1), "--out", str(out), "--resume"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    if left:
        assert f"removed {len(left)} temporary file(s) that an interrupted write left in {out}" in proc.stderr
    assert _temps(out) == [] and ck.load(out / "checkpoint.safetensors")["epoch"] == last_epoch + 1


# ----- SIGTERM / request_stop: stop at a batch boundary, checkpoint, resume exactly ------------------------------
def test_request_stop_mid_epoch_resumes_to_the_same_weights(tmp_path):
    """The API: request_stop() in the middle of epoch 2 (from a dataset read, as a signal handler would), then a
    new Trainer resumes from the checkpoint: bit-identical weights to 3 uninterrupted epochs, with augmentation
    and dropout-free LeNet-5 drawing from the generator."""
    from cnnkit.data import DataLoader
    from cnnkit.data import transforms as T
    from cnnkit.nn import CrossEntropyLoss
    from cnnkit.optim import SGD
    from cnnkit.train import Trainer

    x, y = digits(True).arrays

    class Stopper(ArrayDataset):
        trainer, reads, at = None, 0, None

        def __getitem__(self, index):
            Stopper.reads += 1
            if Stopper.reads == Stopper.at:
                Stopper.trainer.request_stop()
            return super().__getitem__(index)

    def run(path, stop_at=None, resume=False):
        ck.manual_seed(0)
        model = ck.models.lenet5()
        trainer = Trainer(model, SGD(model.parameters(), lr=0.05, momentum=0.9), CrossEntropyLoss(),
                          checkpoint=path, quiet=True, stream=io.StringIO())
        Stopper.trainer, Stopper.reads, Stopper.at = trainer, 0, stop_at
        data = Stopper(x, y, transform=T.RandomCrop(28, padding=2))
        if resume:
            trainer.load_checkpoint(path)
        trainer.fit(DataLoader(data, batch_size=8, shuffle=True), 3)
        return trainer

    full = run(tmp_path / "full.safetensors")
    stopped = run(tmp_path / "split.safetensors", stop_at=12 + 5)  # 12 batches an epoch: epoch 2, after batch 5
    assert stopped.stopped and stopped.epoch == 1 and stopped.batches_done == 5
    assert ck.load(tmp_path / "split.safetensors")["partial"]["batches"] == 5
    resumed = run(tmp_path / "split.safetensors", resume=True)
    assert not resumed.stopped and resumed.epoch == 3
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(np.array_equal(a[k]._data, b[k]._data) for k in a)
    assert [h["train_loss"] for h in full.history] == [h["train_loss"] for h in resumed.history]


@pytest.mark.slow
def test_sigterm_stops_at_a_batch_boundary_and_resumes_bit_identically(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "cnnkit", "train", "--quiet", "--augment", "--batch-size", "4", "--epochs",
               "3"]
    full = subprocess.run(command + ["--out", str(tmp_path / "full")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert full.returncode == 0, full.stderr
    out = tmp_path / "split"
    proc = subprocess.Popen(command + ["--out", str(out)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "metrics.csv").exists():  # epoch 1 done
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(max(0.3, float(rows(out)[0]["seconds"]) / 2))  # about half-way through epoch 2 (324 batches)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "SIGTERM: stopping at the next batch boundary and writing the checkpoint" in stderr
    assert re.search(rf"stopped by SIGTERM in epoch 2 after \d+ batch\(es\); wrote {re.escape(str(out))}/checkpoint"
                     rf"\.safetensors\. Continue with: cnnkit train --out {re.escape(str(out))} --resume", stderr)
    state = ck.load(out / "checkpoint.safetensors")
    assert state["epoch"] == 1 and 0 < state["partial"]["batches"] < 324 and len(rows(out)) == 1
    resumed = subprocess.run(command[:-2] + ["--out", str(out), "--resume"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a, b = ck.load(tmp_path / "full/checkpoint.safetensors"), ck.load(out / "checkpoint.safetensors")
    assert a["epoch"] == b["epoch"] == 3 and "partial" not in b
    assert all(np.array_equal(a["model"][k]._data, b["model"][k]._data) for k in a["model"])
    assert [r["train_loss"] for r in rows(tmp_path / "full")] == [r["train_loss"] for r in rows(out)]


# ----- divergence, --version, a closed pipe -----------------------------------------------------------------------
def test_divergence_bound_through_the_api():
    from cnnkit.data import DataLoader
    from cnnkit.nn import MSELoss
    from cnnkit.optim import SGD
    from cnnkit.train import DivergenceError, Trainer

    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.arange(4, dtype=np.float32)[:, None]).astype(np.float32)
    model = ck.nn.Linear(4, 1)
    before = model.weight._data.copy()
    trainer = Trainer(model, SGD(model.parameters(), lr=1.5), MSELoss(), quiet=True, stream=io.StringIO(),
                      diverge_factor=100)
    with pytest.raises(DivergenceError, match=r"more than 100 times the run's first loss .* training diverged"):
        trainer.fit(DataLoader(ArrayDataset(x, y), batch_size=8), 5)
    assert np.all(np.isfinite(model.weight._data)) and not np.array_equal(model.weight._data, before)
    with pytest.raises(ValueError, match="diverge_factor must be a number above 1 or None, got 1"):
        Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), diverge_factor=1)


def test_version_and_a_closed_pipe(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"cnnkit {ck.__version__}\n"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "cnnkit", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written (as `cnnkit models | head -0`)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    proc.stderr.close()
    assert err == b"" and proc.returncode == 141
