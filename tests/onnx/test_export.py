"""ck.onnx.export: every zoo model and every exportable layer, checked by onnx.checker and run by onnxruntime
against cnnkit's own evaluation-mode output (two batch sizes: the batch dim is dynamic)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import cnnkit as ck
import cnnkit.onnx
from cnnkit import nn
from cnnkit.function import Function
from cnnkit.onnx import ExportError

RTOL = 1e-4


def randomize(model, seed=0):
    """Weights that keep signals alive through deep stacks (He scale; BN near identity with non-trivial
    statistics), so that the comparison sees every layer."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if p._data.ndim > 1:
            fan_in = p._data[0].size
            p._data[...] = rng.standard_normal(p.shape) * np.sqrt(2.0 / fan_in)
        elif name.endswith("weight"):
            p._data[...] = 1 + 0.1 * rng.standard_normal(p.shape)
        else:
            p._data[...] = 0.1 * rng.standard_normal(p.shape)
    for name, b in model.named_buffers():
        if name.endswith("running_mean"):
            b._data[...] = 0.1 * rng.standard_normal(b.shape)
        elif name.endswith("running_var"):
            b._data[...] = rng.uniform(0.5, 1.5, b.shape)
    return model


def run_onnx(path, x: np.ndarray, name="input"):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: x})


def cnnkit_eval(model, x: np.ndarray):
    model.eval()
    with ck.no_grad():
        return model(ck.tensor(x))._data


def assert_close(got, want):
    scale = float(np.abs(want).max()) or 1.0
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale)


def check_export(model, shape, tmp_path, batches=(2, 3), seed=0, **kwargs):
    """Export at batch ``batches[0]``, check the file, compare onnxruntime with cnnkit at every batch size."""
    rng = np.random.default_rng(seed)
    path = tmp_path / "model.onnx"
    model.train()
    proto = ck.onnx.export(model, ck.tensor(rng.standard_normal((batches[0],) + shape).astype(np.float32)), path,
                           **kwargs)
    assert model.training                       # traced in evaluation mode, the caller's mode restored
    onnx.checker.check_model(str(path), full_check=True)
    assert proto.ir_version == onnx.load(str(path), load_external_data=False).ir_version
    for n in batches:
        x = rng.standard_normal((n,) + shape).astype(np.float32)
        want = cnnkit_eval(model, x)
        (got,) = run_onnx(path, x)
        assert got.shape == want.shape
        assert_close(got, want)
    return proto


# ----- the zoo -------------------------------------------------------------------------------------------

SLOW = pytest.mark.slow
ZOO = [
    ("lenet5", (1, 28, 28), {}, []),
    ("lenet5", (1, 28, 28), {"classic": True}, []),
    ("lenet5", (1, 32, 32), {"classic": True, "input_size": 32}, []),
    ("resnet18", (3, 16, 16), {}, []),
    ("googlenet", (3, 15, 15), {}, []),
    ("googlenet", (3, 15, 15), {"transform_input": True}, [SLOW]),
    ("densenet121", (3, 29, 29), {}, []),
    ("alexnet", (3, 63, 63), {}, [SLOW]),
    ("alexnet", (3, 67, 67), {"original": True}, [SLOW]),
    ("inception_v3", (3, 75, 75), {}, [SLOW]),
    ("resnet34", (3, 16, 16), {}, [SLOW]),
    ("resnet50", (3, 16, 16), {}, [SLOW]),
    ("resnet101", (3, 16, 16), {}, [SLOW]),
    ("resnet152", (3, 16, 16), {}, [SLOW]),
    ("densenet161", (3, 29, 29), {}, [SLOW]),
    ("densenet169", (3, 29, 29), {}, [SLOW]),
    ("densenet201", (3, 29, 29), {}, [SLOW]),
] + [(name, (3, 32, 32), {"init_weights": False}, [SLOW])
     for name in ("vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
                  "vgg19_bn")]


def _zoo_id(case):
    name, shape, kwargs, _ = case
    return "-".join([name] + [f"{k}={v}" for k, v in kwargs.items() if k != "init_weights"])


@pytest.mark.parametrize("name,shape,kwargs", [pytest.param(*c[:3], marks=c[3], id=_zoo_id(c)) for c in ZOO])
def test_zoo_model_matches_onnxruntime(name, shape, kwargs, tmp_path):
    model = randomize(ck.models.get(name, num_classes=10, **kwargs))
    proto = check_export(model, shape, tmp_path)
    names = {i.name for i in proto.graph.initializer}
    state = model.state_dict()
    # parameters and buffers keep their state-dict names (LeNet-5's table weight is stored expanded; the
    # auxiliary classifiers run in training mode only)
    expected = {k for k in state if not k.endswith("num_batches_tracked") and "c3.weight" not in k
                and not k.lower().startswith("aux")}
    assert expected <= names


# ----- single layers ---------------------------------------------------------------------------------------

class Wrap(nn.Module):
    """A layer (or a small stack) plus optional glue in forward."""

    def __init__(self, *layers, glue=None):
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.glue = glue

    def forward(self, x):
        y = self.body(x)
        return self.glue(x, y) if self.glue else y


LAYERS = {
    "conv_groups_dilation": (lambda: Wrap(nn.Conv2d(4, 6, 3, stride=2, padding=(2, 1), dilation=2, groups=2)),
                             (4, 11, 12)),
    "conv_same": (lambda: Wrap(nn.Conv2d(3, 4, (4, 3), padding="same")), (3, 9, 8)),
    "conv_reflect": (lambda: Wrap(nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect")), (3, 7, 7)),
    "conv_replicate": (lambda: Wrap(nn.Conv2d(3, 4, 3, padding=1, padding_mode="replicate")), (3, 7, 7)),
    "conv_transpose": (lambda: Wrap(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)),
                       (4, 5, 6)),
    "conv_transpose_dilated": (lambda: Wrap(nn.ConvTranspose2d(3, 2, (3, 2), stride=(1, 3), padding=(2, 0),
                                                               dilation=2, bias=False)), (3, 6, 5)),
    "maxpool_ceil": (lambda: Wrap(nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)), (2, 10, 9)),
    "maxpool_ceil_k2": (lambda: Wrap(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)), (2, 6, 7)),
    "maxpool_dilated": (lambda: Wrap(nn.MaxPool2d(3, 1, padding=1, dilation=2)), (2, 9, 9)),
    "avgpool_include_pad": (lambda: Wrap(nn.AvgPool2d(3, 1, padding=1)), (2, 6, 7)),
    "avgpool_exclude_pad": (lambda: Wrap(nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)), (2, 7, 8)),
    "avgpool_ceil_include_pad": (lambda: Wrap(nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)), (2, 8, 9)),
    "avgpool_ceil_exclude_pad": (lambda: Wrap(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)),
                                 (2, 7, 7)),
    "avgpool_divisor_override": (lambda: Wrap(nn.AvgPool2d(2, 2, padding=1, divisor_override=3)), (2, 6, 6)),
    "lppool2": (lambda: Wrap(nn.LPPool2d(2, 2)), (2, 6, 6)),
    "lppool3_ceil": (lambda: Wrap(nn.ReLU(), nn.LPPool2d(3, 3, stride=2, ceil_mode=True)), (2, 8, 8)),
    "adaptive_avg_unequal": (lambda: Wrap(nn.AdaptiveAvgPool2d((3, 4))), (2, 7, 5)),
    "adaptive_avg_upsample": (lambda: Wrap(nn.AdaptiveAvgPool2d(7)), (2, 1, 1)),
    "adaptive_avg_global": (lambda: Wrap(nn.AdaptiveAvgPool2d(1)), (2, 5, 3)),
    "adaptive_max_divisible": (lambda: Wrap(nn.AdaptiveMaxPool2d((2, 3))), (2, 6, 6)),
    "adaptive_max_global": (lambda: Wrap(nn.AdaptiveMaxPool2d(1)), (2, 5, 3)),
    "activations": (lambda: Wrap(nn.Conv2d(2, 4, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 4, 1), nn.ELU(0.7),
                                 nn.Conv2d(4, 4, 1), nn.Sigmoid(), nn.Conv2d(4, 4, 1), nn.Tanh()), (2, 4, 4)),
    "softmax": (lambda: Wrap(nn.Flatten(), nn.Linear(8, 5), nn.Softmax(dim=1)), (2, 2, 2)),
    "log_softmax_channels": (lambda: Wrap(nn.LogSoftmax(dim=1)), (3, 2, 2)),
    "batchnorm1d": (lambda: Wrap(nn.Flatten(), nn.Linear(12, 6), nn.BatchNorm1d(6)), (3, 2, 2)),
    "batchnorm_no_affine": (lambda: Wrap(nn.BatchNorm2d(3, affine=False)), (3, 4, 4)),
    "lrn": (lambda: Wrap(nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0)), (7, 3, 3)),
    "linear_3d_input": (lambda: Wrap(nn.Linear(4, 3)), (5, 4)),
    "dropout_identity": (lambda: Wrap(nn.Dropout(0.5), nn.Dropout2d(0.3)), (3, 4, 4)),
    "maxout": (lambda: Wrap(nn.Conv2d(2, 6, 1), nn.Maxout(3)), (2, 3, 3)),
    "maxout_last_dim": (lambda: Wrap(nn.Linear(4, 6), nn.Maxout(2, dim=-1)), (4,)),
    "glu": (lambda: Wrap(nn.Conv2d(2, 6, 1), nn.GLU(dim=1)), (2, 3, 3)),
    "glu_last": (lambda: Wrap(nn.Linear(3, 8), nn.GLU()), (3,)),
    "residual_mul_cat": (lambda: Wrap(nn.Conv2d(3, 3, 3, padding=1),
                                      glue=lambda x, y: ck.cat([x + y, x * ck.sigmoid(y), (y - x) / 2], 1)),
                         (3, 4, 4)),
    "reductions": (lambda: Wrap(nn.Conv2d(3, 4, 1),
                                glue=lambda x, y: ck.cat([y.mean(dim=(2, 3)), ck.amax(y, dim=(2, 3)),
                                                          y.sum(dim=2).reshape(y.shape[0], -1)], 1)), (3, 4, 5)),
    "shape_ops": (lambda: Wrap(nn.Conv2d(3, 4, 1),
                               glue=lambda x, y: ck.relu(y.permute(0, 2, 3, 1)[:, 1:, ::2]).flatten(1)), (3, 4, 5)),
    "pad_constant_and_crop": (lambda: Wrap(nn.Conv2d(2, 2, 1), glue=lambda x, y: ck.pad(y, (1, -1, 2, 0), value=0.5)),
                               (2, 4, 5)),
    "pad_reflect_replicate": (lambda: Wrap(nn.Conv2d(2, 2, 1),
                                           glue=lambda x, y: ck.pad(ck.pad(y, (1, 2, 2, 1), mode="reflect"),
                                                                    (0, 1, 1, 0), mode="replicate")), (2, 4, 5)),
    "scalars": (lambda: Wrap(nn.Conv2d(2, 2, 1),
                             glue=lambda x, y: ck.clamp(y * 2.0 + 1.0, -0.5, 1.5) ** 2 - ck.exp(-ck.abs(y))),
                (2, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_onnxruntime(name, tmp_path):
    build, shape = LAYERS[name]
    check_export(randomize(build(), seed=1), shape, tmp_path)


@pytest.mark.parametrize("opset", [13, 18, 19])
def test_opsets(opset, tmp_path):
    model = Wrap(nn.Conv2d(2, 6, 1), nn.Maxout(3), glue=lambda x, y: ck.cat([y, ck.amax(y, dim=1, keepdim=True)], 1))
    proto = check_export(randomize(model), (2, 4, 4), tmp_path, opset=opset)
    assert proto.opset_import[0].version == opset


def test_circular_padding_needs_opset_19(tmp_path):
    model = randomize(Wrap(nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")))
    check_export(model, (2, 5, 4), tmp_path, opset=19)
    with pytest.raises(ExportError, match=r"'body\.0' \(Conv2d\).*circular padding needs opset 19.*got opset 17"):
        ck.onnx.export(model, ck.randn(1, 2, 5, 4), tmp_path / "m.onnx")


def test_fixed_batch(tmp_path):
    model = randomize(Wrap(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 4)))
    proto = check_export(model, (2, 4, 4), tmp_path, batches=(2,), dynamic_batch=False)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 2, 4, 4]
    with pytest.raises(Exception, match="invalid dimensions for input"):
        run_onnx(tmp_path / "model.onnx", np.zeros((3, 2, 4, 4), np.float32))


def test_dynamic_batch_names_the_batch_dim(tmp_path):
    proto = check_export(randomize(Wrap(nn.Flatten(), nn.Linear(4, 2))), (4,), tmp_path, batches=(2, 1, 5))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


# ----- what cannot be exported -----------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self, pool):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.pool = pool

    def forward(self, x):
        return self.pool(ck.relu(self.conv(x)))


class Cube(Function):
    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        raise NotImplementedError


class CubeLayer(nn.Module):
    def forward(self, x):
        return Cube()(x)


def test_an_unexportable_layer_is_named(tmp_path):
    model = Net(nn.AdaptiveMaxPool2d(3))
    with pytest.raises(ExportError, match=r"layer 'pool' \(AdaptiveMaxPool2d\).*7x7 to 3x3"):
        ck.onnx.export(model, ck.randn(1, 3, 9, 9), tmp_path / "m.onnx")
    model = Net(nn.Sequential(nn.ReLU(), CubeLayer()))
    with pytest.raises(ExportError, match=r"layer 'pool\.1' \(CubeLayer\): its op Cube has no ONNX converter"):
        ck.onnx.export(model, ck.randn(1, 3, 9, 9), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_batch_statistics_in_eval_are_refused(tmp_path):
    model = Net(nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(ExportError, match=r"'pool' \(BatchNorm2d\).*batch statistics"):
        ck.onnx.export(model, ck.randn(2, 3, 6, 6), tmp_path / "m.onnx")


def test_even_lrn_and_bad_arguments(tmp_path):
    with pytest.raises(ExportError, match=r"\(LocalResponseNorm\).*even size 4"):
        ck.onnx.export(Wrap(nn.LocalResponseNorm(4)), ck.randn(1, 6, 3, 3), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset must be an int from 13"):
        ck.onnx.export(Wrap(nn.ReLU()), ck.randn(1, 2), tmp_path / "m.onnx", opset=9)


def test_requires_grad_and_mode_are_restored(tmp_path):
    model = randomize(Wrap(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)))
    model.body[0].weight.requires_grad = False
    model.train()
    ck.onnx.export(model, ck.randn(2, 2, 3, 3), tmp_path / "m.onnx")
    assert model.training and model.body[1].training
    assert model.body[0].weight.requires_grad is False and model.body[0].bias.requires_grad is True


def test_verify_measures_the_difference_and_refuses_a_stale_file(tmp_path):
    model = randomize(Wrap(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4)))
    path = tmp_path / "m.onnx"
    x2, x3 = (np.random.default_rng(n).standard_normal((n, 2, 4, 4)).astype(np.float32) for n in (2, 3))
    ck.onnx.export(model, x2, path, metadata={"note": "a test"})
    assert {p.key: p.value for p in onnx.load(str(path)).metadata_props} == {"note": "a test"}
    model.train()
    error = ck.onnx.verify(model, path, [x2, x3])
    assert 0 <= error <= 1e-6 and model.training
    with ck.no_grad():
        model.body[3].bias._data[0] += 1.0          # the model changed after export: the file is stale
    want = cnnkit_eval(model, x3)
    (got,) = run_onnx(path, x3)
    stale = float(np.abs(got - want).max() / np.abs(want).max())
    with pytest.raises(ExportError, match=rf"differs from the model's by {stale:.3g} .*more than 0\.0001"):
        ck.onnx.verify(model, path, [x3])
    with pytest.raises(TypeError, match="metadata must map str to str, got entry 'n': int"):
        ck.onnx.export(model, x2, path, metadata={"n": 1})
