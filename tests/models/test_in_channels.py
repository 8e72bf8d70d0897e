"""``in_channels`` of every zoo model (timm's ``in_chans``): only the first convolution's weight changes, and a
grayscale model computes what the RGB model computes on the grey image repeated in three channels when its first
weight is the RGB weight summed over the channels."""
import numpy as np
import pytest

import cnnkit as ck
from cnnkit import models

FIRST_CONV = {"alexnet": "features.0.weight", "vgg11": "features.0.weight", "resnet18": "conv1.weight",
              "densenet121": "features.conv0.weight", "googlenet": "conv1.conv.weight",
              "inception_v3": "Conv2d_1a_3x3.conv.weight", "lenet5": "features.c1.weight"}
SIZE = {"alexnet": 63, "inception_v3": 75, "densenet121": 29, "lenet5": 28}
SLOW = {"densenet121", "inception_v3"}


def build(name, in_channels):
    kwargs = {"num_classes": 5, "in_channels": in_channels}
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False
    ck.manual_seed(0)
    return models.get(name, **kwargs).eval()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in FIRST_CONV])
def test_grayscale_model_equals_the_rgb_model_on_repeated_grey(name):
    rgb, grey = build(name, 3), build(name, 1)
    rgb_state, grey_state = rgb.state_dict(), grey.state_dict()
    assert rgb_state.keys() == grey_state.keys()
    key = FIRST_CONV[name]
    for k in rgb_state:
        expected = rgb_state[k].shape if k != key else (rgb_state[k].shape[0], 1, *rgb_state[k].shape[2:])
        assert tuple(grey_state[k].shape) == tuple(expected), k
    state = {k: v._data.copy() for k, v in rgb_state.items()}
    state[key] = state[key].sum(axis=1, keepdims=True)
    grey.load_state_dict(state)
    size = SIZE.get(name, 32)
    x = np.random.default_rng(0).random((2, 1, size, size), dtype=np.float32)
    with ck.no_grad():
        a = grey(ck.tensor(x))._data
        b = rgb(ck.tensor(np.repeat(x, 3, axis=1)))._data
    assert a.shape == (2, 5)
    scale = np.abs(b).max()
    assert np.abs(a - b).max() <= 1e-4 * scale  # two float32 sums of the same terms in another order


@pytest.mark.parametrize("name", ["resnet18", "vgg11", "alexnet", "googlenet"])
def test_wrong_channels_name_the_model_and_in_channels(name):
    model = build(name, 1)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, H, W\)"):
        model(ck.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match=f"{name}: in_channels must be a positive int, got 0"):
        models.get(name, in_channels=0)


def test_transform_input_needs_rgb():
    with pytest.raises(ValueError, match="googlenet: transform_input .* needs in_channels=3, got 1"):
        models.googlenet(in_channels=1, transform_input=True)
    with pytest.raises(ValueError, match="inception_v3: transform_input .* needs in_channels=3, got 1"):
        models.inception_v3(in_channels=1, transform_input=True)
