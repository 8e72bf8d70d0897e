"""One-line messages of the CLI and the API behind them: nearest-name suggestions for unknown names, short
model-mismatch errors naming both models."""
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


# ----- model mismatch: short, both models named ----------------------------------------------------------------
def test_state_dict_of_another_model_is_summarized():
    resnet, vgg = models.get("resnet18", num_classes=10), models.get("vgg11", num_classes=10)
    with pytest.raises(StateDictError) as e:
        vgg.load_state_dict(resnet.state_dict())
    message = str(e.value)
    assert len(message) < 300, message
    n_vgg, n_resnet = len(vgg.state_dict()), len(resnet.state_dict())
    assert message == (f"load_state_dict for VGG: {n_vgg} missing key(s): 'features.0.weight', "
                       f"'features.0.bias', ... ({n_vgg - 2} more); {n_resnet} unexpected key(s): 'conv1.weight', "
                       f"'bn1.weight', ... ({n_resnet - 2} more)"), message
    before = {k: v.numpy().copy() for k, v in vgg.state_dict().items()}
    assert all(np.array_equal(v.numpy(), before[k]) for k, v in vgg.state_dict().items())


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
    vgg = models.get("vgg11", num_classes=10)
    trainer = Trainer(vgg, SGD(vgg.parameters(), lr=0.1), CrossEntropyLoss())
    with pytest.raises(ValueError) as e:
        trainer.load_checkpoint(path)
    message = str(e.value)
    assert message.startswith(f"Trainer.load_checkpoint: {path} (a lenet5 checkpoint) does not fit this Trainer's "
                              f"VGG: load_state_dict for VGG: "), message
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
