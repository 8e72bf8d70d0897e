"""The ``cnnkit`` command: a real one-epoch run on the built-in digits (as a subprocess), resume through the CLI
(on a small slice of the digits), and the error paths (argparse errors exit 2, run-time errors exit 1 with one
line)."""
import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.data.datasets
from cnnkit import cli, models
from cnnkit.cli.commands import COMMANDS, Command
from cnnkit.data import ArrayDataset, DataLoader
from cnnkit.data import transforms as T
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD
from cnnkit.train import Trainer

REPO = Path(__file__).resolve().parents[1]
ACCURACY = re.compile(r"^test accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\), test loss (\d+\.\d+)$", re.M)


def test_one_epoch_on_the_built_in_digits(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--epochs", "1", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    m = ACCURACY.search(proc.stdout)
    assert m, proc.stdout
    percent, correct, total = float(m.group(1)), int(m.group(2)), int(m.group(3))
    assert total == 360 and percent == pytest.approx(100 * correct / total, abs=0.006)
    assert ("training lenet5 (61,706 parameters) on digits: 1,293 training, 144 validation, 360 test images"
            in proc.stderr)
    assert f"backend: convolutions on {ck.backends.onednn.backend_name()}\n" in proc.stderr
    assert re.search(r"^epoch 1/1: loss \d\.\d{4}, acc ", proc.stderr, re.M)
    assert "Traceback" not in proc.stderr
    for name in ("metrics.csv", "curve.png", "checkpoint.safetensors", "best.safetensors"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["epoch"] == "1" and float(rows[0]["images_per_s"]) > 0
    val_correct = float(rows[0]["val_acc"]) * 144  # the validation split, not the test set
    assert val_correct == pytest.approx(round(val_correct), abs=1e-6)
    # the checkpoint says how to rebuild the model and prepare the images: re-evaluating gives the same accuracy
    state = ck.load(out / "checkpoint.safetensors")
    meta = state["meta"]
    assert meta["split"] == {"source": "val-split", "fraction": 0.1, "seed": 0, "n": 144}
    assert meta["model"] == "lenet5" and meta["data"] == "digits" and state["epoch"] == 1
    model = models.get(meta["model"], **meta["model_kwargs"])
    model.load_state_dict(state["model"])
    test = cnnkit.data.datasets.digits(train=False)
    test.transform = T.Normalize(meta["preprocessing"]["mean"], meta["preprocessing"]["std"])
    result = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss()).evaluate(
        DataLoader(test, batch_size=100))
    assert round(result["accuracy"] * 360) == correct


# ----- in-process runs on a slice of the digits -------------------------------------------------------
_CACHE = {}


def _small_digits(train=True, **kwargs):
    """The first 96 training / 48 test images of the digits: a loader for ``main(..., datasets={"digits": ...})``."""
    if train not in _CACHE:
        d = cnnkit.data.datasets.digits(train=train)
        n = 96 if train else 48
        _CACHE[train] = (d.arrays[0][:n].copy(), d.arrays[1][:n].copy())
    x, y = _CACHE[train]
    return ArrayDataset(x.copy(), y.copy())


@pytest.fixture
def small():
    """The data sets of an in-process run: the built-in digits replaced by a slice of them."""
    return {"digits": _small_digits}


def run(args, capsys, datasets=None):
    code = cli.main(args, datasets=datasets)
    out, err = capsys.readouterr()
    return code, out, err


def weights(path):
    return {k: v._data for k, v in ck.load(path)["model"].items()}


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_resume_two_plus_two_equals_four(tmp_path, small, capsys):
    common = ["train", "lenet5", "--quiet", "--augment", "--schedule", "none", "--batch-size", "32"]
    code, out, _ = run(common + ["--epochs", "4", "--out", str(tmp_path / "full")], capsys, small)
    assert code == 0 and ACCURACY.search(out)
    code, _, _ = run(common + ["--epochs", "2", "--out", str(tmp_path / "split")], capsys, small)
    assert code == 0
    assert not same_weights(tmp_path / "full/checkpoint.safetensors", tmp_path / "split/checkpoint.safetensors")
    code, out, err = run(common + ["--epochs", "4", "--out", str(tmp_path / "split"), "--resume"], capsys, small)
    assert code == 0 and "resumed from" in err and "after epoch 2" in err and "warning" not in err
    assert same_weights(tmp_path / "full/checkpoint.safetensors", tmp_path / "split/checkpoint.safetensors")
    full, split = ck.load(tmp_path / "full/checkpoint.safetensors"), ck.load(tmp_path / "split/checkpoint.safetensors")
    assert split["epoch"] == 4
    for (i, s), (j, r) in zip(full["optimizer"]["state"].items(), split["optimizer"]["state"].items()):
        assert i == j and np.array_equal(s["momentum_buffer"]._data, r["momentum_buffer"]._data)
    assert ACCURACY.search(out).groups() == ACCURACY.search(run(common + [
        "--epochs", "4", "--out", str(tmp_path / "full"), "--resume"], capsys, small)[1]).groups()
    # the metrics log of the resumed run has all four epochs, the same as the uninterrupted one
    rows = {name: list(csv.DictReader((tmp_path / name / "metrics.csv").open())) for name in ("full", "split")}
    assert [r["epoch"] for r in rows["split"]] == ["1", "2", "3", "4"]
    assert [r["train_loss"] for r in rows["split"]] == [r["train_loss"] for r in rows["full"]]


class _Interrupting(ArrayDataset):
    """A training set whose batch number ``stop`` raises KeyboardInterrupt (Ctrl-C), once."""

    def __init__(self, *arrays, stop: int):
        super().__init__(*arrays)
        self.fetched, self.stop = 0, stop

    def __getitem__(self, index):
        self.fetched += 1
        if self.fetched == self.stop:
            raise KeyboardInterrupt
        return super().__getitem__(index)


def test_interrupted_cosine_run_resumes_exactly(tmp_path, small, capsys):
    """Ctrl-C during epoch 3 of a 4-epoch run (default cosine schedule), then --resume: the same weights as 4
    uninterrupted epochs."""
    common = ["train", "--quiet", "--epochs", "4"]
    assert run(common + ["--out", str(tmp_path / "full")], capsys, small)[0] == 0

    def interrupted_in_epoch_3(train, **kwargs):  # 86 training images in batches of 32 and one validation batch:
        d = _small_digits(train)                     # 4 reads an epoch; read 10 is epoch 3's second batch
        return _Interrupting(*d.arrays, stop=10) if train else d

    code, _, err = run(common + ["--out", str(tmp_path / "split")], capsys, {"digits": interrupted_in_epoch_3})
    assert code == 130 and "interrupted" in err
    assert ck.load(tmp_path / "split/checkpoint.safetensors")["epoch"] == 2
    assert run(common + ["--out", str(tmp_path / "split"), "--resume"], capsys, small)[0] == 0
    assert same_weights(tmp_path / "full/checkpoint.safetensors", tmp_path / "split/checkpoint.safetensors")


def test_epochs_below_the_checkpoint_trains_nothing(tmp_path, small, capsys):
    out = tmp_path / "run"
    assert run(["train", "--quiet", "--epochs", "2", "--out", str(out)], capsys, small)[0] == 0
    before = (out / "checkpoint.safetensors").read_bytes()
    code, stdout, err = run(["train", "--quiet", "--epochs", "1", "--out", str(out), "--resume"], capsys, small)
    assert code == 0
    assert "nothing to train: the checkpoint already has 2 epochs (--epochs 1)" in err and "wrote" not in err
    assert ACCURACY.search(stdout)
    assert (out / "checkpoint.safetensors").read_bytes() == before
    # resuming a cosine run with another --epochs warns that the saved schedule goes on
    code, _, err = run(["train", "--quiet", "--epochs", "3", "--out", str(out), "--resume"], capsys, small)
    assert code == 0 and "warning: the checkpoint's cosine learning-rate schedule was planned for 2 epochs" in err


def test_resume_from_an_explicit_path_and_other_options(tmp_path, small, capsys):
    first = tmp_path / "a"
    assert run(["train", "--quiet", "--epochs", "1", "--out", str(first), "--optimizer", "adam",
                "--schedule", "step", "--l1", "1e-5", "--classic"], capsys, small)[0] == 0
    code, _, err = run(["train", "--quiet", "--epochs", "2", "--out", str(tmp_path / "b"), "--optimizer", "adam",
                        "--schedule", "step", "--classic", "--resume", str(first / "checkpoint.safetensors")], capsys,
                       small)
    assert code == 0 and "after epoch 1" in err
    assert ck.load(tmp_path / "b/checkpoint.safetensors")["epoch"] == 2
    # without options, --resume continues with the checkpoint's (adam, step, classic)
    code, _, err = run(["train", "--quiet", "--epochs", "3", "--out", str(tmp_path / "b"), "--resume"], capsys, small)
    assert code == 0 and "after epoch 2" in err and "resume:" not in err
    meta = ck.load(tmp_path / "b/checkpoint.safetensors")["meta"]
    assert meta["options"]["optimizer"] == "adam" and meta["options"]["classic"] and meta["epochs"] == 3
    # a model, data or optimizer other than the checkpoint's: one clear line, exit 1, nothing written
    before = (tmp_path / "b/checkpoint.safetensors").read_bytes()
    for option, message in ((["resnet18"], "was trained with model lenet5; model resnet18 cannot continue it"),
                            (["--data", "mnist"], "was trained with --data digits; --data mnist cannot continue it"),
                            (["--optimizer", "sgd"], "--optimizer adam; --optimizer sgd cannot continue it"),
                            (["--val-split", "0.2"], "--val-split 0.1; --val-split 0.2 cannot continue it")):
        code, _, err = run(["train", *option, "--quiet", "--epochs", "4", "--out", str(tmp_path / "b"),
                            "--resume"], capsys, small)
        assert code == 1 and err.startswith(f"cnnkit train: error: --resume: {tmp_path / 'b/checkpoint.safetensors'}")
        assert message in err and len(err.splitlines()) == 1
    assert (tmp_path / "b/checkpoint.safetensors").read_bytes() == before


def test_tqdm_progress_on_a_terminal(tmp_path, small):
    class TTY:
        def __init__(self):
            self.parts = []

        def write(self, s):
            self.parts.append(s)

        def flush(self):
            pass

        def isatty(self):
            return True

    tty = TTY()
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path)], datasets=small, stderr=tty) == 0
    text = "".join(tty.parts)
    assert "\r" in text and "epoch 1/1" in text and "3/3" in text and "val acc " in text


# ----- errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    ([], "the following arguments are required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "lenet6"], "argument MODEL: unknown model 'lenet6' (did you mean 'lenet5'?); available: alexnet, densenet121,"),
    (["train", "--epochs", "0"], "argument --epochs: expected a positive integer, got 0"),
    (["train", "--epochs", "two"], "argument --epochs: expected a positive integer, got 'two'"),
    (["train", "--lr", "-1"], "argument --lr: expected a finite positive number, got -1"),
    (["train", "--lr", "0"], "argument --lr: expected a finite positive number, got 0"),
    (["train", "--lr", "nan"], "argument --lr: expected a finite positive number, got nan"),
    (["train", "--batch-size", "-3"], "argument --batch-size: expected a positive integer"),
    (["train", "--data", "imagenet"], "argument --data/--dataset: invalid choice: 'imagenet'"),
    (["train", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    (["train", "--schedule", "linear"], "argument --schedule/--scheduler: invalid choice: 'linear'"),
    (["train", "--seed", "-1"], "argument --seed: expected a non-negative integer"),
    (["train", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_arguments_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    # one line, no usage block: "cnnkit train: error: ... (see 'cnnkit train --help')"
    prog = "cnnkit train" if args[:1] == ["train"] else "cnnkit"
    assert err.startswith(f"{prog}: error: ") and err.endswith(f" (see '{prog} --help')\n")
    assert len(err.splitlines()) == 1


def test_help_exits_0(capsys):
    for command in ([], ["train"], ["eval"], ["predict"], ["models"], ["summary"]):
        with pytest.raises(SystemExit) as e:
            cli.main(command + ["--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: {' '.join(['cnnkit'] + command)} ")
        if command == ["train"]:
            assert "--resume" in out
        if not command:
            assert all(name in out for name in ("train", "eval", "predict", "models", "summary"))


@pytest.mark.parametrize("data", ["mnist", "fashion-mnist", "fashion_mnist", "cifar10"])
def test_missing_dataset_without_download(tmp_path, data, capsys):
    missing = tmp_path / "nothing"
    code, _, err = run(["train", "--data", data, "--data-dir", str(missing), "--out", str(tmp_path / "o")], capsys)
    assert code == 1
    name = data.replace("_", "-")
    assert err == (f"cnnkit train: error: no {name} data: the folder {missing} does not exist (pass --download to "
                   f"fetch the files, or --data-dir to point at them)\n")
    assert not (tmp_path / "o").exists()


def test_empty_dataset_folder_without_download(tmp_path, capsys):
    code, _, err = run(["train", "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")],
                       capsys)
    assert code == 1 and err.startswith("cnnkit train: error: ") and "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_resume_errors(tmp_path, small, capsys):
    code, _, err = run(["train", "--out", str(tmp_path), "--resume"], capsys, small)
    assert code == 1 and err == f"cnnkit train: error: --resume: no checkpoint at {tmp_path}/checkpoint.safetensors\n"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    code, _, err = run(["train", "--out", str(tmp_path), "--resume", str(bad)], capsys, small)
    assert code == 1 and err.startswith(f"cnnkit train: error: load: {bad} is truncated or corrupt")
    assert len(err.strip().splitlines()) == 1


def test_classic_is_for_lenet5_only(tmp_path, small, capsys):
    other = next((m for m in models.list() if m != "lenet5"), None)
    assert other is not None
    code, _, err = run(["train", other, "--classic", "--out", str(tmp_path)], capsys, small)
    assert code == 1 and err == f"cnnkit train: error: --classic applies to lenet5 only, not {other}\n"


def test_models_command(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0 and out.split() == models.list() and "lenet5" in out


# ----- the injection points and the command table -----------------------------------------------------------------
def test_limit_and_output_streams(tmp_path, capsys):
    """--limit N trains and evaluates on the first N images; stdout= / stderr= receive what the command writes."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["train", "--quiet", "--epochs", "1", "--limit", "64", "--out", str(tmp_path)], stdout=out,
                    stderr=err)
    assert code == 0 and capsys.readouterr() == ("", "")
    assert "training lenet5 (61,706 parameters) on digits: 58 training, 6 validation, 64 test images" in err.getvalue()
    assert ACCURACY.search(out.getvalue()).group(3) == "64"
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["eval", str(tmp_path / "checkpoint.safetensors"), "--limit", "10"], stdout=out, stderr=err) == 0
    assert "on the digits test set: 10 images" in err.getvalue() and ACCURACY.search(out.getvalue()).group(3) == "10"
    # argparse's errors and help go to the streams too
    err = io.StringIO()
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--limit", "0"], stderr=err)
    assert e.value.code == 2 and capsys.readouterr() == ("", "")
    assert err.getvalue() == ("cnnkit train: error: argument --limit: expected a positive integer, got 0 (see "
                              "'cnnkit train --help')\n")
    out = io.StringIO()
    with pytest.raises(SystemExit) as e:
        cli.main(["models", "--help"], stdout=out)
    assert e.value.code == 0 and out.getvalue().startswith("usage: cnnkit models")


def test_injected_data_set(tmp_path, capsys):
    """datasets= replaces a --data entry: the loader gets the split and the --data-dir / --download options."""
    calls = []

    def load(train, data_dir=None, download=False):
        calls.append((train, data_dir, download))
        return _small_digits(train)

    code, _, err = run(["train", "--data", "mnist", "--data-dir", "somewhere", "--quiet", "--epochs", "1",
                        "--out", str(tmp_path)], capsys, {"mnist": load})
    assert code == 0 and "on mnist: 86 training, 10 validation, 48 test images" in err
    assert calls == [(True, "somewhere", False), (False, "somewhere", False)]


def test_the_command_table_builds_parser_help_and_dispatch(capsys):
    names = ["train", "eval", "predict", "models", "summary", "filter", "explain", "visualize", "serve", "convert",
             "export", "run"]
    assert list(cli.build_parser().commands) == list(COMMANDS) == names
    for command in COMMANDS.values():
        assert command.module.HELP == command.help and command.run is command.module.run

    def add_arguments(parser):
        parser.add_argument("word")

    def hello(args, context):
        print(f"hello {args.word}", file=context.out)
        return 0

    row = Command("hello", None, "say hello", "Say hello to WORD.", add_arguments, hello)
    table = {**COMMANDS, "hello": row}
    assert cli.main(["hello", "world"], commands=table) == 0 and capsys.readouterr().out == "hello world\n"
    with pytest.raises(SystemExit):
        cli.main(["--help"], commands=table)
    assert "hello     say hello" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main(["hello"], commands=table)
    assert e.value.code == 2 and capsys.readouterr().err == ("cnnkit hello: error: the following arguments are "
                                                             "required: word (see 'cnnkit hello --help')\n")
