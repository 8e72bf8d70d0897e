"""``cnnkit train --data folder:PATH``: one's own images (grayscale or RGB, flat or split into train/val/test),
``--image-size`` and the models' minimum sizes, and every zoo model for one short epoch from the command line."""
import csv
import io
import re

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import cli, models
from tests.image_folder import make_image_folder

ACCURACY = re.compile(r"^(test|validation) accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\), \w+ loss (\d+\.\d+)$", re.M)


def train(args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["train", "--quiet", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_flat_rgb_folder(tmp_path):
    root = make_image_folder(tmp_path / "pets", per_class=4, size=(20, 14))
    code, out, err = train(["--data", f"folder:{root}", "--epochs", "2", "--image-size", "16",
                            "--out", str(tmp_path / "run")])
    assert code == 0, err
    assert "note: RGB images, shorter side resized to 28 and centre-cropped to 28×28" in err
    assert "note: lenet5 takes 28×28 or 32×32 inputs: images resized to 28×28" in err
    assert "on pets: 11 training, 1 validation, no test images" in err
    m = ACCURACY.search(out)
    assert m and m.group(1) == "validation" and m.group(4) == "1"  # no test/ folder: the validation split
    state = ck.load(tmp_path / "run/checkpoint.safetensors")
    meta = state["meta"]
    assert meta["classes"] == ["ant", "bee", "cat"] and meta["data"] == f"folder:{root.resolve()}"
    assert meta["preprocessing"]["channels"] == 3 and meta["preprocessing"]["size"] == 28
    assert meta["model_kwargs"]["in_channels"] == 3 and meta["model_kwargs"]["num_classes"] == 3
    assert state["model"]["features.c1.weight"].shape == (6, 3, 5, 5)
    assert meta["split"] == {"source": "val-split", "fraction": 0.1, "seed": 0, "n": 1}
    # the standardization is the training split's per-channel mean and standard deviation (all 11 images)
    mean = np.asarray(meta["preprocessing"]["mean"])
    assert mean.shape == (3,) and np.all((0 < mean) & (mean < 1))


def test_split_folder_grey_eval_and_predict(tmp_path):
    root = make_image_folder(tmp_path / "shapes", mode="L", size=10, splits={"train": 4, "val": 2, "test": 2})
    code, out, err = train(["--data", f"folder:{root}", "--epochs", "2", "--out", str(tmp_path / "run")])
    assert code == 0, err
    assert "note: grayscale images, shorter side resized to 32 and centre-cropped to 32×32" in err
    assert "on shapes: 12 training, 6 validation, 6 test images" in err
    trained = ACCURACY.search(out)
    assert trained.group(1) == "test" and trained.group(4) == "6"
    meta = ck.load(tmp_path / "run/checkpoint.safetensors")["meta"]
    assert meta["split"]["source"] == "folder" and meta["preprocessing"]["channels"] == 1
    assert meta["preprocessing"]["size"] == 32  # the folder default 64: lenet5 takes 32
    out2, err2 = io.StringIO(), io.StringIO()
    assert cli.main(["eval", str(tmp_path / "run/checkpoint.safetensors")], stdout=out2, stderr=err2) == 0, err2
    again = ACCURACY.search(out2.getvalue())
    assert again.groups()[1:] == trained.groups()[1:]  # the same test images, prepared the same way
    assert "0 ant" in out2.getvalue() and "2 cat" in out2.getvalue()  # the confusion matrix names the classes
    out3 = io.StringIO()
    image = root / "test" / "bee" / "000.png"
    assert cli.main(["predict", str(tmp_path / "run/checkpoint.safetensors"), str(image)], stdout=out3) == 0
    assert re.match(rf"^{re.escape(str(image))}: (ant|bee|cat)   top-3: ", out3.getvalue())


def test_folder_errors(tmp_path):
    code, _, err = train(["--data", f"folder:{tmp_path / 'missing'}", "--out", str(tmp_path / "o")])
    assert code == 1 and err == f"cnnkit train: error: --data folder:{tmp_path / 'missing'}: no folder " \
                                f"{tmp_path / 'missing'}\n"
    make_image_folder(tmp_path / "one", classes=("only",), per_class=2)
    code, _, err = train(["--data", f"folder:{tmp_path / 'one'}", "--out", str(tmp_path / "o")])
    assert code == 1 and "has one class folder (only); classification needs at least two" in err
    assert not (tmp_path / "o").exists()


# ----- every zoo model, one short epoch ---------------------------------------------------------------------------
MIN_SIZE = {"alexnet": 63, "inception_v3": 75, "densenet121": 29, "densenet161": 29, "densenet169": 29,
            "densenet201": 29, "googlenet": 15, "lenet5": 28}
FAST = {"lenet5", "resnet18"}


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """Three classes of four grayscale 12×12 images (11 training, 1 validation)."""
    return make_image_folder(tmp_path_factory.mktemp("tiny") / "tiny", mode="L", size=12, per_class=4)


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in models.list()])
def test_every_zoo_model_trains_one_epoch_on_a_folder(name, tiny_folder, tmp_path):
    size = MIN_SIZE.get(name, 32 if name.startswith("vgg") else 8)
    # one batch of the 11 training images: the deepest BatchNorm models (ResNet-152 at 1×1 maps) get non-finite
    # gradients from batches of 4
    code, out, err = train([name, "--data", f"folder:{tiny_folder}", "--image-size", "8", "--epochs", "1",
                            "--batch-size", "12", "--lr", "0.001", "--out", str(tmp_path / "run")])
    assert code == 0, err
    if size != 8:
        assert f"images resized to {size}×{size}" in err
    state = ck.load(tmp_path / "run/checkpoint.safetensors")
    assert state["epoch"] == 1 and state["meta"]["preprocessing"]["size"] == size
    assert state["meta"]["model_kwargs"]["in_channels"] == 1
    with (tmp_path / "run/metrics.csv").open() as f:
        row = next(csv.DictReader(f))
    assert np.isfinite(float(row["train_loss"])) and float(row["train_loss"]) > 0
    # the deep BatchNorm models' running statistics after one update can make eval-mode outputs overflow
    # (ResNet-50/152 at 8×8: validation loss nan or 1e17); the run itself must complete and report
    assert re.search(r"^validation accuracy: \d+\.\d\d% \(\d+/1\), validation loss (\d+\.\d+|nan|inf)$", out, re.M)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "alexnet", "vgg11_bn"])
def test_rgb_zoo_models_on_the_digits_and_a_folder(name, tmp_path):
    """The built-in digits (grayscale, 28×28) for models made for RGB 224×224: the first layer takes one channel,
    and the images are resized to the model's minimum."""
    code, out, err = train([name, "--limit", "40", "--epochs", "1", "--batch-size", "8", "--lr", "0.001",
                            "--out", str(tmp_path / "run")])
    assert code == 0, err
    state = ck.load(tmp_path / "run/checkpoint.safetensors")
    assert state["meta"]["model_kwargs"]["in_channels"] == 1
    assert state["meta"]["preprocessing"]["size"] == max(28, MIN_SIZE.get(name, 32 if "vgg" in name else 1))
    m = ACCURACY.search(out)
    assert m.group(1) == "test" and m.group(4) == "40"
    code, out, err = train([name, "--data", f"folder:{make_image_folder(tmp_path / 'rgb', size=40)}",
                            "--epochs", "1", "--batch-size", "4", "--image-size", "40", "--lr", "0.001",
                            "--out", str(tmp_path / "rgb_run")])
    assert code == 0, err
    assert ck.load(tmp_path / "rgb_run/checkpoint.safetensors")["meta"]["model_kwargs"]["in_channels"] == 3
