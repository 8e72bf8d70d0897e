"""``cnnkit convert`` (a torch.save file -> a cnnkit checkpoint, tensors equal to what torch wrote) and ``cnnkit
export`` (a checkpoint -> ONNX; onnxruntime's output equals the model's evaluation output), run through
``cli.main``; their error paths are one line with exit code 1."""
import json
import os
import sys

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit import cli, models
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD
from cnnkit.train import Trainer
from tests.models.torch_reference import ref_resnet18

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run(args, capsys):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err, command):
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"cnnkit {command}: error: ") and len(err.strip().splitlines()) == 1, err
    return err


def torch_net():
    """A small torchvision-layout net (conv, BatchNorm with its int64 counter, linear) with random statistics."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5))
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 1.5)
        net[1].num_batches_tracked.fill_(7)
    return net


def assert_same_tensors(path, state):
    got = ck.load(path)
    assert set(got) == set(state)
    for k, v in state.items():
        assert got[k]._data.dtype == v.numpy().dtype, k
        np.testing.assert_array_equal(got[k]._data, v.numpy(), err_msg=k)


# ----- convert ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_convert_writes_the_tensors_torch_wrote(tmp_path, capsys, legacy):
    state = torch_net().state_dict()
    src, out = tmp_path / "net.pth", tmp_path / "net.safetensors"
    torch.save(state, src, _use_new_zipfile_serialization=not legacy)
    code, stdout, err = run(["convert", src, out], capsys)
    assert code == 0, err
    assert stdout == f"wrote {out}: {len(state)} tensors\n"
    assert_same_tensors(out, state)


def test_convert_a_nested_checkpoint_with_key(tmp_path, capsys):
    state = torch_net().state_dict()
    src, out = tmp_path / "ckpt.pth", tmp_path / "net.safetensors"
    torch.save({"epoch": 3, "state_dict": state, "optimizer": {"lr": 0.1}}, src)
    err = one_line_error(*run(["convert", src, out], capsys), "convert")
    assert "not a flat name -> tensor mapping" in err and "'state_dict'" in err
    assert not out.exists()
    code, _, err = run(["convert", src, out, "--key", "state_dict"], capsys)
    assert code == 0, err
    assert_same_tensors(out, state)
    err = one_line_error(*run(["convert", src, out, "--key", "model"], capsys), "convert")
    assert "has no entry 'model'" in err


class _Payload:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def test_convert_refuses_a_malicious_file_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    src, out = tmp_path / "evil.pth", tmp_path / "out.safetensors"
    torch.save({"weight": torch.ones(2), "x": _Payload(os.system, f"touch {marker}")}, src)
    err = one_line_error(*run(["convert", src, out], capsys), "convert")
    assert "global 'posix.system'" in err and "refused (nothing was run)" in err
    assert not marker.exists() and not out.exists()


def test_convert_refuses_truncated_and_missing_files(tmp_path, capsys):
    src, out = tmp_path / "net.pth", tmp_path / "out.safetensors"
    torch.save(torch_net().state_dict(), src)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(src.read_bytes()[:-200])
    err = one_line_error(*run(["convert", cut, out], capsys), "convert")
    assert str(cut) in err and ("truncated" in err or "corrupt" in err)
    err = one_line_error(*run(["convert", tmp_path / "none.pth", out], capsys), "convert")
    assert err == f"cnnkit convert: error: load_torch: no file at {tmp_path / 'none.pth'}\n"
    assert not out.exists()


# ----- export -----------------------------------------------------------------------------------------------------

MEAN, STD = [0.25], [0.5]


def training_checkpoint(path):
    """A LeNet-5 checkpoint with the meta `cnnkit train` writes (seeded, untrained weights)."""
    ck.manual_seed(3)
    model = models.get("lenet5", num_classes=10)
    meta = {"model": "lenet5", "data": "digits", "model_kwargs": {"num_classes": 10},
            "preprocessing": {"mean": MEAN, "std": STD, "size": 28, "channels": 1}}
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), meta=meta).save_checkpoint(path)
    return path


def model_eval(model, x):
    model.eval()
    with ck.no_grad():
        return model(ck.tensor(x))._data


def onnxruntime_output(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def assert_close(got, want, rtol=1e-4):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * float(np.abs(want).max()))


def test_export_a_training_checkpoint(tmp_path, capsys):
    ckpt, out = training_checkpoint(tmp_path / "checkpoint.safetensors"), tmp_path / "lenet5.onnx"
    code, stdout, err = run(["export", ckpt, "--onnx", out], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0] == (f"wrote {out}: lenet5 (trained on digits); input: images in [0, 1] standardized per channel: "
                        f"(x - mean) / std, mean [0.25], std [0.5]; 'input' (batch, 1, 28, 28), opset 17")
    assert lines[1].startswith("onnxruntime: outputs equal the model's at batch 2 and 3 (largest difference ")
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["cnnkit.model"] == "lenet5" and props["cnnkit.data"] == "digits"
    assert json.loads(props["cnnkit.preprocessing"]) == {"channels": 1, "size": 28, "mean": MEAN, "std": STD}
    # the model rebuilt by hand from the checkpoint; a batch size the command did not try
    model = models.get("lenet5", num_classes=10)
    model.load_state_dict(ck.load(ckpt)["model"])
    x = np.random.default_rng(5).standard_normal((5, 1, 28, 28)).astype(np.float32)
    assert_close(onnxruntime_output(out, x), model_eval(model, x))


def test_export_options(tmp_path, capsys):
    ckpt, out = training_checkpoint(tmp_path / "checkpoint.safetensors"), tmp_path / "fixed.onnx"
    code, stdout, err = run(["export", ckpt, "--onnx", out, "--opset", "19", "--no-dynamic-batch"], capsys)
    assert code == 0, err
    assert "'input' (2, 1, 28, 28), opset 19" in stdout and "at batch 2 (largest" in stdout
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version == 19
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 1, 28, 28]
    model = models.get("lenet5", num_classes=10)
    model.load_state_dict(ck.load(ckpt)["model"])
    x = np.random.default_rng(6).standard_normal((2, 1, 28, 28)).astype(np.float32)
    assert_close(onnxruntime_output(out, x), model_eval(model, x))
    code, stdout, err = run(["export", ckpt, "--onnx", tmp_path / "unchecked.onnx", "--no-verify"], capsys)
    assert code == 0 and "onnxruntime" not in stdout


def test_pth_to_onnx_through_the_commands(tmp_path, capsys):
    """torch's resnet18 (torchvision layout) -> cnnkit convert -> cnnkit export --model: onnxruntime gives torch's
    logits (reference in float64)."""
    torch.manual_seed(0)
    ref = ref_resnet18(num_classes=10).eval()
    with torch.no_grad():
        for name, b in ref.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                b.uniform_(-0.1, 0.1)
    pth, st, out = tmp_path / "resnet18.pth", tmp_path / "resnet18.safetensors", tmp_path / "resnet18.onnx"
    torch.save(ref.state_dict(), pth)
    assert run(["convert", pth, st], capsys)[0] == 0
    code, stdout, err = run(["export", st, "--onnx", out, "--model", "resnet18", "--num-classes", "10",
                             "--input", "3,32,32"], capsys)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: resnet18; 'input' (batch, 3, 32, 32), opset 17\n")
    x = np.random.default_rng(7).standard_normal((4, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = ref.double()(torch.from_numpy(x).double()).numpy()
    assert_close(onnxruntime_output(out, x), want)


def test_export_errors(tmp_path, capsys, monkeypatch):
    ckpt = training_checkpoint(tmp_path / "checkpoint.safetensors")
    out = tmp_path / "m.onnx"
    bare = tmp_path / "bare.safetensors"
    ck.save(ck.load(ckpt)["model"], bare)
    err = one_line_error(*run(["export", bare, "--onnx", out], capsys), "export")
    assert "is not a training checkpoint" in err and "pass --model NAME" in err
    err = one_line_error(*run(["export", bare, "--onnx", out, "--model", "resnet18"], capsys), "export")
    assert f"{bare} (a checkpoint of an unnamed model): its weights do not fit --model resnet18" in err
    err = one_line_error(*run(["export", ckpt, "--onnx", out, "--input", "1,32,32"], capsys), "export")
    assert "--input goes with --model" in err
    err = one_line_error(*run(["export", ckpt, "--onnx", out, "--opset", "9"], capsys), "export")
    assert "opset must be an int from 13" in err
    # onnxruntime missing: the file is written, the check says what to install
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, stdout, err = run(["export", ckpt, "--onnx", out], capsys)
    assert code == 1 and stdout.startswith(f"wrote {out}: lenet5") and len(stdout.splitlines()) == 1
    assert err == ("cnnkit export: error: onnx.verify: the 'onnxruntime' package is not installed; pip install "
                   "'cnnkit[onnx]' (the file was written unchecked; --no-verify skips the check)\n")
    assert onnx.load(str(out)).graph.input[0].name == "input"
    out.unlink()
    assert run(["export", ckpt, "--onnx", out, "--no-verify"], capsys)[0] == 0
    out.unlink()
    # the onnx package missing: what to install
    monkeypatch.setitem(sys.modules, "onnx", None)
    err = one_line_error(*run(["export", ckpt, "--onnx", out], capsys), "export")
    assert err == "cnnkit export: error: onnx.export: the 'onnx' package is not installed; pip install 'cnnkit[onnx]'\n"
    assert not out.exists()
