"""One-line messages of the CLI and the API behind them: nearest-name suggestions for unknown names, short
model-mismatch errors naming both models, warnings (NumPy's, Pillow's decompression-bomb limits) as one line each,
MemoryError with the size asked for. (The faults of a training run: test_cli_faults.py.)"""
import io
import re

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import cli, models
from cnnkit._suggest import did_you_mean, nearest
from cnnkit.nn import StateDictError
from cnnkit.train.restore import checkpoint_model


def run(argv, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def argparse_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    return err


# ----- nearest names ------------------------------------------------------------------------------------------
def test_nearest_name():
    names = models.list()
    assert nearest("resnt18", names) == "resnet18"
    assert nearest("ResNet50", names) == "resnet50"          # case does not count
    assert nearest("vgg_16", names) == "vgg16"
    assert nearest("transformer", names) is None
    assert did_you_mean("incepton_v3", names) == " (did you mean 'inception_v3'?)"
    assert did_you_mean("zzz", names) == ""


def test_models_get_suggests_the_nearest_model():
    with pytest.raises(ValueError, match=r"models.get: unknown model 'resnt18' \(did you mean 'resnet18'\?\); "
                                         r"available: alexnet, "):
        models.get("resnt18")
    with pytest.raises(ValueError, match=r"unknown model 'gpt'; available: "):
        models.get("gpt")


@pytest.mark.parametrize("argv, prog, hint", [
    (["trian"], "cnnkit", "invalid choice: 'trian' (did you mean 'train'?) (choose from 'train', 'eval'"),
    (["sumary", "lenet5"], "cnnkit", "invalid choice: 'sumary' (did you mean 'summary'?)"),
    (["train", "resnt18"], "cnnkit train", "unknown model 'resnt18' (did you mean 'resnet18'?); available:"),
    (["train", "--data", "mnits"], "cnnkit train", "invalid choice: 'mnits' (did you mean 'mnist'?) (choose from"),
    (["train", "--data", "Fashion_MNST"], "cnnkit train", "(did you mean 'fashion-mnist'?)"),
    (["train", "--optimizer", "adm"], "cnnkit train", "invalid choice: 'adm' (did you mean 'adam'?) (choose"),
    (["train", "--optimizer", "Adamw"], "cnnkit train", "(did you mean 'adamw'?)"),
    (["train", "--schedule", "cosin"], "cnnkit train", "invalid choice: 'cosin' (did you mean 'cosine'?)"),
    (["train", "--best-metric", "val_accuracy"], "cnnkit train", "(did you mean 'val_acc'?)"),
    (["train", "--lrr=0.1", "--quite"], "cnnkit train",
     "unrecognized arguments: --lrr=0.1 --quite (did you mean: --lrr=0.1 -> --lr, --quite -> --quiet?)"),
    (["export", "c.safetensors", "--onnx", "m.onnx", "--opsett", "13"], "cnnkit export", "--opsett -> --opset"),
])
def test_unknown_names_suggest_the_nearest(argv, prog, hint, capsys):
    err = argparse_error(argv, capsys)
    assert err.startswith(f"{prog}: error: ") and hint in err, err


@pytest.mark.parametrize("argv, unwanted", [
    (["fly"], "did you mean"), (["train", "--optimizer", "lbfgs"], "did you mean"),
    (["train", "--no-such-flag"], "did you mean"),
])
def test_no_suggestion_when_nothing_is_near(argv, unwanted, capsys):
    assert unwanted not in argparse_error(argv, capsys)


def test_summary_of_an_unknown_model_suggests_one():
    code, _, err = run(["summary", "lenet"])
    assert code == 1 and err.startswith("cnnkit summary: error: models.get: unknown model 'lenet' (did you mean "
                                        "'lenet5'?)") and len(err.splitlines()) == 1


def test_kernel_and_layer_names_suggest_the_nearest():
    from cnnkit.insight import kernels
    from cnnkit.insight.receptive_box import receptive_box
    with pytest.raises(ValueError, match=r"unknown kernel 'gausian' \(did you mean 'gaussian'\?\); expected one of"):
        kernels.get("gausian")
    with pytest.raises(ValueError, match=r"no layer 'features.c33' with a feature map in LeNet5 \(did you mean "
                                         r"'features.c3'\?\); valid layers: "):
        receptive_box(models.get("lenet5"), (1, 28, 28), "features.c33")
    code, _, err = run(["filter", "--kernel", "sobelx", "x.png"])
    assert code in (1, 2) and "did you mean 'sobel_x'?" in err and len(err.splitlines()) == 1, err


# ----- model mismatch: short, both models named ----------------------------------------------------------------
def test_state_dict_of_another_model_is_summarized():
    lenet, resnet = models.get("lenet5"), models.get("resnet18", num_classes=10)
    with pytest.raises(StateDictError) as e:
        resnet.load_state_dict(lenet.state_dict())
    message = str(e.value)
    n_resnet, n_lenet = len(resnet.state_dict()), len(lenet.state_dict())
    assert message == (f"load_state_dict for ResNet: {n_resnet} missing key(s): 'conv1.weight', 'bn1.weight', ... "
                       f"({n_resnet - 2} more); {n_lenet} unexpected key(s): 'features.c1.weight', "
                       f"'features.c1.bias', ... ({n_lenet - 2} more)"), message
    assert len(message) < 300


def test_shape_mismatches_are_counted():
    big, small = models.get("resnet18", num_classes=1000), models.get("resnet18", num_classes=10)
    with pytest.raises(StateDictError) as e:
        small.load_state_dict(big.state_dict())
    assert str(e.value) == ("load_state_dict for ResNet: size mismatch for 'fc.weight': expected shape (10, 512), "
                            "found (1000, 512), 'fc.bias': expected shape (10,), found (1000,)")
    sd = {k: (np.zeros((3,) + tuple(v.shape)) if k.startswith("layer4") else v)
          for k, v in small.state_dict().items()}
    with pytest.raises(StateDictError) as e:
        small.load_state_dict(sd)
    message = str(e.value)
    shown, more = message.count(": expected shape"), int(re.search(r"\(and (\d+) more\)$", message).group(1))
    assert shown + more == sum(k.startswith("layer4") for k in sd) and shown >= 1, message
    assert len(message) < 300 and message.count("size mismatch for") == 1, message


def test_torch_raises_on_the_same_misfits():
    """The same misfits are errors in torch (the message is ours, the behaviour torch's)."""
    torch = pytest.importorskip("torch")
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 4)
    with pytest.raises(RuntimeError, match="size mismatch"):
        a.load_state_dict(b.state_dict())
    c, d = ck.nn.Linear(3, 2), ck.nn.Linear(3, 4)
    with pytest.raises(RuntimeError, match="size mismatch for 'weight'"):
        c.load_state_dict(d.state_dict())


def test_checkpoint_model_names_the_checkpoints_model():
    assert checkpoint_model({"meta": {"model": "vgg11", "model_kwargs": {"num_classes": 10, "in_channels": 1}}}) \
        == "a vgg11 checkpoint (num_classes=10, in_channels=1)"
    assert checkpoint_model({"model": {}}) == "a checkpoint of an unnamed model"
    assert checkpoint_model([1]) == "a checkpoint of an unnamed model"


def test_trainer_resume_into_another_model_names_both(tmp_path):
    from cnnkit.nn import CrossEntropyLoss
    from cnnkit.optim import SGD
    from cnnkit.train import Trainer

    lenet = models.get("lenet5")
    path = tmp_path / "lenet.safetensors"
    Trainer(lenet, SGD(lenet.parameters(), lr=0.1), CrossEntropyLoss(), meta={"model": "lenet5"}).save_checkpoint(path)
    resnet = models.get("resnet18", num_classes=10)
    trainer = Trainer(resnet, SGD(resnet.parameters(), lr=0.1), CrossEntropyLoss())
    with pytest.raises(ValueError) as e:
        trainer.load_checkpoint(path)
    message = str(e.value)
    assert message.startswith(f"Trainer.load_checkpoint: {path} (a lenet5 checkpoint) does not fit this Trainer's "
                              f"ResNet: load_state_dict for ResNet: "), message
    assert len(message) < 300 + len(str(path)), message


def test_cli_export_of_another_models_weights_names_both(tmp_path):
    lenet = models.get("lenet5")
    path = tmp_path / "lenet.safetensors"
    ck.save({"model": lenet.state_dict(), "meta": {"model": "lenet5", "model_kwargs": {"num_classes": 10}}}, path)
    code, _, err = run(["export", str(path), "--model", "resnet18", "--onnx", str(tmp_path / "m.onnx")])
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith(f"cnnkit export: error: {path} (a lenet5 checkpoint (num_classes=10)): its weights do not "
                          f"fit --model resnet18: load_state_dict for ResNet: "), err
    assert len(err) < 300 + len(str(path)), err
    ck.save(lenet.state_dict(), path)
    code, _, err = run(["export", str(path), "--model", "resnet18", "--onnx", str(tmp_path / "m.onnx")])
    assert code == 1 and "(a checkpoint of an unnamed model): its weights do not fit --model resnet18" in err


# ----- warnings: NumPy's and Pillow's, one line each ------------------------------------------------------------
_DIGITS = {}


def digits(train=True, **kwargs):
    """96 training / 48 test images of the built-in digits."""
    if train not in _DIGITS:
        d = ck.data.datasets.digits(train=train)
        n = 96 if train else 48
        _DIGITS[train] = (d.arrays[0][:n].copy(), d.arrays[1][:n].copy())
    return ck.data.ArrayDataset(*(a.copy() for a in _DIGITS[train]))


def train(args, datasets=None):
    return run(["train", "--quiet", *args], datasets=datasets or {"digits": digits})


def no_internals(err: str) -> None:
    assert "Traceback" not in err and ".py" not in err and "site-packages" not in err, err
    assert "RuntimeWarning" not in err and "DecompressionBomb" not in err, err


def test_numpy_overflow_warnings_are_one_line_each_and_the_run_stops_with_a_suggestion(tmp_path):
    """A learning rate of 1e20 overflows float32 in the second batch's forward pass: NumPy warns (overflow,
    invalid value), the loss is NaN, the run stops. On the NumPy kernels, where the overflow is NumPy's (on oneDNN
    the convolutions overflow silently inside the library and NumPy first sees the NaNs)."""
    with ck.backends.onednn.flags(enabled=False):
        code, _, err = train(["--lr", "1e20", "--epochs", "1", "--out", str(tmp_path / "run")])
    no_internals(err)
    assert code == 1
    warned = [line for line in err.splitlines() if line.startswith("cnnkit train: warning: ")]
    assert warned and len(warned) == len(set(warned)), err
    for line in warned:
        assert re.fullmatch(r"cnnkit train: warning: (overflow|invalid value) encountered in \w+ \(in \w+\)", line) \
            or re.fullmatch(r"cnnkit train: warning: \d+ repeated warning\(s\) left out", line), line
    assert any("overflow encountered" in line for line in warned), err
    last = err.splitlines()[-1]
    assert last.startswith("cnnkit train: error: the loss is nan at epoch 1, batch ") or \
        last.startswith("cnnkit train: error: non-finite gradients at epoch 1"), last
    assert last.endswith("try a lower learning rate, e.g. --lr 1e+19 (this run: 1e+20)"), last


@pytest.fixture(scope="module")
def large_images(tmp_path_factory):
    from tests.image_folder import large_png
    root = tmp_path_factory.mktemp("large")
    return large_png(root / "p100.png", 10_000, 10_000), large_png(root / "p200.png", 20_000, 10_000)


def test_a_100_megapixel_image_is_read_with_a_warning_naming_it(large_images):
    from cnnkit.data.images import LargeImageWarning, read_image
    p100, _ = large_images
    assert p100.stat().st_size < 20_000
    with pytest.warns(LargeImageWarning) as record:
        pixels = read_image(p100, 1)
    assert pixels.shape == (10_000, 10_000) and pixels.dtype == np.uint8 and pixels.max() == 0
    assert len(record) == 1 and record[0].filename == __file__       # the user's line, not cnnkit's
    assert str(record[0].message) == (f"{p100} is 10,000×10,000 = 100,000,000 pixels, more than Pillow's "
                                      f"decompression-bomb limit of 89,478,485: read anyway (about 286 MiB as RGB)")


def test_a_200_megapixel_image_is_refused_as_too_large_not_corrupt(large_images):
    import warnings

    from cnnkit.data.datasets import image_channels
    from cnnkit.data.images import TooLargeError, read_image
    _, p200 = large_images
    with pytest.raises(TooLargeError) as e:
        read_image(p200, 3)
    assert str(e.value) == (f"cannot read the image {p200}: 200,000,000 pixels is more than twice Pillow's "
                            f"decompression-bomb limit of 89,478,485 pixels; if the file is trusted, raise "
                            f"PIL.Image.MAX_IMAGE_PIXELS")
    assert isinstance(e.value, ValueError) and "corrupt" not in str(e.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_channels([p200]) == 1       # the header scan is quiet: the read reports it


def folder_with(root, extra):
    from tests.image_folder import make_image_folder
    make_image_folder(root, classes=("ant", "bee"), per_class=3, size=12, mode="L")
    target = root / "bee" / extra.name
    target.write_bytes(extra.read_bytes())
    return root, target


def test_cli_large_image_warning_is_one_line(tmp_path, large_images):
    root, target = folder_with(tmp_path / "data", large_images[0])
    code, out, err = train(["--data", f"folder:{root}", "--image-size", "28", "--epochs", "1", "--val-split", "0",
                            "--out", str(tmp_path / "run")])
    no_internals(err)
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("cnnkit train: warning")]
    assert warned == [f"cnnkit train: warning: {target} is 10,000×10,000 = 100,000,000 pixels, more than Pillow's "
                      f"decompression-bomb limit of 89,478,485: read anyway (about 286 MiB as RGB)"], err


def test_cli_too_large_image_is_one_error_line(tmp_path, large_images):
    root, target = folder_with(tmp_path / "data", large_images[1])
    code, out, err = train(["--data", f"folder:{root}", "--image-size", "28", "--epochs", "1",
                            "--out", str(tmp_path / "run")])
    no_internals(err)
    assert code == 1 and err.splitlines()[-1] == (
        f"cnnkit train: error: cannot read the image {target}: 200,000,000 pixels is more than twice Pillow's "
        f"decompression-bomb limit of 89,478,485 pixels; if the file is trusted, raise PIL.Image.MAX_IMAGE_PIXELS")


def _one_command(name: str, text: str, body) -> dict:
    """A command table holding one subcommand ``name`` with no arguments whose run calls ``body()``."""
    from cnnkit.cli.commands import Command

    class Subcommand:
        HELP = DESCRIPTION = text

        @staticmethod
        def add_arguments(parser):
            pass

        @staticmethod
        def run(args, context):
            return body()

    return {name: Command.of(name, Subcommand)}


def test_any_warning_of_a_command_is_one_line_once():
    import warnings

    def noisy():
        for _ in range(3):
            warnings.warn("something\nodd", UserWarning, stacklevel=1)
        with np.errstate(over="warn"):
            np.exp(np.float32(100))
        return 0

    code, _, err = run(["noisy"], commands=_one_command("noisy", "warns", noisy))
    assert code == 0 and err == ("cnnkit noisy: warning: something odd\n"
                                 "cnnkit noisy: warning: overflow encountered in exp\n"
                                 "cnnkit noisy: warning: 2 repeated warning(s) left out\n"), err


# ----- MemoryError ---------------------------------------------------------------------------------------------
def test_a_bare_memory_error_is_one_line():
    def hungry():
        raise MemoryError

    code, _, err = run(["hungry"], commands=_one_command("hungry", "allocates", hungry))
    assert code == 1 and err == ("cnnkit hungry: error: out of memory: an allocation failed (the size asked for is "
                                 "unknown); try smaller inputs or batches\n")


def test_summary_out_of_memory_names_the_size(tmp_path):
    """`cnnkit summary` of ResNet-18 on a 3×3000×3000 input in a process limited to 1 GiB of address space: its
    first layers' arrays (the input alone is 103 MiB, a convolution's output 549 MiB) cannot all be allocated."""
    import os
    import resource
    import subprocess
    import sys
    from pathlib import Path

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "summary", "resnet18", "--input", "3,3000,3000"],
                          capture_output=True, text=True, env=env, preexec_fn=limit, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert re.fullmatch(r"cnnkit summary: error: out of memory: unable to allocate [\d.]+ [MG]iB for an array with "
                        r"shape \([\d, ]+\) and data type \w+; try smaller inputs or batches\n", proc.stderr), \
        proc.stderr
