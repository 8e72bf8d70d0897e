"""cnnkit.insight.macs: multiply-adds per layer type, worked out by hand."""
import pytest

import cnnkit as ck
import cnnkit.nn as nn
import cnnkit.nn.functional as F
from cnnkit.insight.macs import call_macs, function_macs, module_macs
from cnnkit.insight.trace import trace


@pytest.mark.parametrize("module, in_shape, out_shape, expected", [
    # N·C_out·H_out·W_out · (C_in/groups)·kH·kW = 2·8·8·8 · 3·3·3
    (nn.Conv2d(3, 8, 3, stride=2, padding=1), (2, 3, 16, 16), (2, 8, 8, 8), 2 * 8 * 8 * 8 * 3 * 9),
    # groups = 2: each output channel sees 4/2 input channels: 1·8·3·3 · 2·3·3
    (nn.Conv2d(4, 8, 3, groups=2), (1, 4, 5, 5), (1, 8, 3, 3), 8 * 9 * 2 * 9),
    # N·C_in·H_in·W_in · (C_out/groups)·kH·kW = 1·4·5·5 · 2·3·3
    (nn.ConvTranspose2d(4, 2, 3, stride=2), (1, 4, 5, 5), (1, 2, 11, 11), 4 * 25 * 2 * 9),
    # (output elements) · in_features = 5·4 · 10
    (nn.Linear(10, 4), (5, 10), (5, 4), 200),
    (nn.Linear(10, 4, bias=False), (2, 3, 10), (2, 3, 4), 2 * 3 * 4 * 10),
])
def test_module_macs_by_hand(module, in_shape, out_shape, expected):
    assert module_macs(module, in_shape, out_shape) == expected
    y = module(ck.zeros(*in_shape))
    assert y.shape == out_shape
    assert ck.summary(nn.Sequential(module), in_shape[1:], batch_size=in_shape[0]).total_macs == expected


def test_uncounted_layers():
    assert module_macs(nn.ReLU(), (1, 3, 4, 4), (1, 3, 4, 4)) is None
    assert module_macs(nn.BatchNorm2d(3), (1, 3, 4, 4), (1, 3, 4, 4)) is None


def test_function_macs_by_hand():
    a = ck.randn(3, 4, requires_grad=True)
    assert function_macs(ck.matmul(a, ck.randn(4, 5)).creator) == 3 * 5 * 4
    x = ck.randn(2, 3, 6, 6, requires_grad=True)
    assert function_macs(F.conv2d(x, ck.randn(4, 3, 3, 3)).creator) == 2 * 4 * 4 * 4 * 3 * 9
    assert function_macs(ck.relu(x).creator) == 0


class ConvInForward(nn.Module):
    """A convolution called as a function inside forward, around a child Linear layer."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(ck.ones(2, 1, 3, 3))
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(ck.flatten(F.conv2d(x, self.weight), 1))


def test_call_macs_attributes_functions_to_the_caller():
    model = ConvInForward()
    t = trace(model, (1, 1, 6, 6))
    macs = call_macs(t)
    by_name = {c.name: macs[id(c)] for c in t.calls}
    assert by_name == {"": 2 * 4 * 4 * 1 * 9, "fc": 3 * 32}  # the child's MACs are its own, not counted twice
