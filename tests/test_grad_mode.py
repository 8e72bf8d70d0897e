"""ck.autograd.grad_mode: grad mode belongs to the calling thread (as in PyTorch), and the names are one object
wherever they are imported from."""
from __future__ import annotations

import importlib
import threading

import pytest

import cnnkit as ck
from cnnkit import autograd
from cnnkit.autograd import grad_mode


def _in_thread(fn):
    """Run ``fn`` in a new thread and return its result (or raise its exception here)."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # handed back to the test
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def _records() -> bool:
    """Whether an op in the calling thread links its output into the graph."""
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    return (x * 2.0).requires_grad


def test_no_grad_in_one_thread_does_not_stop_another():
    with ck.no_grad():
        assert not ck.is_grad_enabled() and not _records()
        assert _in_thread(lambda: (ck.is_grad_enabled(), _records())) == (True, True)
        assert not ck.is_grad_enabled() and not _records()
    assert ck.is_grad_enabled() and _records()


def test_a_thread_switching_grad_off_leaves_the_caller_recording():
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with ck.no_grad():
            seen["worker"] = (ck.is_grad_enabled(), _records())
            entered.set()
            release.wait(10)
        seen["worker_after"] = ck.is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    assert entered.wait(10)
    try:
        assert ck.is_grad_enabled() and _records()  # while the worker is inside its no_grad block
    finally:
        release.set()
        t.join()
    assert seen == {"worker": (False, False), "worker_after": True}


def test_a_new_thread_starts_with_grad_on_whatever_its_parent_set():
    with ck.set_grad_enabled(False):
        assert _in_thread(ck.is_grad_enabled) is True


def test_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with ck.no_grad():
            raise KeyError("inside")
    assert ck.is_grad_enabled()


def test_set_grad_enabled_nests():
    with ck.set_grad_enabled(False):
        with ck.enable_grad():
            assert ck.is_grad_enabled()
            with ck.set_grad_enabled(False):
                assert not ck.is_grad_enabled()
            assert ck.is_grad_enabled()
        assert not ck.is_grad_enabled()
    assert ck.is_grad_enabled()


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"])
def test_one_object_under_every_name(name):
    tensor_module = importlib.import_module("cnnkit.tensor")  # ck.tensor is the function
    obj = getattr(grad_mode, name)
    assert getattr(ck, name) is obj and getattr(autograd, name) is obj and getattr(tensor_module, name) is obj


def test_run_backward_is_what_tensor_backward_runs():
    x = ck.tensor([1.0, 2.0, 3.0], requires_grad=True)
    autograd.run_backward((x * x).sum())
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    autograd.run_backward(x * 3.0, ck.ones(3))  # leaves accumulate over backward calls
    assert x.grad.tolist() == [5.0, 7.0, 9.0]
    with pytest.raises(TypeError, match="backward: expected a Tensor, got list"):
        autograd.run_backward([1.0])
