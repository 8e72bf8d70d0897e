"""The classic architectures: native-resolution passes, overfitting a tiny batch, layout parity with
hand-written PyTorch references, the paper-only variants (AlexNet's two towers, VGG A-LRN and C),
initialization, options and errors. Layouts against torchvision: test_torchvision_layouts.py.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit import nn
from cnnkit.models.densenet import GrowingConcat, _DenseBlock
from cnnkit.models.googlenet import imagenet_to_unit_range

from . import torch_reference as ref
from .test_torchvision_layouts import recipe

FIXTURE_PATH = os.path.join(os.path.dirname(__file__), "..", "fixtures", "torchvision_state_dicts.json")
with open(FIXTURE_PATH) as _f:
    FIXTURE = {e["id"]: e for e in json.load(_f)["models"]}

ALL_MODELS = ["lenet5", "alexnet", "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
              "vgg16_bn", "vgg19_bn", "googlenet", "inception_v3", "resnet18", "resnet34", "resnet50", "resnet101",
              "resnet152", "densenet121", "densenet161", "densenet169", "densenet201"]


def run_train_and_eval(model, x, num_classes):
    """Training-mode forward + backward (random cotangents on every output), then eval under no_grad."""
    model.train()
    out = model(x)
    outs = list(out) if isinstance(out, tuple) else [out]
    rng = np.random.default_rng(0)
    loss = None
    for o in outs:
        assert o.shape == (x.shape[0], num_classes)
        term = (o * ck.tensor(rng.standard_normal(o.shape).astype(o.dtype))).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert np.isfinite(p.grad._data).all(), f"{name} has a non-finite gradient"
    assert any(np.abs(p.grad._data).sum() > 0 for p in model.parameters())
    model.eval()
    with ck.no_grad():
        y = model(x)
    assert isinstance(y, ck.Tensor) and y.shape == (x.shape[0], num_classes) and not y.requires_grad
    assert np.isfinite(y._data).all()
    return out


# ----- the registry --------------------------------------------------------------------------------------

def test_registry_lists_every_model():
    listed = ck.models.list()
    assert listed == sorted(listed) and set(ALL_MODELS) <= set(listed)
    for name in ALL_MODELS:
        assert getattr(ck.models, name).__name__ == name
    with pytest.raises(ValueError, match=r"models.get: unknown model 'vgg17'"):
        ck.models.get("vgg17")


def test_lenet5_is_unaffected():
    m = ck.models.get("lenet5", num_classes=10)
    assert sum(p.numel() for p in m.parameters()) == 61_706
    assert m(ck.randn(2, 1, 28, 28)).shape == (2, 10)


# ----- every model at its native resolution (a representative subset; the rest run at their smallest size
# in test_torchvision_layouts.py) -----------------------------------------------------------------------

NATIVE = [("alexnet", {}, 224), ("alexnet_original", {"original": True}, 227), ("vgg11", {}, 224),
          ("googlenet", {}, 224), ("inception_v3", {}, 299), ("resnet18", {}, 224), ("resnet50", {}, 224),
          ("densenet121", {}, 224)]


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs,size", NATIVE, ids=[n for n, _, _ in NATIVE])
def test_native_resolution_forward_backward_and_eval(name, kwargs, size):
    model = ck.models.get(name.replace("_original", ""), **kwargs)
    if name == "vgg11":  # torchvision's init: kaiming_normal_(fan_out, relu) convs, N(0, 0.01²) linear, zero biases
        w = model.features[11].weight._data  # 256 → 512, fan_out = 512·9
        assert abs(float(w.std()) / math.sqrt(2.0 / (512 * 9)) - 1) < 0.02
        assert abs(float(model.classifier[3].weight._data.std()) / 0.01 - 1) < 0.02
        assert all(np.all(m.bias._data == 0) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    if name == "densenet121":  # kaiming_normal_ (fan_in): std = √(2 / (128·9)) for a 3×3 conv
        w = model.features.denseblock3.denselayer5.conv2.weight._data
        assert abs(float(w.std()) / math.sqrt(2.0 / (128 * 9)) - 1) < 0.05
        assert np.all(model.classifier.bias._data == 0)
    out = run_train_and_eval(model, ck.randn(2, 3, size, size), 1000)
    if name == "googlenet":
        assert isinstance(out, ck.models.GoogLeNetOutputs)
    if name == "inception_v3":
        assert isinstance(out, ck.models.InceptionOutputs)


# ----- overfitting a tiny batch, one model per family ---------------------------------------------------

OVERFIT = [("alexnet", {"dropout": 0.0}, 64, 1e-4), ("vgg11", {"dropout": 0.0}, 32, 1e-4),
           ("googlenet", {}, 32, 1e-3), ("inception_v3", {"aux_logits": False}, 75, 1e-3),
           ("resnet18", {}, 32, 1e-3), ("densenet121", {}, 32, 1e-3)]


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs,size,lr", OVERFIT, ids=[o[0] for o in OVERFIT])
def test_overfits_a_tiny_batch(name, kwargs, size, lr):
    """Four random images of four classes: Adam drives the training loss down by 90% within 40 steps.
    (Dropout is switched off for AlexNet and VGG, whose only regularizer it is; the layers are the real ones.)"""
    model = ck.models.get(name, num_classes=4, **kwargs)
    x = ck.randn(4, 3, size, size)
    y = ck.tensor(np.arange(4))
    opt = ck.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(40):
        out = model(x)
        if isinstance(out, tuple):  # GoogLeNet's auxiliary classifiers, weighted 0.3 as in the paper
            loss = F.cross_entropy(out[0], y) + 0.3 * (F.cross_entropy(out[1], y) + F.cross_entropy(out[2], y))
        else:
            loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if losses[-1] <= 0.1 * losses[0]:
            break
    assert losses[-1] <= 0.1 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f} after {len(losses)} steps"


# ----- layout parity with hand-written PyTorch references (float64) -------------------------------------

def random_state(entry, seed=0) -> dict:
    """Random float64 weights for a fixture's keys and shapes (the fixture generator's recipe: He-scaled
    conv/linear weights, BN statistics and affine parameters away from their defaults)."""
    return recipe.fixture_weights(entry["state_dict"], seed)


def load_both(ck_model, torch_model, sd):
    ck_model.double()
    ck_model.load_state_dict(sd)
    torch_model.double()
    missing = torch_model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()}, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys


def assert_close(ours, theirs, what):
    """max |ours − theirs| ≤ 1e-8 · max |theirs| (one pass over the 100 M-element VGG gradients)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, what
    scale = float(np.abs(theirs).max()) if theirs.size else 0.0
    err = float(np.abs(ours - theirs).max()) if theirs.size else 0.0
    assert err <= 1e-8 * scale, f"{what}: max error {err:.3e} at scale {scale:.3e}"


def compare_pass(ck_model, torch_model, x, train: bool, backward: bool = True):
    ck_model.train(train)
    torch_model.train(train)
    xc = ck.tensor(x)
    xt = torch.from_numpy(x)
    out_c, out_t = ck_model(xc), torch_model(xt)
    outs_c = list(out_c) if isinstance(out_c, tuple) else [out_c]
    outs_t = list(out_t) if isinstance(out_t, tuple) else [out_t]
    assert len(outs_c) == len(outs_t)
    for i, (oc, ot) in enumerate(zip(outs_c, outs_t)):
        assert_close(oc._data, ot.detach().numpy(), f"output {i}")
    if backward:
        rng = np.random.default_rng(7)
        cots = [rng.standard_normal(o.shape) for o in outs_c]
        sum((o * ck.tensor(c)).sum() for o, c in zip(outs_c, cots)).backward()
        sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs_t, cots)).backward()
        tp = dict(torch_model.named_parameters())
        for name, p in ck_model.named_parameters():
            if p.grad is None:  # unused in this mode (the auxiliary heads in eval)
                assert tp[name].grad is None, name
                continue
            assert_close(p.grad._data, tp[name].grad.numpy(), f"gradient of {name}")
    tsd = torch_model.state_dict()
    for key, v in ck_model.state_dict().items():  # BN running statistics after a training step
        assert_close(v._data, tsd[key].numpy(), f"state {key}")


@pytest.mark.slow
def test_resnet18_matches_a_pytorch_reference_with_torchvisions_keys():
    sd = random_state(FIXTURE["resnet18"])
    ours, theirs = ck.models.resnet18(), ref.ref_resnet18()
    load_both(ours, theirs, sd)
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224))
    compare_pass(ours, theirs, x, train=False)
    compare_pass(ours, theirs, x, train=True)


@pytest.mark.slow
def test_vgg11_matches_a_pytorch_reference_with_torchvisions_keys():
    sd = random_state(FIXTURE["vgg11"])
    ours, theirs = ck.models.vgg11(init_weights=False), ref.ref_vgg11()
    load_both(ours, theirs, sd)
    x = np.random.default_rng(2).standard_normal((2, 3, 112, 112))  # 3×3 maps before the 7×7 pool
    compare_pass(ours, theirs, x, train=False)  # no BN; training mode only adds dropout


@pytest.mark.slow
def test_densenet121_matches_a_naive_concatenation_reference():
    sd = random_state(FIXTURE["densenet121"])
    ours, theirs = ck.models.densenet121(), ref.ref_densenet121()
    load_both(ours, theirs, sd)
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64))  # blocks at 16, 8, 4, 2
    compare_pass(ours, theirs, x, train=False)
    compare_pass(ours, theirs, x, train=True)


@pytest.mark.slow
def test_googlenet_matches_a_pytorch_reference_with_its_auxiliary_heads():
    sd = random_state(FIXTURE["googlenet"])
    ours = ck.models.googlenet(dropout=0.0, dropout_aux=0.0)  # dropout off so the training pass is deterministic
    theirs = ref.RefGoogLeNet(dropout=0.0, dropout_aux=0.0)
    load_both(ours, theirs, sd)
    x = np.random.default_rng(4).standard_normal((2, 3, 96, 96))
    compare_pass(ours, theirs, x, train=False)
    compare_pass(ours, theirs, x, train=True)


# ----- the paper-only variants ----------------------------------------------------------------------------

PAPER_MILLIONS = {"vgg11": 133, "vgg11_lrn": 133, "vgg13": 133, "vgg16_c": 134, "vgg16": 138, "vgg19": 144}


def test_vgg_columns_round_to_the_papers_millions():
    """Table 2 of the paper: A, A-LRN 133, B 133, C 134, D 138, E 144. torchvision's counts come from the
    fixture (test_torchvision_layouts checks that cnnkit's are equal); A-LRN and C are checked below."""
    for name in ("vgg11", "vgg13", "vgg16", "vgg19"):
        assert round(FIXTURE[name]["num_params"] / 1e6) == PAPER_MILLIONS[name]


def _conv_layers(features):
    return [m for m in features if isinstance(m, nn.Conv2d)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11_lrn", "vgg16_c"])
def test_vgg_paper_columns_structure_and_passes(name):
    model = ck.models.get(name, init_weights=False)  # (the initialization is checked on vgg11)
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6) == PAPER_MILLIONS[name]
    convs = _conv_layers(model.features)
    if name == "vgg11_lrn":
        assert count == FIXTURE["vgg11"]["num_params"]  # LRN has no parameters
        assert len(convs) == 8
        lrn = model.features[2]
        assert isinstance(model.features[1], nn.ReLU) and isinstance(lrn, nn.LocalResponseNorm)
        assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 5e-4, 0.75, 2.0)
    else:
        assert len(convs) == 13
        # C = B + one 1×1 conv (256→256) in stage 3 and one (512→512) in stages 4 and 5
        assert count == FIXTURE["vgg13"]["num_params"] + (256 * 256 + 256) + 2 * (512 * 512 + 512)
        kernels = [c.kernel_size for c in convs]
        ones = [i for i, k in enumerate(kernels) if k == (1, 1)]
        assert ones == [6, 9, 12]  # the last layer of stages 3, 4 and 5
        assert all(convs[i].padding == (0, 0) for i in ones)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 5
    run_train_and_eval(model, ck.randn(2, 3, 32, 32), 1000)


@pytest.mark.slow
def test_alexnet_original_is_the_papers_two_tower_network():
    m = ck.models.alexnet(original=True)
    assert isinstance(m, ck.models.AlexNetOriginal)
    assert sum(p.numel() for p in m.parameters()) == 60_965_224
    f = m.features
    assert [f.conv1.out_channels, f.conv2.out_channels, f.conv3.out_channels, f.conv4.out_channels,
            f.conv5.out_channels] == [96, 256, 384, 384, 256]
    # the towers talk only in conv3 (and the fully connected layers)
    assert [f.conv1.groups, f.conv2.groups, f.conv3.groups, f.conv4.groups, f.conv5.groups] == [1, 2, 1, 2, 2]
    assert f.conv2.weight.shape == (256, 48, 5, 5) and f.conv4.weight.shape == (384, 192, 3, 3)
    assert (f.conv1.kernel_size, f.conv1.stride, f.conv1.padding) == ((11, 11), (4, 4), (0, 0))
    for norm in (f.norm1, f.norm2):
        assert (norm.size, norm.alpha / norm.size, norm.beta, norm.k) == (5, 1e-4, 0.75, 2.0)
    for pool in (f.pool1, f.pool2, f.pool5):  # overlapping pooling: 3×3 windows, stride 2
        assert (pool.kernel_size, pool.stride) == (3, 2)
    assert [type(c).__name__ for c in m.classifier] == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                                       "Dropout", "Linear"]
    assert m.classifier.drop6.p == 0.5 and m.classifier.drop7.p == 0.5
    # 227 gives the paper's 55 → 27 → 13 → 6 maps (the adaptive pool is then the identity)
    with ck.no_grad():
        m.eval()
        assert m.features(ck.zeros(1, 3, 227, 227)).shape == (1, 256, 6, 6)
        assert m.features.pool1(m.features.norm1(m.features.conv1(ck.zeros(1, 3, 227, 227)))).shape == (1, 96, 27, 27)
    with pytest.raises(ValueError, match=r"AlexNet\(original=True\).*at least 67"):
        m(ck.zeros(1, 3, 66, 66))


@pytest.mark.slow
def test_alexnet_original_paper_init():
    m = ck.models.alexnet(num_classes=10, original=True, paper_init=True)
    f, c = m.features, m.classifier
    for layer, bias in ((f.conv1, 0), (f.conv2, 1), (f.conv3, 0), (f.conv4, 1), (f.conv5, 1), (c.fc6, 1),
                        (c.fc7, 1), (c.fc8, 0)):
        assert np.all(layer.bias._data == bias)
    assert abs(float(c.fc6.weight._data.std()) - 0.01) < 1e-4 and abs(float(c.fc6.weight._data.mean())) < 1e-4
    with pytest.raises(TypeError, match=r"alexnet: unexpected arguments \['paper_init'\]"):
        ck.models.alexnet(paper_init=True)


# ----- options, initialization and the building blocks ---------------------------------------------------

@pytest.mark.slow
def test_googlenet_defaults_follow_the_paper():
    m = ck.models.googlenet(aux_logits=False, num_classes=10)
    assert m.dropout.p == 0.4 and m.aux1 is None and m.aux2 is None and not m.transform_input
    assert sum(p.numel() for p in m.parameters()) == 6_624_904 - 1_025_000 + 10_250
    m = ck.models.googlenet(num_classes=10)
    assert m.aux1.dropout.p == 0.7 and m.aux2.dropout.p == 0.7
    # init_weights: N(0, 0.01²) truncated at ±2 for convolutions and linear layers
    w = m.inception4e.branch2[1].conv.weight._data
    assert abs(float(w.std()) - 0.01) < 5e-4


def test_googlenet_transform_input():
    x = ck.randn(2, 3, 32, 32, dtype=ck.float64)
    t = imagenet_to_unit_range(x)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = x._data * (std / 0.5)[None, :, None, None] + ((mean - 0.5) / 0.5)[None, :, None, None]
    np.testing.assert_allclose(t._data, expected, rtol=1e-15)
    assert imagenet_to_unit_range(ck.randn(1, 3, 4, 4)).dtype == ck.float32
    a = ck.models.googlenet(num_classes=5, aux_logits=False, transform_input=True).double().eval()
    b = ck.models.googlenet(num_classes=5, aux_logits=False).double().eval()
    b.load_state_dict(a.state_dict())
    with ck.no_grad():
        np.testing.assert_allclose(a(x)._data, b(t)._data, rtol=1e-12)


@pytest.mark.slow
def test_inception_v3_auxiliary_head_needs_299_in_training_only():
    m = ck.models.inception_v3(num_classes=10)
    assert isinstance(m.AuxLogits, nn.Module) and m.dropout.p == 0.5
    m.eval()
    with ck.no_grad():
        assert m(ck.zeros(1, 3, 75, 75)).shape == (1, 10)
    m.train()
    with pytest.raises(ValueError, match=r"Inception3 \(training with aux_logits\).*at least 299"):
        m(ck.zeros(2, 3, 298, 298))


@pytest.mark.slow
def test_resnet_initialization_and_zero_init_residual():
    m = ck.models.resnet50()
    w = m.layer3[1].conv2.weight._data  # kaiming_normal_(fan_out, relu): std = √(2 / (256·9))
    assert abs(float(w.std()) / math.sqrt(2.0 / (256 * 9)) - 1) < 0.02
    assert m.layer2[0].conv2.stride == (2, 2) and m.layer2[0].conv1.stride == (1, 1)  # v1.5
    assert np.all(m.layer1[0].bn3.weight._data == 1)
    z = ck.models.resnet50(zero_init_residual=True)
    assert all(np.all(b.bn3.weight._data == 0) for layer in (z.layer1, z.layer2, z.layer3, z.layer4) for b in layer)
    z18 = ck.models.resnet18(zero_init_residual=True, num_classes=10)
    assert all(np.all(b.bn2.weight._data == 0) for b in z18.layer1)
    # every residual branch starts at zero, so each block is relu(identity or projection)
    z18.eval()
    with ck.no_grad():
        x = z18.maxpool(z18.relu(z18.bn1(z18.conv1(ck.randn(1, 3, 32, 32)))))
        np.testing.assert_array_equal(z18.layer1[0](x)._data, x._data)  # x ≥ 0 after the stem's ReLU


def test_dense_block_concatenates_into_one_buffer_and_differentiates():
    block = _DenseBlock(num_layers=3, num_input_features=4, bn_size=2, growth_rate=3, drop_rate=0.0).double()
    seen = []
    for layer in block.values():
        layer.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    x = ck.randn(2, 4, 5, 5, dtype=ck.float64, requires_grad=True)
    y = block(x)
    assert y.shape == (2, 4 + 3 * 3, 5, 5)
    np.testing.assert_array_equal(y._data[:, :4], x._data)
    assert [s.shape[1] for s in seen] == [4, 7, 10]
    assert all(np.shares_memory(s._data, y._data) for s in seen)  # views of one buffer, no re-copies

    def naive(inp):
        feats = [inp]
        for layer in block.values():
            feats.append(layer(ck.cat(feats, 1)))
        return ck.cat(feats, 1)

    with ck.no_grad():
        np.testing.assert_array_equal(naive(x)._data, y._data)
    assert ck.autograd.gradcheck(lambda inp: block(inp), [x])
    a, b = ck.randn(1, 2, 2, 2, requires_grad=True), ck.randn(1, 3, 2, 2, requires_grad=True)
    buf = np.empty((1, 5, 2, 2), np.float32)
    GrowingConcat(buf)(a)
    out = GrowingConcat(buf)(a, b)
    (out * ck.arange(20, dtype=ck.float32).reshape(1, 5, 2, 2)).sum().backward()
    np.testing.assert_array_equal(b.grad._data, np.arange(8, 20, dtype=np.float32).reshape(1, 3, 2, 2))
    np.testing.assert_array_equal(a.grad._data, np.arange(0, 8, dtype=np.float32).reshape(1, 2, 2, 2))


# ----- errors at the boundary -------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,who", [("resnet18", "resnet18"), ("googlenet", "GoogLeNet"),
                                      ("densenet121", "densenet121"), ("alexnet", "AlexNet")])
def test_models_reject_bad_inputs_by_name(name, who):
    m = ck.models.get(name, num_classes=3)
    with pytest.raises(ValueError, match=rf"{who}: expected input of shape \(N, 3, H, W\).*got shape \(2, 1, 64, 64\)"):
        m(ck.zeros(2, 1, 64, 64))
    with pytest.raises(ValueError, match=rf"{who}: expected input of shape.*got shape \(3, 64, 64\)"):
        m(ck.zeros(3, 64, 64))
    with pytest.raises(TypeError, match=rf"{who}: expected a Tensor, got ndarray"):
        m(np.zeros((1, 3, 64, 64), np.float32))
