"""cnnkit.insight.receptive_field: the per-layer algebra r ← r + (k − 1)·d·j, j ← j·s,
start ← start + ((k − 1)·d/2 − p)·j, checked on small stacks worked out by hand and, where no padding or
image border clips it, against the support of the input gradient of one output pixel."""
from fractions import Fraction

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.insight import receptive_fields
from cnnkit.insight.receptive_field import Field, combine, input_field, module_field


def _table(layers):
    return [(layer.name, layer.type, layer.receptive_field, layer.jump, layer.start) for layer in layers]


def test_conv_stack_by_hand():
    model = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1),              # r = 1 + 2·1 = 3,   j = 1, start = 0 + (1 − 1)·1 = 0
        nn.ReLU(),                                  # unchanged
        nn.MaxPool2d(2, 2),                         # r = 3 + 1·1 = 4,   j = 2, start = 0 + (1/2 − 0)·1 = 1/2
        nn.Conv2d(1, 1, 3, stride=2),               # r = 4 + 2·2 = 8,   j = 4, start = 1/2 + (1 − 0)·2 = 5/2
        nn.Conv2d(1, 1, 3, dilation=2, padding=2),  # r = 8 + 2·2·4 = 24, j = 4, start = 5/2 + (2 − 2)·4 = 5/2
        nn.Conv2d(1, 1, (1, 5), padding=(0, 1)),    # W: r = 24 + 4·4 = 40, start = 5/2 + (2 − 1)·4 = 13/2
    )
    half = Fraction(1, 2)
    assert _table(receptive_fields(model, (1, 32, 32))) == [
        ("0", "Conv2d", (3, 3), (1, 1), (0, 0)),
        ("1", "ReLU", (3, 3), (1, 1), (0, 0)),
        ("2", "MaxPool2d", (4, 4), (2, 2), (half, half)),
        ("3", "Conv2d", (8, 8), (4, 4), (5 * half, 5 * half)),
        ("4", "Conv2d", (24, 24), (4, 4), (5 * half, 5 * half)),
        ("5", "Conv2d", (24, 40), (4, 4), (5 * half, 13 * half)),
    ]


def test_same_padding_string():
    """'same' pads ⌊d·(k − 1)/2⌋ before: the field stays centred on the output pixel (start 0)."""
    model = nn.Sequential(nn.Conv2d(1, 1, 5, padding="same"), nn.Conv2d(1, 1, 3, padding="valid"))
    assert _table(receptive_fields(model, (1, 12, 12))) == [
        ("0", "Conv2d", (5, 5), (1, 1), (0, 0)),
        ("1", "Conv2d", (7, 7), (1, 1), (1, 1)),
    ]


def test_flatten_and_linear_see_the_whole_map():
    """A linear map on a flattened H×W map is a convolution whose kernel is the map: r ← r + (H − 1)·j,
    start ← start + (H − 1)/2·j, the centre of the image here."""
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(16, 2))  # 6×6 -> 4×4 -> 16 -> 2
    rows = _table(receptive_fields(model, (1, 6, 6)))
    assert rows[0] == ("0", "Conv2d", (3, 3), (1, 1), (1, 1))
    assert rows[2] == ("2", "Linear", (6, 6), (4, 4), (Fraction(5, 2), Fraction(5, 2)))


def test_adaptive_pooling():
    """8 → 3: windows [0, 3), [2, 6), [5, 8); the largest (4) is the kernel, 8/3 the stride, the first the start."""
    (layer,) = receptive_fields(nn.Sequential(nn.AdaptiveAvgPool2d(3)), (1, 8, 8))
    assert layer.receptive_field == (4, 4)
    assert layer.jump == (Fraction(8, 3), Fraction(8, 3))
    assert layer.start == (1, 1)


def test_transposed_convolution():
    """k = 4, s = 2, p = 1: an output pixel sees ⌈4/2⌉ = 2 inputs, the jump halves, and the start is the
    average centre (p − (k − 1)/2)/s = −1/4."""
    (layer,) = receptive_fields(nn.Sequential(nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)), (1, 5, 5))
    assert layer.receptive_field == (2, 2)
    assert layer.jump == (Fraction(1, 2), Fraction(1, 2))
    assert layer.start == (Fraction(-1, 4), Fraction(-1, 4))


def test_field_algebra_on_its_own():
    f = input_field(9, 9).window((3, 3), (2, 2), (1, 1), None, (1, 1))
    assert (f.rh, f.jh, f.sh) == (3, 2, 0)
    g = f.window((3, 3), (1, 1), (2, 2), None)           # r = 3 + 2·2·2 = 11, start = 0 + 2·2 = 4
    assert (g.rh, g.jh, g.sh) == (11, 2, 4)
    merged = combine([f, g], (1, 1, 5, 5))                # the widest path wins, start from it
    assert (merged.rh, merged.jh, merged.sh, merged.h) == (11, 2, 4, 5)
    assert combine([None], (1, 1, 5, 5)) is None
    assert module_field(nn.ReLU(), f, (1, 1, 5, 5), (1, 1, 5, 5)) is None  # not a spatial layer
    assert isinstance(module_field(nn.Conv2d(1, 1, 3), f, (1, 1, 5, 5), (1, 1, 3, 3)), Field)


@pytest.mark.parametrize("layers", [
    [nn.Conv2d(1, 2, 3), nn.AvgPool2d(2, 2), nn.Conv2d(2, 2, 3, stride=2), nn.Conv2d(2, 1, 3, dilation=2)],
    [nn.Conv2d(1, 2, (5, 3), stride=(1, 2)), nn.AvgPool2d(3, 1), nn.Conv2d(2, 1, 3, dilation=(1, 2))],
])
def test_against_the_gradient_support(layers):
    """With positive weights and no padding, the input pixels whose gradient is non-zero for output pixel
    (i, i) span the receptive field, centred at start + i·jump."""
    model = nn.Sequential(*layers)
    for p in model.parameters():
        p.data[...] = np.abs(p._data) + 0.1
    last = receptive_fields(model, (1, 40, 40))[-1]
    x = ck.ones(1, 1, 40, 40, dtype=ck.float64, requires_grad=True)
    model.double()
    y = model(x)
    i = 1
    seed = np.zeros(y.shape)
    seed[0, 0, i, i] = 1.0
    y.backward(seed)
    rows, cols = np.nonzero(x.grad.numpy()[0, 0])
    for axis, idx in ((0, rows), (1, cols)):
        lo, hi = idx.min(), idx.max()
        assert hi - lo + 1 == last.receptive_field[axis]
        assert Fraction(int(lo + hi), 2) == last.start[axis] + i * last.jump[axis]


def test_bad_arguments():
    with pytest.raises(TypeError, match="receptive_fields: expected a cnnkit Module, got int"):
        receptive_fields(3, (1, 8, 8))
    with pytest.raises(ValueError, match=r"receptive_fields: expected input_size .* got \(8,\)"):
        receptive_fields(nn.Conv2d(1, 1, 3), (8,))
