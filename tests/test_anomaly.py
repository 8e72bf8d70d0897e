"""ck.autograd.detect_anomaly: the op whose backward (or, optionally, forward) produced NaN/inf, and its line."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn as nn
from cnnkit.autograd import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly

HERE = __file__


def test_names_the_op_and_the_line_that_created_it():
    x = ck.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly(), np.errstate(divide="ignore"):
        y = ck.sqrt(x)  # d sqrt/dx = inf at 0
        loss = (y * 3.0).sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert "SqrtBackward" in msg and "inf" in msg and "input 0" in msg, msg
    assert f"{HERE}:" in msg and "y = ck.sqrt(x)" in msg, msg
    assert x.grad is None  # the walk stopped at the op


def test_nan_in_a_model_names_the_op_whose_backward_made_it():
    ck.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = ck.tensor(np.ones((2, 3), np.float32))
    with detect_anomaly(), np.errstate(divide="ignore", invalid="ignore"):
        h = model(x)
        z = ck.log(h - h)  # log(0) = -inf forward; its backward: 0 / 0 = nan
        loss = (z * 0.0).sum()  # Mul's backward is finite (gradient 0.0)
        with pytest.raises(RuntimeError, match="returned .*nan") as info:
            loss.backward()
    msg = str(info.value)
    assert "LogBackward" in msg and "z = ck.log(h - h)" in msg and "Mul" not in msg.split("created")[0], msg


def test_finite_gradients_are_unchanged_and_outside_the_block_nothing_is_checked():
    def grad(anomaly: bool):
        x = ck.tensor([0.5, 2.0], requires_grad=True)
        with set_detect_anomaly(anomaly):
            (ck.sqrt(x) * x).sum().backward()
        return x.grad.numpy()

    np.testing.assert_array_equal(grad(True), grad(False))
    x = ck.tensor([0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        ck.sqrt(x).sum().backward()  # no anomaly mode: inf reaches .grad silently
    assert np.isinf(x.grad.numpy()).all()


def test_check_nan_false_records_only_and_check_forward_raises_at_the_forward():
    x = ck.tensor([0.0], requires_grad=True)
    with detect_anomaly(check_nan=False), np.errstate(divide="ignore"):
        assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
        ck.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()).all()
    with detect_anomaly(check_forward=True), np.errstate(divide="ignore"):
        with pytest.raises(RuntimeError, match=r"Log produced inf values in its output 0.*ck\.log\(x\)"):
            ck.log(x)
        ck.sqrt(x)  # finite forward: no error


def test_mode_is_scoped_restored_after_errors_and_validated():
    assert not is_anomaly_enabled()
    with pytest.raises(KeyError):
        with detect_anomaly():
            assert is_anomaly_enabled()
            with set_detect_anomaly(False):
                assert not is_anomaly_enabled()
            assert is_anomaly_enabled()
            raise KeyError("boom")
    assert not is_anomaly_enabled()
    with pytest.raises(TypeError, match="check_nan must be a bool"):
        with detect_anomaly(check_nan="yes"):
            pass
    assert not is_anomaly_enabled()


def test_mode_belongs_to_the_thread():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with detect_anomaly():
            seen["worker"] = is_anomaly_enabled()
            inside.set()
            done.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(10)
    seen["main"] = is_anomaly_enabled()
    x = ck.tensor([0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        ck.sqrt(x).sum().backward()  # not checked: the mode is on in the other thread only
    done.set()
    t.join(10)
    assert seen == {"worker": True, "main": False}
    assert np.isinf(x.grad.numpy()).all()
