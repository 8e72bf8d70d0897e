"""The legacy typed constructors (torch.FloatTensor(...) and friends) against torch: data, sizes, a Size, empty,
an existing tensor, isinstance, x.type(FloatTensor) and x.type('torch.FloatTensor'), and the refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit as ck

NAMES = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor",
         "BoolTensor"]


@pytest.mark.parametrize("name", NAMES)
def test_from_data(name):
    for data in ([1, 0, 3], [[1.0, 2.0], [0.0, 4.0]], np.arange(6).reshape(2, 3), (2, 3)):
        ours, theirs = getattr(ck, name)(data), getattr(torch, name)(data)
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", NAMES)
def test_sizes_and_isinstance(name):
    cls, tcls = getattr(ck, name), getattr(torch, name)
    assert cls(2, 3).shape == tuple(tcls(2, 3).shape) == (2, 3)
    assert cls(ck.zeros(4, 1).shape).shape == tuple(tcls(torch.zeros(4, 1).shape).shape) == (4, 1)
    assert cls().shape == tuple(tcls().shape) == (0,)
    t = cls([1, 2])
    assert isinstance(t, cls) and isinstance(t, ck.Tensor)
    assert cls(t) is t
    others = [getattr(ck, n) for n in NAMES if n != name]
    assert not any(isinstance(t, o) for o in others)
    assert t.type() == tcls([1, 2]).type() == f"torch.{name}"


def test_type_conversions():
    x = ck.tensor([1.5, -2.0])
    for name in NAMES:
        for spelling in (getattr(ck, name), f"torch.{name}"):
            got = x.type(spelling)
            want = torch.tensor([1.5, -2.0]).type(getattr(torch, name))
            assert got.type() == want.type()
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_refusals():
    with pytest.raises(TypeError, match="FloatTensor: expected a Tensor of dtype float32"):
        ck.FloatTensor(ck.zeros(2, dtype=ck.float64))
    with pytest.raises(TypeError, match="data must be a sequence"):
        ck.FloatTensor(2.5)
    with pytest.raises(RuntimeError, match="CPU only"):
        ck.FloatTensor([1.0], device="cuda")
