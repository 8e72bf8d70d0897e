"""cnnkit.insight.trace: the calls of one forward pass, their nesting and shapes; the model is left as it was."""
import pytest

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.insight.trace import trace


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.block(x)).sum(dim=(2, 3))


def test_calls_in_call_order_and_finished_children_first():
    model = Net()
    t = trace(model, (2, 1, 5, 5))
    assert [(c.name, c.depth, c.leaf) for c in t.calls] == [
        ("", 0, False), ("block", 1, False), ("block.0", 2, True), ("block.1", 2, True), ("drop", 1, True)]
    assert [c.name for c in t.finished] == ["block.0", "block.1", "block", "drop", ""]
    root, block, conv = t.calls[:3]
    assert conv.parent is block and block.parent is root and root.parent is None
    assert conv.in_shape == (2, 1, 5, 5) and conv.out_shape == (2, 2, 3, 3)
    assert root.out_shape == (2, 2) and [c.index for c in t.calls] == [0, 1, 2, 3, 4]
    assert t.input.shape == (2, 1, 5, 5) and conv.args[0] is t.input


def test_model_is_left_as_it_was():
    model = Net()
    model.block[0].weight.requires_grad = False
    before = model.block[0].weight.numpy().copy()
    trace(model, (1, 1, 5, 5))
    assert model.training and model.drop.training                  # eval for the pass only
    assert not model.block[0].weight.requires_grad and model.block[0].bias.requires_grad
    assert (model.block[0].weight.numpy() == before).all()
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_errors_propagate_and_the_model_is_restored():
    model = Net()
    with pytest.raises(ValueError):
        trace(model, (1, 3, 5, 5))  # 3 channels for a 1-channel convolution
    assert model.training and model.block[0].weight.requires_grad
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert ck.is_grad_enabled()
