"""Conv2d + ReLU fused by Sequential when no gradient is recorded (cnnkit/nn/fusion.py, ops.conv.conv2d_relu).

The fused op must give the values of the two modules called one after the other (bit for bit: the ReLU is
applied to the same convolution output), on oneDNN (a post-op) and on the NumPy kernels (in place); it must keep
PyTorch's NaN (oneDNN's post-op maps NaN to 0), and it must not happen where it could be observed (hooks,
subclasses, a recorded gradient)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.kernels import onednn as backend
from cnnkit.ops import activation

BACKENDS = [False, pytest.param(True, marks=pytest.mark.skipif(not backend.available(), reason="oneDNN not loaded"))]


def _net(bias=True, groups=1, c=8):
    ck.manual_seed(0)
    return ck.nn.Sequential(ck.nn.Conv2d(c, 16, 3, padding=1, bias=bias, groups=groups), ck.nn.ReLU(),
                            ck.nn.Conv2d(16, 16, 3, stride=2, bias=bias), ck.nn.ReLU(inplace=True),
                            ck.nn.MaxPool2d(2), ck.nn.Conv2d(16, 4, 1), ck.nn.ReLU())


def _x(shape=(2, 8, 12, 12), channels_last=False, seed=1):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if channels_last:
        a = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return ck.from_numpy(a)


def _unfused(net, x):
    """The modules called one by one (no fusion can happen)."""
    with ck.no_grad():
        for m in net:
            x = m(x)
    return x.numpy()


@pytest.fixture
def relu_calls(monkeypatch):
    """How many times the ReLU op runs (a fused pair runs none)."""
    calls = []
    forward = activation.ReLU.forward

    def counted(self, x):
        calls.append(x.shape)
        return forward(self, x)
    monkeypatch.setattr(activation.ReLU, "forward", counted)
    return calls


@pytest.mark.parametrize("onednn", BACKENDS)
@pytest.mark.parametrize("bias,groups,channels_last,dtype", [
    (True, 1, False, np.float32), (False, 1, True, np.float32), (True, 2, True, np.float32),
    (True, 1, False, np.float64)])
def test_fused_equals_the_modules_called_in_turn(onednn, bias, groups, channels_last, dtype, relu_calls):
    net = _net(bias, groups).to(dtype)
    x = ck.from_numpy(_x(channels_last=channels_last).numpy().astype(dtype))
    with backend.enabled_for(onednn):
        want = _unfused(net, x)
        relu_calls.clear()
        with ck.no_grad():
            got = net(x).numpy()
    assert relu_calls == []                       # all three pairs fused
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("onednn", BACKENDS)
def test_fused_matches_torch(onednn):
    net = _net()
    t = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, stride=2),
                            torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(16, 4, 1), torch.nn.ReLU()).double()
    t.load_state_dict({k: torch.from_numpy(v.numpy().astype(np.float64)) for k, v in net.state_dict().items()})
    x = _x()
    with backend.enabled_for(onednn), ck.no_grad():
        got = net(x).numpy()
    want = t(torch.from_numpy(x.numpy().astype(np.float64))).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)    # float32 against a float64 reference


@pytest.mark.parametrize("onednn", BACKENDS)
@pytest.mark.parametrize("where", ["input", "weight", "bias"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_as_in_pytorch(onednn, where, value):
    """oneDNN's ReLU post-op maps NaN to 0; the fused op must keep PyTorch's NaN (and ±inf's results)."""
    net = _net()
    x = _x()
    if where == "input":
        x.numpy()[0, 0, 3, 4] = value
    else:
        with ck.no_grad():
            getattr(net[0], where)[0] = value          # an in-place write: the kept finiteness is forgotten
    t = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, stride=2),
                            torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(16, 4, 1), torch.nn.ReLU()).double()
    t.load_state_dict({k: torch.from_numpy(v.numpy().astype(np.float64)) for k, v in net.state_dict().items()})
    with backend.enabled_for(onednn), ck.no_grad():
        got = net(x).numpy()
    want = t(torch.from_numpy(x.numpy().astype(np.float64))).detach().numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(want).any() or value == -np.inf or where == "bias"
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not backend.available(), reason="oneDNN not loaded")
def test_a_weight_made_nan_after_a_finite_call_gives_nan():
    """The weight's finiteness is kept between calls; a write through cnnkit forgets it."""
    net = _net()
    x = _x()
    with ck.no_grad():
        assert np.isfinite(net(x).numpy()).all()
        net[0].weight.fill_(float("nan"))
        assert np.isnan(net(x).numpy()).all()
        net.load_state_dict(_net().state_dict())
        assert np.isfinite(net(x).numpy()).all()


def test_no_fusion_where_it_could_be_seen(relu_calls):
    net = _net()
    x = _x()
    seen = []
    handle = net[1].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    with ck.no_grad():
        net(x)
    assert seen == [(2, 16, 12, 12)] and len(relu_calls) == 1          # the hooked pair only
    handle.remove()
    relu_calls.clear()

    class Custom(ck.nn.ReLU):
        pass
    net[3] = Custom()
    with ck.no_grad():
        net(x)
    assert len(relu_calls) == 1
    relu_calls.clear()
    out = net(x)                                  # a gradient is recorded: every ReLU runs as its own op
    assert len(relu_calls) == 3 and out.requires_grad


@pytest.mark.parametrize("onednn", BACKENDS)
def test_training_is_unchanged(onednn):
    """With a graph recorded the pair is not fused: gradients as the modules called in turn."""
    net = _net()
    x = _x()
    with backend.enabled_for(onednn):
        net(x).sum().backward()
        fused_path = [p.grad.numpy().copy() for p in net.parameters()]
        net.zero_grad()
        y = x
        for m in net:
            y = m(y)
        y.sum().backward()
    for a, p in zip(fused_path, net.parameters()):
        np.testing.assert_array_equal(a, p.grad.numpy())


@pytest.mark.parametrize("onednn", BACKENDS)
def test_conv2d_relu_records_the_two_ops_when_a_gradient_is_needed(onednn):
    from cnnkit.ops.conv import conv2d_relu
    rng = np.random.default_rng(0)
    x = ck.tensor(rng.standard_normal((2, 3, 7, 7)).astype(np.float32), requires_grad=True)
    w = ck.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    with backend.enabled_for(onednn):
        y = conv2d_relu(x, w, None, 1, 1)
        y.sum().backward()
        gx, gw = x.grad.numpy().copy(), w.grad.numpy().copy()
        x.grad = w.grad = None
        F.relu(F.conv2d(x, w, padding=1)).sum().backward()
    np.testing.assert_array_equal(gx, x.grad.numpy())
    np.testing.assert_array_equal(gw, w.grad.numpy())
    with ck.no_grad():
        assert conv2d_relu(x[0], w, None, 1, 1).shape == (4, 7, 7)       # unbatched input, as conv2d


def test_errors_name_the_convolution():
    net = ck.nn.Sequential(ck.nn.Conv2d(3, 4, 3), ck.nn.ReLU())
    with ck.no_grad(), pytest.raises(ValueError, match="Conv2d"):
        net(ck.zeros(1, 5, 8, 8))


# ----- Conv2d → BatchNorm2d (eval) [→ ReLU], folded into one convolution ------------------------------------

def _bn_net(affine=True, conv_bias=False, dtype=np.float32):
    ck.manual_seed(0)
    net = ck.nn.Sequential(ck.nn.Conv2d(3, 8, 3, padding=1, bias=conv_bias), ck.nn.BatchNorm2d(8, affine=affine),
                           ck.nn.ReLU(), ck.nn.Conv2d(8, 8, 3, stride=2, bias=conv_bias), ck.nn.BatchNorm2d(8))
    rng = np.random.default_rng(3)
    for bn in (net[1], net[4]):
        bn.running_mean.numpy()[...] = rng.standard_normal(8)
        bn.running_var.numpy()[...] = rng.uniform(0.2, 3.0, 8)
        if bn.weight is not None:
            bn.weight.numpy()[...] = rng.uniform(-2, 2, 8)
            bn.bias.numpy()[...] = rng.standard_normal(8)
    return net.to(dtype).eval()


def _torch_twin(net):
    layers = []
    for m in net:
        if isinstance(m, ck.nn.Conv2d):
            layers.append(torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                          bias=m.bias is not None))
        elif isinstance(m, ck.nn.BatchNorm2d):
            layers.append(torch.nn.BatchNorm2d(m.num_features, eps=m.eps, affine=m.weight is not None))
        else:
            layers.append(torch.nn.ReLU())
    t = torch.nn.Sequential(*layers).double().eval()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v.numpy(), np.float64) if v.numpy().dtype.kind == "f"
                                           else v.numpy()) for k, v in net.state_dict().items()})
    return t


@pytest.fixture
def bn_calls(monkeypatch):
    from cnnkit.ops import norm
    calls = []
    forward = norm.BatchNorm.forward

    def counted(self, *args):
        calls.append(args[0].shape)
        return forward(self, *args)
    monkeypatch.setattr(norm.BatchNorm, "forward", counted)
    return calls


@pytest.mark.parametrize("onednn", BACKENDS)
@pytest.mark.parametrize("affine,conv_bias,dtype", [(True, False, np.float32), (False, True, np.float32),
                                                    (True, True, np.float64)])
def test_folded_batch_norm_matches_torch(onednn, affine, conv_bias, dtype, bn_calls, relu_calls):
    net = _bn_net(affine, conv_bias, dtype)
    x = ck.from_numpy(_x((2, 3, 9, 9), channels_last=True).numpy().astype(dtype))
    with backend.enabled_for(onednn), ck.no_grad():
        got = net(x).numpy()
        unfused = _unfused(net, x)
    assert bn_calls == [(2, 8, 9, 9), (2, 8, 4, 4)] and len(relu_calls) == 1      # only _unfused ran them
    want = _torch_twin(net)(torch.from_numpy(x.numpy().astype(np.float64))).detach().numpy()
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    # folding rounds the weight once where the two layers round twice: within float32's error of the reference
    err_fused, err_unfused = np.abs(got - want).max(), np.abs(unfused - want).max()
    assert err_fused <= 4 * err_unfused + 1e-6, (err_fused, err_unfused)


@pytest.mark.parametrize("change", ["train_step_stats", "in_place_stat", "optimizer", "load_state_dict", "eps",
                                    "new_data"])
def test_a_changed_layer_is_folded_again(change):
    net = _bn_net()
    x = _x((2, 3, 9, 9))
    with ck.no_grad():
        net(x)                                    # folds and keeps the folded weights
    if change == "train_step_stats":              # the running statistics move in a training-mode forward
        net.train()
        net(_x((4, 3, 9, 9), seed=5))
        net.eval()
    elif change == "in_place_stat":
        with ck.no_grad():
            net[1].running_var.mul_(4.0)
    elif change == "optimizer":
        opt = ck.optim.SGD(net.parameters(), lr=0.5)
        net(x).sum().backward()
        opt.step()
    elif change == "load_state_dict":
        other = _bn_net()
        other[0].weight.numpy()[...] *= -1
        net.load_state_dict(other.state_dict())
    elif change == "eps":
        net[4].eps = 0.5
    else:
        net[0].weight.data = ck.tensor(net[0].weight.numpy() * 2)
    with ck.no_grad():
        got = net(x).numpy()
    want = _torch_twin(net)(torch.from_numpy(x.numpy().astype(np.float64))).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_no_folding_in_training_mode_or_with_hooks(bn_calls):
    net = _bn_net()
    x = _x((2, 3, 9, 9))
    net.train()
    before = net[1].running_mean.numpy().copy()
    with ck.no_grad():
        net(x)
    assert len(bn_calls) == 2 and not np.array_equal(before, net[1].running_mean.numpy())   # statistics updated
    net.eval()
    bn_calls.clear()
    seen = []
    net[4].register_forward_pre_hook(lambda m, args: seen.append(1))
    with ck.no_grad():
        net(x)
    assert seen == [1] and bn_calls == [(2, 8, 4, 4)]


@pytest.mark.parametrize("onednn", BACKENDS)
def test_resnet_blocks_fold_in_inference(onednn, bn_calls):
    from cnnkit import models
    ck.manual_seed(0)
    model = models.resnet18(num_classes=10).eval()
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, ck.nn.BatchNorm2d):
            m.running_mean.numpy()[...] = rng.standard_normal(m.num_features) * 0.1
            m.running_var.numpy()[...] = rng.uniform(0.5, 2.0, m.num_features)
    x = ck.tensor(rng.standard_normal((1, 3, 64, 64)).astype(np.float32))
    with backend.enabled_for(onednn):
        with ck.no_grad():
            got = model(x).numpy()
        assert bn_calls == []                     # every BatchNorm folded into its convolution
        want = model(x).detach().numpy()          # a graph is recorded: nothing folded
    assert len(bn_calls) == 20
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


# ----- a residual block's end: relu(bn(conv(x)) + shortcut) ---------------------------------------------------

@pytest.mark.parametrize("onednn", BACKENDS)
@pytest.mark.parametrize("residual_layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("special", [None, np.nan, -np.inf])
def test_conv2d_add_relu_equals_the_three_ops(onednn, residual_layout, special):
    from cnnkit.ops.conv import conv2d_add_relu
    rng = np.random.default_rng(0)
    x = _x((2, 6, 9, 9), channels_last=True)
    w = ck.tensor(rng.standard_normal((6, 6, 3, 3)).astype(np.float32))
    b = ck.tensor(rng.standard_normal(6).astype(np.float32))
    r = _x((2, 6, 9, 9), channels_last=residual_layout == "nhwc", seed=7)
    if special is not None:
        r.numpy()[1, 2, 3, 4] = special          # the ReLU after the addition must keep NaN, as PyTorch
    with backend.enabled_for(onednn), ck.no_grad():
        got = conv2d_add_relu(x, w, b, r, 1, 1).numpy()
        want = F.relu(F.conv2d(x, w, b, padding=1) + r).numpy()
    np.testing.assert_array_equal(got, want)
    if special is not None and np.isnan(special):
        assert np.isnan(got[1, 2, 3, 4])


def test_conv2d_add_relu_checks_the_residual_and_records_a_graph_when_needed():
    from cnnkit.ops.conv import conv2d_add_relu
    x, w = _x((1, 3, 5, 5)), ck.tensor(np.ones((4, 3, 3, 3), np.float32))
    with ck.no_grad(), pytest.raises(ValueError, match=r"conv2d: the residual must have .*\(1, 4, 3, 3\)"):
        conv2d_add_relu(x, w, None, ck.zeros(1, 4, 5, 5))
    r = ck.zeros(1, 4, 3, 3, requires_grad=True)
    conv2d_add_relu(x, w, None, r).sum().backward()
    np.testing.assert_array_equal(r.grad.numpy(), (F.conv2d(x, w) > 0).numpy().astype(np.float32))


def test_resnet_block_hooks_keep_their_order(relu_calls):
    """A hook on the shortcut leaves the block unfused, so the modules run in torchvision's order."""
    from cnnkit import models
    model = models.resnet18(num_classes=10).eval()
    block = model.layer2[0]
    order = []
    for name in ("conv2", "bn2", "downsample"):
        getattr(block, name).register_forward_hook(lambda m, args, out, name=name: order.append(name))
    with ck.no_grad():
        model(ck.tensor(np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)))
    assert order == ["conv2", "bn2", "downsample"]
