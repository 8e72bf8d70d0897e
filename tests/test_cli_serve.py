"""``cnnkit serve`` on the command line: the options, the one-line error without the serve extra, and the default
checkpoint trained by ``cnnkit train lenet5`` (on a slice of the digits here). The server itself is tested in
tests/serve/ (through the command, in a subprocess)."""
import sys

import numpy as np
import pytest

import cnnkit.data.datasets
from cnnkit import cli
from cnnkit.cli.context import Context
from cnnkit.cli.serve import train_default_checkpoint
from cnnkit.data import ArrayDataset
from cnnkit.serve import DEFAULT_CHECKPOINT
from cnnkit.train import restore


def test_without_the_serve_extra_one_line_and_nothing_trained(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no checkpoint here: the extra is checked before anything is trained
    for name in ("starlette", "uvicorn"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: an import of it fails
    assert cli.main(["serve"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("cnnkit serve: error: serve needs starlette and uvicorn, which are not installed: "
                   "pip install 'cnnkit[serve]'\n")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("port, shown", [("-1", "-1"), ("65536", "65536"), ("http", "'http'")])
def test_port_is_checked(port, shown, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--port", port])
    assert e.value.code == 2
    assert capsys.readouterr().err == (f"cnnkit serve: error: argument --port: expected a port number in 0..65535, "
                                       f"got {shown} (see 'cnnkit serve --help')\n")


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.safetensors"
    assert cli.main(["serve", str(missing)]) == 1
    assert capsys.readouterr().err == f"cnnkit serve: error: no checkpoint at {missing}\n"


def slice_of_digits(train=True, **kwargs):
    d = cnnkit.data.datasets.digits(train=train)
    n = 96 if train else 48
    return ArrayDataset(d.arrays[0][:n].copy(), d.arrays[1][:n].copy())


@pytest.mark.slow
def test_default_checkpoint_is_what_cnnkit_train_lenet5_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    train_default_checkpoint(Context(datasets={"digits": slice_of_digits}))
    out, err = capsys.readouterr()
    assert DEFAULT_CHECKPOINT.is_file() and "test accuracy:" in out and "training lenet5" in err
    trained = restore(DEFAULT_CHECKPOINT)
    assert (trained.name, trained.data, trained.epoch, trained.channels, trained.size) == ("lenet5", "digits", 20, 1, 28)
    images = slice_of_digits(train=True).arrays[0]
    # the statistics of the training split: --val-split 0.1 holds out round(0.1·n) images chosen by --seed 0
    n_val = round(0.1 * len(images))
    kept = np.sort(np.random.default_rng(0).permutation(len(images))[n_val:])
    np.testing.assert_allclose(trained.mean, images[kept].astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-12)
