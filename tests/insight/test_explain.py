"""The convolution and pooling explainers and the kernel-learning example: every printed number against
torch (F.conv2d, autograd through max/avg pooling) and cnnkit's autograd."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
from cnnkit.insight import explain_conv, explain_pool, learn_edge, render_conv_png
from cnnkit.insight.learn_edge import edge_data

CONFIGS = [  # input (H, W[, C]), kernel, stride, padding, dilation, channels_out
    ((5, 5, 3), 3, 2, 1, 1, 2),
    ((4, 4), 3, 1, 1, 1, 1),
    ((6, 7, 2), 3, 1, 0, 1, 3),
    ((7, 6, 1), 2, 2, 0, 1, 1),
    ((9, 8, 2), 3, 2, 1, 2, 2),
    ((5, 6), 1, 1, 0, 1, 2),
    ((6, 6, 1), 4, 3, 2, 1, 1),
]


def torch_conv(ex):
    return TF.conv2d(torch.from_numpy(ex.input[None]), torch.from_numpy(ex.weight), torch.from_numpy(ex.bias),
                     stride=ex.stride, padding=ex.padding, dilation=ex.dilation)[0].numpy()


@pytest.mark.parametrize("shape, f, s, p, d, k", CONFIGS)
def test_every_step_and_the_gemm_equal_torch(shape, f, s, p, d, k):
    ex = explain_conv(shape, kernel=f, stride=s, padding=p, dilation=d, channels_out=k, seed=3)
    ref = torch_conv(ex)
    assert ex.output.shape == ref.shape
    assert ex.output_size == ref.shape[1:]
    assert len(ex.steps) == ref.size
    for st in ex.steps:
        assert st.total == ref[st.filter, st.row, st.col]
        np.testing.assert_array_equal(st.products, st.window * ex.weight[st.filter])
        assert st.total == st.products.sum() + st.bias
    ho, wo = ref.shape[1:]
    assert ex.cols.shape == (ho * wo, ex.weight[0].size)
    np.testing.assert_array_equal(ex.gemm.T.reshape(ref.shape), ref)
    np.testing.assert_array_equal(ex.output, ref)
    c = ex.input.shape[0]
    assert ex.params == (f * f * c + 1) * k
    assert ex.check()


def test_notes_5x5x3_two_filters_stride_2():
    """Seed 002: a 5×5×3 input, padding 1, two 3×3×3 filters, stride 2 -> 3×3×2, (3·3·3 + 1)·2 = 56 parameters."""
    ex = explain_conv((5, 5, 3), kernel=3, stride=2, padding=1, channels_out=2)
    assert ex.output.shape == (2, 3, 3) and ex.padded.shape == (3, 7, 7)
    assert ex.params == 56
    assert "(5 − 3 + 2·1)/2 + 1 = 3" in ex.size_formula and "3×3×2" in ex.size_formula
    assert ex.params_formula == "(F·F·D + 1)·K = (3·3·3 + 1)·2 = 56"
    text = ex.text()
    assert text.count("step ") == 18 and "agree: yes" in text and "(9×27)" in text
    # the im2col rows are the windows that the steps list, in order
    for n, st in enumerate(ex.steps[:9]):
        np.testing.assert_array_equal(ex.cols[n], st.window.ravel())


def test_notes_4x4_same_example_with_its_numbers():
    """Seed 002: the 4×4 input padded to keep 4×4 under the 3×3 kernel [[0 1 0] [1 −1 1] [0 1 0]]."""
    x = np.array([[[1, 3, -1, 2], [2, -2, 0, 1], [1, 4, 0, -1], [-1, 0, 3, 2]]], dtype=np.float64)
    w = np.array([[[[0, 1, 0], [1, -1, 1], [0, 1, 0]]]], dtype=np.float64)
    ex = explain_conv((4, 4), kernel=3, padding=1, values=x, weight=w, bias=[0.0])
    np.testing.assert_array_equal(ex.output[0], [[4, -5, 6, -2], [-2, 11, -2, 0], [4, -5, 6, 4], [2, 6, -1, 0]])
    assert ex.output_size == (4, 4) and "(4 − 3 + 2·1)/1 + 1 = 4" in ex.size_formula
    assert ex.params == 10 and ex.check()
    step = ex.steps[5]                       # o[0, 1, 1] = 3 + 2 + 4 + 0 + (−2)(−1) = 11
    assert (step.row, step.col, step.total) == (1, 1, 11.0)


def test_dilation_formula():
    ex = explain_conv((9, 8), kernel=3, stride=2, dilation=2)
    assert "F_eff = d·(F − 1) + 1 = 2·(3 − 1) + 1 = 5" in ex.size_formula
    assert ex.output_size == ((9 - 5) // 2 + 1, (8 - 5) // 2 + 1)
    assert "never reached" in ex.size_formula     # (8 − 5)/2 is not whole


def test_conv_png(tmp_path):
    from PIL import Image

    ex = explain_conv((4, 4), kernel=3, padding=1)
    path = render_conv_png(ex, tmp_path / "steps.png", max_frames=4)
    assert Image.open(path).size[0] > 200


@pytest.mark.parametrize("bad, match", [
    (dict(input_shape=(2, 2), kernel=3), "does not fit"), (dict(input_shape=(5,)), "input_shape must be"),
    (dict(input_shape=(5, 5), stride=0), "stride must be positive"),
    (dict(input_shape=(5, 5), padding=-1), "padding must be non-negative"),
    (dict(input_shape=(5, 5), channels_out=0), "channels_out must be positive"),
    (dict(input_shape=(80, 80)), "small layers"), (dict(input_shape=(4, 4), weight=np.zeros((1, 1, 2, 2))), "weight must have shape")])
def test_conv_bad_arguments(bad, match):
    with pytest.raises(ValueError, match="explain_conv: .*" + match) as e:
        explain_conv(**bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("shape, k, s", [((4, 4), 2, 2), ((5, 6), 3, 1), ((6, 5), 3, 2), ((4, 4), 4, None)])
def test_pool_routed_gradient_equals_autograd(mode, shape, k, s):
    ex = explain_pool(shape, kernel=k, stride=s, mode=mode, seed=1)
    stride = k if s is None else s
    x = torch.from_numpy(ex.input[None, None].copy()).requires_grad_(True)
    pool = TF.max_pool2d if mode == "max" else TF.avg_pool2d
    y = pool(x, k, stride)
    y.backward(torch.from_numpy(ex.dy[None, None].copy()))
    np.testing.assert_array_equal(ex.output, y.detach().numpy()[0, 0])
    np.testing.assert_allclose(ex.dx, x.grad.numpy()[0, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ex.dx, ex.autograd_dx, rtol=0, atol=1e-12)     # cnnkit's autograd
    assert ex.check() and "autograd: yes" in ex.text()
    assert ex.dx.sum() == pytest.approx(ex.dy.sum())                        # the error is routed, not lost
    if mode == "max":
        assert np.count_nonzero(ex.dx) <= ex.dy.size and all(len(st.routes) == 1 for st in ex.steps)


def test_pool_bad_arguments():
    for bad in (dict(input_shape=(3, 3), kernel=4), dict(mode="min"), dict(input_shape=(3, 3, 3)),
                dict(stride=0), dict(input_shape=(100, 100))):
        with pytest.raises(ValueError, match="explain_pool: ") as e:
            explain_pool(**bad)
        assert "\n" not in str(e.value)


def test_learn_edge_recovers_the_kernel():
    x, y = edge_data()
    assert x.shape == (6, 8) and y.shape == (6, 7)
    np.testing.assert_array_equal(y, np.tile([0.0, 1, 0, 0, 0, -1, 0], (6, 1)))   # seed 002's Y
    lines = []
    result = learn_edge(steps=40, lr=0.03, seed=0, echo=lines.append)
    assert np.abs(result.kernel - [[1.0, -1.0]]).max() < 1e-2
    losses = [loss for _, loss, _ in result.history]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert len(result.history) == 8 and lines == result.lines and "learned K" in lines[-1]
    # the learned kernel reproduces Y through cnnkit's conv2d
    out = ck.nn.functional.conv2d(ck.tensor(x[None, None]), ck.tensor(result.kernel[None, None])).numpy()[0, 0]
    np.testing.assert_allclose(out, y, atol=2e-2)
    for seed in (1, 2, 3):
        assert np.abs(learn_edge(seed=seed).kernel - [[1.0, -1.0]]).max() < 1e-2


def test_learn_edge_bad_arguments():
    for bad in (dict(steps=0), dict(lr=0.0), dict(lr=2.0), dict(every=0)):
        with pytest.raises(ValueError, match="learn_edge: "):
            learn_edge(**bad)
