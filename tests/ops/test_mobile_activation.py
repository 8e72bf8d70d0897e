"""relu6, hardsigmoid, hardswish, silu, softplus (functional and layers) against torch, forward and gradient,
float64 and float32."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.ops.engine_helpers import check_all

# values spread over every piece of the piecewise functions, away from the kinks (finite differences)
X = np.array([[-7.1, -3.6, -2.5, -0.4, 0.3], [1.7, 2.9, 3.4, 5.5, 6.8]])


@pytest.mark.parametrize("name", ["relu6", "hardsigmoid", "hardswish", "silu", "softplus"])
def test_functional(name):
    check_all(getattr(F, name), getattr(TF, name), [X * 1.0], what=name)
    check_all(getattr(F, name), getattr(TF, name), [np.random.default_rng(0).standard_normal((2, 3, 4)) * 4],
              gradcheck=False, what=name)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)])
def test_softplus_options(beta, threshold):
    check_all(lambda t: F.softplus(t, beta, threshold), lambda t: TF.softplus(t, beta, threshold), [X * 1.0],
              what="softplus")


@pytest.mark.parametrize("name, kwargs", [("ReLU6", {}), ("Hardsigmoid", {}), ("Hardswish", {}), ("SiLU", {}),
                                          ("Softplus", {"beta": 2.0})])
def test_layers(name, kwargs):
    check_all(getattr(ck.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), [X * 1.0], what=name)


def test_hardswish_gradient_at_the_joints_like_torch():
    x = np.array([-3.0, 3.0, 0.0])
    check_all(F.hardswish, TF.hardswish, [x], gradcheck=False, what="hardswish joints")


def test_integer_input_refused():
    with pytest.raises(TypeError, match="silu: expected a floating point tensor"):
        F.silu(ck.tensor([1, 2]))
