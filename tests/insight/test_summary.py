"""ck.insight.summary: parameters, multiply-adds, receptive fields and the table.

Receptive fields are checked two ways: against published values (VGG-16: 196 at conv5_3, 212 after the
last max pool) and, for branched networks, by brute force: the support of the gradient of one output pixel
with respect to the input (all weights positive, average pooling, positive input) is the region of the
input that influences it; its extent is the receptive field and its shift between neighbouring output
pixels the jump.
"""
import io
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn as nn
import cnnkit.nn.functional as F
from cnnkit.cli import main
from cnnkit.insight import default_input_size, summary

# ----- networks built here from cnnkit.nn layers ---------------------------------------------------------------

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_features(lib) -> "nn.Module":
    """VGG-16's convolutional part (column D of the paper's Table 1) in cnnkit.nn or torch.nn, written out
    here independently of cnnkit.models."""
    layers, c = [], 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(lib.MaxPool2d(2, 2))
        else:
            layers += [lib.Conv2d(c, v, 3, padding=1), lib.ReLU()]
            c = v
    return lib.Sequential(*layers)


class Inceptionish(nn.Module):
    """Branches of different receptive fields (3×3, 1×7 then 7×1, 5×5 dilated by 2, avg pool) joined by cat."""

    def __init__(self, c=2):
        super().__init__()
        self.stem = nn.Conv2d(c, 4, 3, stride=2, padding=1)
        self.b1 = nn.Conv2d(4, 3, 3, padding=1)
        self.b2 = nn.Sequential(nn.Conv2d(4, 3, (1, 7), padding=(0, 3)), nn.Conv2d(3, 3, (7, 1), padding=(3, 0)))
        self.b3 = nn.Conv2d(4, 3, 5, padding=4, dilation=2)
        self.pool = nn.AvgPool2d(3, 2, padding=1)
        self.head = nn.Conv2d(13, 2, 3, padding=1)

    def forward(self, x):
        x = self.stem(x)
        x = ck.cat([self.b1(x), self.b2(x), self.b3(x), F.avg_pool2d(x, 3, 1, 1)], 1)
        return self.head(self.pool(x))


class Residualish(nn.Module):
    """A ResNet basic block with a strided 1×1 projection shortcut, and a shared ReLU called twice."""

    def __init__(self, c=2):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 4, 3, stride=2, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.downsample = nn.Conv2d(c, 4, 1, stride=2)
        self.after = nn.Conv2d(4, 2, 5, padding=2)

    def forward(self, x):
        out = self.conv2(self.relu(self.conv1(x)))
        out = self.relu(out + self.downsample(x))
        return self.after(out)


class Functional(nn.Module):
    """Convolutions and pooling called as functions inside forward, then flatten and a linear map."""

    def __init__(self, head=True):
        super().__init__()
        self.head = head
        self.w = nn.Parameter(np.full((3, 2, 3, 3), 0.1, np.float32))
        self.inner = nn.Conv2d(3, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 4 * 4, 5)

    def forward(self, x):
        y = F.conv2d(x, self.w, stride=1, padding=1)                 # r 3, j 1
        y = F.lp_pool2d(y, 2, 2)                                     # r 4, j 2
        y = self.inner(y) + y                                        # r 8, j 2
        y = F.avg_pool2d(y, 2)                                       # r 10, j 4
        if not self.head:
            return y
        return self.fc(ck.flatten(y, 1))                             # whole 4×4 map: r 10 + 3·4 = 22


def positive(model: nn.Module) -> nn.Module:
    """Every parameter positive, so no two paths cancel in the brute-force gradients."""
    for p in model.parameters():
        p._data[...] = 0.05 + 0.1 * np.random.rand(*p.shape)
    return model


def brute_force_field(model, shape, pixel=None):
    """(receptive field, jump) per axis of the model's output, from the gradient support of output pixels."""
    x = ck.ones(*shape, dtype=ck.float64, requires_grad=True)
    model.double().eval()
    out = model(x)
    oh, ow = out.shape[-2:]
    i, j = pixel or (oh // 2, ow // 2)

    def support(a, b):
        x.grad = None
        model(x)[0, 0, a, b].backward()
        g = np.abs(x.grad.numpy()).sum(axis=(0, 1))
        rows, cols = np.nonzero(g.sum(axis=1))[0], np.nonzero(g.sum(axis=0))[0]
        assert rows[0] > 0 and cols[0] > 0 and rows[-1] < shape[2] - 1 and cols[-1] < shape[3] - 1, \
            "the receptive field reaches the border: use a larger input"
        return rows[0], rows[-1], cols[0], cols[-1]

    r0, r1, c0, c1 = support(i, j)
    down, right = support(i + 1, j), support(i, j + 1)
    return (r1 - r0 + 1, c1 - c0 + 1), (down[0] - r0, right[2] - c0)


def conv_macs(model, x_shape):
    """Σ over the Conv2d/Linear modules of the textbook count, from the shapes of a plain forward pass."""
    total = []

    def hook(m, args, out):
        if isinstance(m, nn.Conv2d):
            total.append(out.numel() * m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3])
        elif isinstance(m, nn.Linear):
            total.append(out.numel() * m.weight.shape[1])

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with ck.no_grad():
        model(ck.zeros(*x_shape, dtype=next(model.parameters()).dtype))
    for h in handles:
        h.remove()
    return sum(total)


# ----- published numbers ----------------------------------------------------------------------------------------

def test_lenet5_macs_parameters_and_fields_exact():
    model = ck.models.lenet5()
    s = summary(model, (1, 28, 28))
    assert s.total_macs == 416_520                      # performance.md's reference (torchvision convention)
    assert s.total_params == s.trainable_params == sum(p.numel() for p in model.parameters()) == 61_706
    assert sum(r.params for r in s.rows) == s.total_params
    assert s["features.c1"].macs == 6 * 28 * 28 * 25 and s["features.c1"].params == 156
    assert s["features.c1"].output_shape == (1, 6, 28, 28)
    assert s["features.c1"].input_shape == (1, 1, 28, 28)
    # r: 5 (c1), 6 (s2, j 2), 6 + 4·2 = 14 (c3), 16 (s4, j 4), 16 + 4·4 = 32 (c5)
    assert [(s[n].receptive_field, s[n].jump) for n in ("features.c1", "features.s2", "features.c3",
                                                         "features.s4", "features.c5")] == \
        [((5, 5), (1, 1)), ((6, 6), (2, 2)), ((14, 14), (2, 2)), ((16, 16), (4, 4)), ((32, 32), (4, 4))]
    assert s["classifier.output"].output_shape == (1, 10)
    text = str(s)
    for piece in ("features.c3 (Conv2d)", "[1, 16, 10, 10]", "2,416", "240,000", "Total params: 61,706",
                  "Total MACs: 416.52 K (416,520", "Trainable params: 61,706"):
        assert piece in text


def test_classic_lenet5_counts_only_the_connected_kernels():
    s = summary(ck.models.lenet5(classic=True), (1, 28, 28))
    c3 = s["features.c3"]
    assert c3.type == "TableConv2d"
    assert c3.macs == 10 * 10 * 60 * 25 and c3.params == 60 * 25 + 16
    assert s.total_macs == 416_520 - 16 * 10 * 10 * 6 * 25 + c3.macs
    assert s.total_params == 60_806


def test_vgg16_receptive_fields_and_macs_against_torch():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = vgg16_features(nn)
    s = summary(model, (3, 64, 64))        # the receptive fields do not depend on the input size
    assert s["28"].type == "Conv2d" and s["28"].receptive_field == (196, 196)        # conv5_3
    assert s["30"].type == "MaxPool2d" and s["30"].receptive_field == (212, 212)     # after the last max pool
    assert s["30"].jump == (32, 32) and s["30"].output_shape == (1, 512, 2, 2)
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 14_714_688
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        vgg16_features(torch.nn)(torch.zeros(1, 3, 64, 64))
    assert 2 * s.total_macs == counter.get_total_flops()    # torch counts a multiply-add as 2 FLOPs
    assert s.param_bytes == 4 * 14_714_688 and s.input_bytes == 4 * 3 * 64 * 64
    # activations: the distinct outputs of the leaf layers
    assert s.activation_bytes == 4 * sum(int(np.prod(r.output_shape)) for r in s.rows if r.leaf)


def test_per_layer_macs_against_torch_flop_counter():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    def build(lib):
        return lib.Sequential(lib.Conv2d(4, 6, 3, groups=2), lib.ConvTranspose2d(6, 4, 3, stride=2, groups=2),
                              lib.Conv2d(4, 8, (3, 2), stride=2, dilation=(2, 1), padding=1, bias=False),
                              lib.ReLU(), lib.Flatten(), lib.Linear(8 * 11 * 11, 5), lib.Linear(5, 3, bias=False))

    s = summary(build(nn), (4, 13, 12), batch_size=3)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        build(torch.nn)(torch.zeros(3, 4, 13, 12))
    flops = {name.split(".", 1)[1]: sum(c.values()) for name, c in counter.get_flop_counts().items()
             if name.startswith("Sequential.")}
    assert {r.name: 2 * r.macs for r in s.rows if r.macs} == flops
    assert 2 * s.total_macs == counter.get_total_flops()


# ----- branched networks: brute force ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, shape", [(Inceptionish, (1, 2, 64, 56)), (Residualish, (1, 2, 33, 33))])
def test_branched_receptive_field_equals_gradient_support(make, shape):
    model = positive(make()).double()
    s = summary(model, shape[1:], dtype=ck.float64)
    assert s.total_macs == conv_macs(model, shape)
    rf, jump = brute_force_field(model, shape)
    assert s[""].receptive_field == rf
    assert s[""].jump == jump


def test_inception_branches_have_their_own_fields():
    s = summary(Inceptionish(), (2, 48, 40))
    assert s["stem"].receptive_field == (3, 3) and s["stem"].jump == (2, 2)
    assert s["b1"].receptive_field == (7, 7)
    assert s["b2.0"].receptive_field == (3, 15) and s["b2.1"].receptive_field == (15, 15)
    assert s["b3"].receptive_field == (19, 19)                 # 3 + (5 − 1)·2·2
    assert s["pool"].receptive_field == (23, 23) and s["pool"].jump == (4, 4)   # the widest branch: 19 + 2·2
    assert s["head"].receptive_field == (31, 31)


def test_functional_ops_inside_forward_are_followed_and_counted():
    model = positive(Functional()).double()
    s = summary(model, (2, 16, 16), dtype=ck.float64)
    assert s[""].receptive_field == (22, 22)
    assert s["inner"].receptive_field == (8, 8) and s["inner"].jump == (2, 2)
    f_conv = 3 * 16 * 16 * 2 * 9
    assert s[""].macs == f_conv                                 # the F.conv2d called by the model's forward
    assert s["inner"].macs == 3 * 8 * 8 * 3 * 9 and s["fc"].macs == 5 * 48
    assert s.total_macs == f_conv + s["inner"].macs + s["fc"].macs
    assert s[""].params == 54 and s.total_params == 54 + 84 + 245
    headless = Functional(head=False).double()
    headless.load_state_dict(model.state_dict())
    assert summary(headless, (2, 40, 40), dtype=ck.float64)[""].receptive_field == (10, 10)
    assert brute_force_field(headless, (1, 2, 40, 40)) == ((10, 10), (4, 4))


def test_functional_pooling_windows():
    class Pools(nn.Module):
        def forward(self, x):
            x = F.max_pool2d(x, 3, stride=2, dilation=2)              # r 5, j 2
            x = F.avg_pool2d(x, (1, 3), stride=(1, 2))                # r (5, 9), j (2, 4)
            return F.adaptive_avg_pool2d(x, 1)                        # global: the whole (h, w) map

    s = summary(Pools(), (1, 21, 25))
    # the map before the global pool is 9 × 5: r = (5 + 8·2, 9 + 4·4)
    assert s[""].receptive_field == (21, 25) and s[""].jump == (18, 20) and s[""].macs == 0


def test_transposed_convolution_counts_and_field():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2))
    s = summary(model, (2, 9, 9))
    assert s["0"].output_shape == (1, 4, 5, 5)
    assert s["1"].macs == 4 * 5 * 5 * 3 * 9                     # every input pixel spreads a (6/2)·3·3 kernel
    # an output pixel of the transposed conv sees ⌈3/2⌉ = 2 of its input pixels: r = 3 + (2 − 1)·2, j = 2/2
    assert s["1"].receptive_field == (5, 5) and s["1"].jump == (1, 1)


def test_adaptive_and_global_pooling_fields():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d((5, 1)), nn.Flatten(), nn.Linear(10, 3))
    s = summary(model, (1, 12, 12))
    # 10 × 10 map -> (5, 1): windows of 2 rows / 10 columns, stride 2 / 10
    assert s["1"].receptive_field == (4, 12) and s["1"].jump == (2, 10)
    assert s["3"].receptive_field == (12, 12)                   # fully connected over the 5×1 map: 4 + 4·2
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveMaxPool2d(3))    # 10 -> 3: windows 4, 4, 4; stride 10/3
    s = summary(model, (1, 12, 12))
    assert s["1"].receptive_field == (6, 6) and float(s["1"].jump[0]) == pytest.approx(10 / 3)
    assert "3.333" in str(s)


# ----- the architectures of cnnkit.models: published figures ------------------------------------------------

#: name -> (input size, published multiply-adds: the papers' FLOPs for ResNet-18/34, torchvision's "GFLOPS"
#: (which are multiply-adds) for the others)
PUBLISHED = {
    "alexnet": ((3, 224, 224), 0.71e9),
    "vgg16": ((3, 224, 224), 15.5e9),
    "googlenet": ((3, 224, 224), 1.5e9),
    "resnet18": ((3, 224, 224), 1.8e9),
    "resnet34": ((3, 224, 224), 3.6e9),
    "resnet50": ((3, 224, 224), 4.1e9),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_models_macs_match_the_published_figures(name):
    size, macs = PUBLISHED[name]
    model = ck.models.get(name)
    s = summary(model, size)
    assert abs(s.total_macs / macs - 1) < 0.03, f"{name}: {s.total_macs:,} MACs, published {macs:,.0f}"
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.total_params == sum(r.params for r in s.rows) + s.unused_params
    if name == "vgg16":
        assert s["features.28"].receptive_field == (196, 196) and s["features.30"].receptive_field == (212, 212)


# ----- rows, nesting, sharing -----------------------------------------------------------------------------------

def test_depth_folds_deeper_rows_into_their_ancestor():
    model = ck.models.lenet5()
    full = summary(model, (1, 28, 28), depth=None)
    for depth, expected in ((0, [""]), (1, ["", "features", "classifier"])):
        s = summary(model, (1, 28, 28), depth=depth)
        assert [r.name for r in s.rows] == expected
        assert sum(r.params for r in s.rows) == s.total_params == 61_706
        assert sum(r.macs for r in s.rows) == s.total_macs == 416_520
    assert summary(model, (1, 28, 28), depth=1)["features"].macs == sum(
        r.macs for r in full.rows if r.name.startswith("features."))
    with pytest.raises(KeyError, match="no row named 'features.c1'"):
        summary(model, (1, 28, 28), depth=1)["features.c1"]
    assert len(full) == 15 and [r.depth for r in full][:3] == [0, 1, 2]


def test_shared_modules_are_rows_per_call_with_parameters_once():
    model = Residualish()
    s = summary(model, (2, 16, 16))
    assert [r.name for r in s.rows].count("relu") == 2
    conv = nn.Conv2d(2, 2, 3, padding=1)
    twice = nn.Sequential(conv, nn.ReLU(), conv)
    s = summary(twice, (2, 8, 8))
    assert [r.params for r in s.rows if r.name == "0"] == [conv.weight.numel() + 2, 0]
    assert s.total_params == 38 and sum(r.params for r in s.rows) == 38
    assert s.total_macs == 2 * 2 * 64 * 2 * 9
    assert [r.receptive_field for r in s.rows if r.name == "0"] == [(3, 3), (5, 5)]


def test_modules_not_called_are_reported_and_counted_in_the_total():
    class WithAux(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Conv2d(1, 2, 3)
            self.aux = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))

        def forward(self, x):
            y = self.body(x)
            return (y, self.aux(y)) if self.training else y

    model = WithAux()
    s = summary(model, (1, 4, 4))
    assert s.total_params == 20 + 27 and s.unused_params == 27
    assert sum(r.params for r in s.rows) == 20
    assert "Params in modules forward did not call: 27 (aux)" in str(s) and s.unused_names == ["aux"]
    assert model.training                                     # restored


def test_batch_size_and_dtype():
    model = ck.models.lenet5()
    s = summary(model, (1, 28, 28), batch_size=4)
    assert s.total_macs == 4 * 416_520 and s["features.c1"].output_shape == (4, 6, 28, 28)
    assert s.input_size == (4, 1, 28, 28) and s.input_bytes == 4 * 784 * 4
    s = summary(model.double(), (1, 28, 28), dtype=ck.float64)
    assert s.param_bytes == 8 * 61_706 and "float64" in str(s)


def test_model_state_is_restored_and_untouched():
    model = ck.models.lenet5()
    model.train()
    model.classifier.eval()
    model.features.c1.weight.requires_grad_(False)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with ck.no_grad():                                     # works inside no_grad too
        s = summary(model, (1, 28, 28))
    assert s.trainable_params == 61_706 - 150 and s.total_params == 61_706
    assert model.training and model.features.training and not model.classifier.training
    assert not model.classifier.f6.training
    assert not model.features.c1.weight.requires_grad and model.features.c3.weight.requires_grad
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    assert ck.is_grad_enabled()


def test_a_single_layer_and_a_non_spatial_input():
    s = summary(nn.Conv2d(3, 8, 5, stride=2), (3, 11, 11))
    assert [r.name for r in s.rows] == [""] and s[""].macs == 8 * 4 * 4 * 75 and s[""].params == 608
    assert s[""].receptive_field == (5, 5) and s[""].jump == (2, 2)
    s = summary(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2)), (6,))
    assert s.total_macs == 6 * 4 + 4 * 2 and s["0"].receptive_field is None
    assert "--" in str(s)


# ----- errors -----------------------------------------------------------------------------------------------------

def test_errors_name_summary_and_what_was_expected():
    model = ck.models.lenet5()
    with pytest.raises(TypeError, match="summary: expected a cnnkit Module, got str"):
        summary("lenet5", (1, 28, 28))
    with pytest.raises(TypeError, match=r"summary: expected input_size to be a tuple of ints .*got '1,28,28'"):
        summary(model, "1,28,28")
    with pytest.raises(ValueError, match=r"summary: expected input_size to hold positive ints, got \(1, 0, 28\)"):
        summary(model, (1, 0, 28))
    with pytest.raises(ValueError, match="summary: expected batch_size to be a positive int, got 0"):
        summary(model, (1, 28, 28), batch_size=0)
    with pytest.raises(ValueError, match="summary: expected depth to be a non-negative int or None, got -1"):
        summary(model, (1, 28, 28), depth=-1)
    with pytest.raises(TypeError, match="summary: expected a floating point dtype"):
        summary(model, (1, 28, 28), dtype=ck.int64)
    with pytest.raises(ValueError, match=r"summary: running LeNet5 on an input of shape \(1, 1, 32, 32\) failed: "
                                         r"LeNet5: expected input .*\(N, 1, 28, 28\)"):
        summary(model, (1, 32, 32))
    assert all(not m._forward_hooks for m in model.modules()) and model.training


def test_default_input_size():
    assert default_input_size(ck.models.lenet5()) == (1, 28, 28)
    assert default_input_size(ck.models.lenet5(in_channels=3)) == (3, 28, 28)
    assert default_input_size(ck.models.get("resnet18")) == (3, 224, 224)        # its native_size
    with pytest.raises(ValueError, match="summary: Sequential has no native input size"):
        default_input_size(nn.Sequential(nn.Conv2d(3, 4, 3)))


# ----- the command ------------------------------------------------------------------------------------------------

def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def test_cli_summary():
    code, out, _ = run_cli("summary", "lenet5")
    assert code == 0
    assert "features.c5 (Conv2d)" in out and "Total MACs: 416.52 K (416,520" in out
    code, out, _ = run_cli("summary", "lenet5", "--input", "3,28,28", "--num-classes", "7", "--depth", "1")
    assert code == 0 and "features (Sequential)" in out and "features.c1" not in out
    assert f"Total params: {61_706 + 2 * 150 - 3 * 85:,}" in out and "[1, 7]" in out
    code, _, err = run_cli("summary", "lenet5", "--input", "1,32,32")
    assert code == 1 and "cnnkit summary: error: summary: running LeNet5" in err
    code, _, err = run_cli("summary", "no_such_model")
    assert code == 1 and "unknown model 'no_such_model'" in err
    code, _, err = run_cli("summary", "lenet5", "--input", "3,x")
    assert code == 2 and "expected positive integers separated by commas" in err
