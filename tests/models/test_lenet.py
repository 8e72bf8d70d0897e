"""LeNet-5: parameter counts, shapes, the classic variant's connection table, and forward + backward against
the same network written in torch (weights copied by name)."""
from collections import OrderedDict

import numpy as np
import pytest
import torch.nn as tnn

import cnnkit as ck
import cnnkit.models as models
from cnnkit.nn import AvgPool2d, Conv2d, MaxPool2d, ReLU, TableConv2d, Tanh
from tests.oracle import check_module


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def torch_lenet5(num_classes=10, in_channels=1, padding=2):
    """The modern LeNet-5 in torch, with the same module names as cnnkit's."""
    features = tnn.Sequential(OrderedDict([
        ("c1", tnn.Conv2d(in_channels, 6, 5, padding=padding)), ("act1", tnn.ReLU()), ("s2", tnn.MaxPool2d(2)),
        ("c3", tnn.Conv2d(6, 16, 5)), ("act3", tnn.ReLU()), ("s4", tnn.MaxPool2d(2)),
        ("c5", tnn.Conv2d(16, 120, 5)), ("act5", tnn.ReLU())]))
    classifier = tnn.Sequential(OrderedDict([
        ("flatten", tnn.Flatten()), ("f6", tnn.Linear(120, 84)), ("act6", tnn.ReLU()),
        ("output", tnn.Linear(84, num_classes))]))
    return tnn.Sequential(OrderedDict([("features", features), ("classifier", classifier)]))


def test_parameter_count_modern():
    m = models.lenet5()
    assert n_params(m) == 61_706
    # per layer, as in the module docstring
    counts = {name: p.numel() for name, p in m.named_parameters()}
    assert counts["features.c1.weight"] + counts["features.c1.bias"] == 156
    assert counts["features.c3.weight"] + counts["features.c3.bias"] == 2_416
    assert counts["features.c5.weight"] + counts["features.c5.bias"] == 48_120
    assert counts["classifier.f6.weight"] + counts["classifier.f6.bias"] == 10_164
    assert counts["classifier.output.weight"] + counts["classifier.output.bias"] == 850
    assert isinstance(m.features.act1, ReLU) and isinstance(m.features.s2, MaxPool2d)
    assert isinstance(m.features.c3, Conv2d)
    # the state dict matches the torch network's names and shapes
    th = torch_lenet5()
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in th.state_dict().items()}


def test_parameter_count_classic():
    m = models.lenet5(classic=True)
    assert n_params(m) == 60_806
    f = m.features
    assert all(isinstance(f[i], Tanh) for i in (1, 4, 7)) and isinstance(m.classifier.act6, Tanh)
    assert isinstance(f.s2, AvgPool2d) and isinstance(f.s4, AvgPool2d)
    assert isinstance(f.c3, TableConv2d)
    assert f.c3.weight.shape == (60, 5, 5) and f.c3.connections == 60
    assert f.c3.weight.numel() + f.c3.bias.numel() == 1_516


# LeCun et al. 1998, Table I: the S2 maps (columns 0-5) each C3 map (0-15) is connected to.
PAPER_TABLE = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
               [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
               [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5]]


def test_classic_connection_table_is_the_papers():
    """Each C3 output map depends on exactly the S2 maps of the paper's table: check by perturbing one S2 map
    at a time and looking at which C3 maps change."""
    m = models.lenet5(classic=True).double()
    c3 = m.features.c3
    x = np.random.default_rng(1).standard_normal((1, 6, 14, 14))
    base = c3(ck.tensor(x))._data
    seen = np.zeros((16, 6), bool)
    for i in range(6):
        x2 = x.copy()
        x2[0, i] += 1.0
        changed = np.abs(c3(ck.tensor(x2))._data - base).reshape(16, -1).max(axis=1) > 0
        seen[:, i] = changed
    expected = np.zeros((16, 6), bool)
    for j, ins in enumerate(PAPER_TABLE):
        expected[j, ins] = True
    np.testing.assert_array_equal(seen, expected)
    assert expected.sum() == 60


@pytest.mark.parametrize("classic", [False, True])
@pytest.mark.parametrize("num_classes", [10, 3])
def test_output_shapes_and_finite_gradients(classic, num_classes):
    m = models.lenet5(num_classes=num_classes, classic=classic)
    x = ck.randn(5, 1, 28, 28, requires_grad=True)
    feats = m.features(x)
    assert feats.shape == (5, 120, 1, 1)
    out = m(x)
    assert out.shape == (5, num_classes) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.shape == x.shape and np.all(np.isfinite(x.grad._data))
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.all(np.isfinite(p.grad._data)) and np.any(p.grad._data != 0), name


def test_intermediate_shapes():
    f = models.lenet5().features
    x = ck.randn(2, 1, 28, 28)
    shapes = []
    for layer in f:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5),
                      (120, 1, 1), (120, 1, 1)]


def test_forward_backward_match_torch_float64():
    m = models.lenet5().double()
    th = torch_lenet5().double()
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28))
    check_module(m, th, [x], rtol=1e-8, what="lenet5")


def test_input_size_32_and_rgb_match_torch():
    """32×32 inputs (the paper's frame, or CIFAR-10 with 3 channels) use C1 without padding."""
    m = models.lenet5(num_classes=10, in_channels=3, input_size=32).double()
    assert n_params(m) == 61_706 + 2 * 6 * 25
    th = torch_lenet5(in_channels=3, padding=0).double()
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32))
    check_module(m, th, [x], rtol=1e-8, what="lenet5 32x32x3")


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (2, 3, 28, 28), (1, 28, 28), (2, 1, 28, 27)])
def test_wrong_input_shape_is_a_clear_error(shape):
    m = models.lenet5()
    with pytest.raises(ValueError, match=r"LeNet5: expected input of shape \(N, 1, 28, 28\), got shape"):
        m(ck.zeros(*shape))


def test_non_tensor_input():
    with pytest.raises(TypeError, match="LeNet5: expected a Tensor"):
        models.lenet5()(np.zeros((1, 1, 28, 28), np.float32))


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"num_classes": 0}, ValueError, "lenet5: num_classes must be positive, got 0$"),
    ({"num_classes": 2.5}, TypeError, "lenet5: num_classes must be an int, got 2.5$"),
    ({"in_channels": 0}, ValueError, "lenet5: in_channels must be positive, got 0$"),
    ({"input_size": 30}, ValueError, "input_size must be 28 or 32"),
    ({"input_size": 28.0}, ValueError, "input_size must be 28 or 32"),
])
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        models.lenet5(**kwargs)


def test_registry():
    assert "lenet5" in models.list()
    assert models.list() == sorted(models.list())
    m = models.get("lenet5", num_classes=7)
    assert isinstance(m, models.LeNet5) and m(ck.zeros(1, 1, 28, 28)).shape == (1, 7)
    assert isinstance(models.get("lenet5", classic=True).features.c3, TableConv2d)
    with pytest.raises(ValueError, match=r"models.get: unknown model 'lenet6' \(did you mean 'lenet5'\?\); available: .*lenet5"):
        models.get("lenet6")


def test_same_seed_same_weights():
    ck.manual_seed(3)
    a = models.lenet5().state_dict()
    ck.manual_seed(3)
    b = models.lenet5().state_dict()
    ck.manual_seed(4)
    c = models.lenet5().state_dict()
    assert all(np.array_equal(a[k]._data, b[k]._data) for k in a)
    assert not np.array_equal(a["features.c1.weight"]._data, c["features.c1.weight"]._data)
