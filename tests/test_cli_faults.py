"""Faults of a training run from the command line: a diverging loss stops with a suggestion, a write that fails
under --out names it and loses no earlier file, a folder's val/ split against an explicit --val-split, and a best
checkpoint that a kill left an epoch behind."""
import io
import re

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import models
from tests.test_cli_messages import digits, no_internals, train


# ----- a diverging loss ----------------------------------------------------------------------------------------
def test_a_diverging_loss_stops_the_run_with_a_suggestion(tmp_path):
    """Adam at a learning rate of 1 blows LeNet-5's loss up from about 2.3 to over 1e4 times that within a few
    batches: the divergence bound stops the run (exit 1) before any non-finite value."""
    out = tmp_path / "run"
    code, stdout, err = train(["--optimizer", "adam", "--lr", "1", "--epochs", "2", "--out", str(out)])
    no_internals(err)
    last = err.splitlines()[-1]
    assert code == 1 and stdout == "", err
    assert re.fullmatch(r"cnnkit train: error: the loss \S+ at epoch 1, batch \d+ is more than 10000 times the "
                        r"run's first loss \S+: training diverged and stopped; the model was left as before that "
                        r"batch; try a lower learning rate, e.g. --lr 0.1 \(this run: 1\)", last), last
    assert not (out / "checkpoint.safetensors").exists()


def test_divergence_after_an_epoch_keeps_that_epochs_checkpoint(tmp_path):
    """SGD at a learning rate of 5 in batches of 8 survives the first epochs with a loss in the hundreds and
    then diverges (in epoch 3 here): the message names the last epoch's checkpoint, which still loads."""
    out = tmp_path / "run"
    code, _, err = train(["--optimizer", "sgd", "--lr", "5", "--batch-size", "8", "--epochs", "6", "--schedule",
                          "none", "--out", str(out)])
    last = err.splitlines()[-1]
    assert code == 1 and "training diverged and stopped" in last, err
    epoch = ck.load(out / "checkpoint.safetensors")["epoch"]
    assert epoch >= 1 and last.endswith(f"try a lower learning rate, e.g. --lr 0.5 (this run: 5); the checkpoint "
                                        f"of epoch {epoch} is kept ({out / 'checkpoint.safetensors'})"), last
    assert len(rows_of(out)) == epoch


def rows_of(folder):
    import csv
    with (folder / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


# ----- writes that fail under --out -----------------------------------------------------------------------------
def test_trainer_write_error_names_the_file(tmp_path):
    from cnnkit.nn import CrossEntropyLoss
    from cnnkit.optim import SGD
    from cnnkit.train import Trainer, WriteError

    (tmp_path / "file").write_text("x")
    model = models.get("lenet5")
    path = tmp_path / "file" / "checkpoint.safetensors"                 # its folder is a file
    trainer = Trainer(model, SGD(model.parameters(), lr=0.01), CrossEntropyLoss(), checkpoint=path, quiet=True,
                      stream=io.StringIO(), plot=tmp_path / "file" / "curve.png")    # fails too, after
    with pytest.raises(WriteError) as e:
        trainer.fit(digits(), 1)
    assert isinstance(e.value, OSError) and e.value.path == path      # the first failure is the one told
    assert str(e.value).startswith(f"Trainer: cannot write {path} (")


def test_a_failing_write_mid_run_names_out_and_keeps_the_earlier_checkpoint(tmp_path):
    """Epoch 1 is written; the resumed run's epoch-2 checkpoint is a little larger (its history has one more row)
    and the process may not write a file larger than epoch 1's (RLIMIT_FSIZE; tests run as root, so permissions
    cannot stop a write): the error names --out, epoch 1's checkpoint and log are intact, no temporary file is
    left."""
    import os
    import resource
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    base = [sys.executable, "-m", "cnnkit", "train", "--quiet", "--limit", "100", "--out", str(out)]
    first = subprocess.run(base + ["--epochs", "1"], capture_output=True, text=True, env=env, timeout=300,
                           cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = {name: (out / name).read_bytes() for name in ("checkpoint.safetensors", "best.safetensors",
                                                           "metrics.csv")}
    largest = max(len(b) for b in before.values())

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 8, largest + 8))

    proc = subprocess.run(base + ["--epochs", "2", "--resume"], capture_output=True, text=True, env=env,
                          timeout=300, preexec_fn=limit, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1] == (f"cnnkit train: error: --out {out}: cannot write checkpoint.safetensors "
                                            f"(File too large); the files written before are unchanged")
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    assert ck.load(out / "checkpoint.safetensors")["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# ----- a folder's val/ split and --val-split ------------------------------------------------------------------
def test_a_folders_val_split_is_said_and_an_explicit_val_split_refused(tmp_path):
    from tests.image_folder import make_image_folder
    root = make_image_folder(tmp_path / "shapes", classes=("ant", "bee"), mode="L", size=10,
                             splits={"train": 4, "val": 2, "test": 2})
    code, out, err = train(["--data", f"folder:{root}", "--epochs", "1", "--out", str(tmp_path / "run")])
    assert code == 0, err
    assert ("note: validation: the folder's val/ split (4 images), not a --val-split fraction of the training "
            "images") in err.splitlines()
    assert "8 training, 4 validation, 4 test images" in err
    assert ck.load(tmp_path / "run" / "checkpoint.safetensors")["meta"]["split"]["source"] == "folder"
    for value in ("0.2", "0.1", "0"):
        code, out, err = train(["--data", f"folder:{root}", "--val-split", value, "--out", str(tmp_path / "r2")])
        assert code == 1 and err == (f"cnnkit train: error: --val-split {float(value):g} conflicts with {root / 'val'}: "
                                     f"the folder's own validation split is used; leave out --val-split, or move "
                                     f"that folder away to hold out a fraction of {root / 'train'}\n"), err
        assert not (tmp_path / "r2").exists()
    flat = make_image_folder(tmp_path / "flat", classes=("ant", "bee"), mode="L", size=10, per_class=5)
    code, out, err = train(["--data", f"folder:{flat}", "--val-split", "0.2", "--epochs", "1",
                            "--out", str(tmp_path / "r3")])
    assert code == 0 and "8 training, 2 validation" in err and "note: validation" not in err, err


# ----- a best checkpoint left an epoch behind by a kill ---------------------------------------------------------
def _regression_trainer(tmp_path, stream=None):
    from cnnkit.nn import MSELoss
    from cnnkit.optim import SGD
    from cnnkit.train import Trainer

    ck.manual_seed(0)
    model = ck.nn.Linear(4, 1)
    return Trainer(model, SGD(model.parameters(), lr=0.01), MSELoss(), checkpoint=tmp_path / "last.safetensors",
                   best=tmp_path / "best.safetensors", best_metric="train_loss", quiet=True,
                   stream=stream or io.StringIO())


def _regression_data():
    from cnnkit.data import ArrayDataset, DataLoader
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.arange(4, dtype=np.float32)[:, None]).astype(np.float32)
    return DataLoader(ArrayDataset(x, y), batch_size=16)


def test_load_checkpoint_repairs_a_best_checkpoint_an_epoch_behind(tmp_path):
    """The kill between the two writes of epoch 2 is reproduced by putting epoch 1's best checkpoint back."""
    from cnnkit.io.checkpoint import load_value
    trainer = _regression_trainer(tmp_path)
    trainer.fit(_regression_data(), 1)
    epoch1 = (tmp_path / "best.safetensors").read_bytes()
    trainer.fit(_regression_data(), 2)
    assert [row["epoch"] for row in trainer.history] == [1, 2]
    assert trainer.history[1]["train_loss"] < trainer.history[0]["train_loss"]    # epoch 2 is the best
    (tmp_path / "best.safetensors").write_bytes(epoch1)
    assert load_value(tmp_path / "best.safetensors", "epoch") == 1
    resumed = _regression_trainer(tmp_path)
    resumed.load_checkpoint(tmp_path / "last.safetensors")
    best, last = ck.load(tmp_path / "best.safetensors"), ck.load(tmp_path / "last.safetensors")
    assert best["epoch"] == 2
    for key in ("weight", "bias"):
        np.testing.assert_array_equal(best["model"][key].numpy(), last["model"][key].numpy())
    consistent = (tmp_path / "best.safetensors").stat().st_mtime_ns
    _regression_trainer(tmp_path).load_checkpoint(tmp_path / "last.safetensors")     # nothing to repair
    assert (tmp_path / "best.safetensors").stat().st_mtime_ns == consistent


def test_a_best_checkpoint_of_an_earlier_best_epoch_is_left_alone(tmp_path):
    """When the last epoch is not the best, the best checkpoint holds an earlier epoch, as it should."""
    from cnnkit.io.checkpoint import load_value
    trainer = _regression_trainer(tmp_path)
    trainer.best_metric = "train_acc"            # NaN for a regression: no epoch is best, nothing is written
    trainer.fit(_regression_data(), 2)
    assert not (tmp_path / "best.safetensors").exists()
    resumed = _regression_trainer(tmp_path)
    resumed.best_metric = "train_acc"
    resumed.load_checkpoint(tmp_path / "last.safetensors")
    assert not (tmp_path / "best.safetensors").exists()
    with pytest.raises(ck.io.checkpoint.CheckpointError, match="no checkpoint at"):
        load_value(tmp_path / "best.safetensors", "epoch")


def test_cli_resume_repairs_the_best_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert train(["--epochs", "1", "--schedule", "none", "--best-metric", "val_loss", "--out", str(out)])[0] == 0
    epoch1 = (out / "best.safetensors").read_bytes()
    code, _, err = train(["--epochs", "2", "--resume", "--out", str(out)])
    assert code == 0, err
    history = ck.load(out / "checkpoint.safetensors")["history"]
    if history[1]["val_loss"] >= history[0]["val_loss"]:
        pytest.skip("epoch 2 did not improve the validation loss")    # not the case on the digits' slice
    (out / "best.safetensors").write_bytes(epoch1)
    code, _, err = train(["--epochs", "2", "--resume", "--out", str(out)])
    assert code == 0 and "nothing to train" in err, err
    assert ck.load(out / "best.safetensors")["epoch"] == 2


def test_the_plot_leaves_out_an_epoch_whose_checkpoint_write_failed(tmp_path):
    """Epoch 2's checkpoint write fails: the run stops with WriteError, and the curve drawn on the way out shows
    the one epoch the checkpoint holds (byte-equal to a plot of that epoch alone), not the lost one."""
    from cnnkit.nn import CrossEntropyLoss
    from cnnkit.optim import SGD
    from cnnkit.train import Trainer, WriteError
    from cnnkit.train.report import plot_history

    class FailsOnTheSecondWrite(Trainer):
        writes = 0

        def save_checkpoint(self, path):
            self.writes += 1
            if self.writes == 2:
                raise OSError(28, "No space left on device")
            super().save_checkpoint(path)

    model = models.get("lenet5")
    trainer = FailsOnTheSecondWrite(model, SGD(model.parameters(), lr=0.01), CrossEntropyLoss(), quiet=True,
                                    stream=io.StringIO(), checkpoint=tmp_path / "c.safetensors",
                                    plot=tmp_path / "curve.png")
    with pytest.raises(WriteError):
        trainer.fit(digits(), 3)
    assert len(trainer.history) == 2 and ck.load(tmp_path / "c.safetensors")["epoch"] == 1
    plot_history(trainer.history[:1], tmp_path / "one.png")
    assert (tmp_path / "curve.png").read_bytes() == (tmp_path / "one.png").read_bytes()
