"""ck.autograd.gradcheck: it passes on correct gradients and catches wrong ones in each of its three modes."""
from __future__ import annotations

import numpy as np
import pytest

import cnnkit as ck
from cnnkit.autograd import GradcheckError, gradcheck
from cnnkit.function import Function


class Scale(Function):
    """y = 3x with a backward that is right, or wrong by +1 at one flat position of the input gradient."""

    def __init__(self, wrong_at=None):
        self.wrong_at = wrong_at

    def forward(self, x):
        return 3.0 * x

    def backward(self, gy):
        gx = 3.0 * gy
        if self.wrong_at is not None:
            gx = gx.copy()
            gx.reshape(-1)[self.wrong_at] += 1.0
        return gx


class MulWrongSecond(Function):
    """y = a * b whose gradient for b forgets the factor a (wrong), while a's gradient is right."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        return gy * self.b, gy.copy()


def _x(*shape, seed=0):
    return ck.tensor(np.random.default_rng(seed).standard_normal(shape) + 0.5, requires_grad=True)


@pytest.mark.parametrize("fn, shapes", [
    (lambda x: x * x, [(3, 4)]),
    (lambda x: (x * x).sum(), [(5,)]),
    (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    (lambda a, b: (a * b).exp(), [(2, 3), (3,)]),
    (lambda x: x.split([1, 2], dim=1), [(2, 3)]),
    (lambda x: x.max(1), [(3, 4)]),
    (lambda x: (x * 2.0).sum(), [(20, 20)]),    # 400 inputs: per-element mode
    (lambda x: x * 2.0 + 1.0, [(70, 70)]),      # 4900 inputs: directional mode
])
def test_gradcheck_passes_on_correct_functions(fn, shapes):
    inputs = [_x(*s, seed=k) for k, s in enumerate(shapes)]
    assert gradcheck(fn, inputs) is True


def test_gradcheck_accepts_a_single_tensor_and_constant_inputs():
    x = _x(4)
    assert gradcheck(lambda t: t.exp(), x)
    c = ck.tensor(np.arange(4.0))  # no requires_grad: not checked, passed through
    assert gradcheck(lambda t, k, s: t * k * s, [x, c, 2.0])


def test_gradcheck_restores_grads_and_values():
    x = _x(3)
    x.grad = ck.tensor(np.full(3, 7.0))
    before = x._data.copy()
    gradcheck(lambda t: t * t, [x])
    np.testing.assert_array_equal(x.grad.data, np.full(3, 7.0))
    np.testing.assert_array_equal(x.data, before)


def test_full_jacobian_mode_names_input_and_element():
    x = _x(2, 3)
    with pytest.raises(GradcheckError, match=r"gradcheck: Jacobian gradient of input 0 disagrees with finite "
                                             r"differences \(output element \d+\): worst element \(1, 2\): "
                                             r"analytic 4 vs numerical 3"):
        gradcheck(lambda t: Scale(wrong_at=5)(t).sum(), [x])


def test_full_jacobian_mode_names_the_wrong_input():
    a, b = _x(2, 2, seed=1), _x(2, 2, seed=2)
    with pytest.raises(GradcheckError, match="gradient of input 1 disagrees"):
        gradcheck(lambda p, q: MulWrongSecond()(p, q), [a, b])
    # input 0's gradient is right: checking only it passes
    b.requires_grad_(False)
    assert gradcheck(lambda p, q: MulWrongSecond()(p, q), [a, b])


def test_per_element_mode_names_input_and_element():
    x = _x(20, 30)  # 600 elements > full_jacobian_max, <= elementwise_max
    with pytest.raises(GradcheckError, match=r"vector-Jacobian gradient of input 0 disagrees with finite "
                                             r"differences: worst element \(0, 5\): analytic"):
        gradcheck(lambda t: Scale(wrong_at=5)(t), [x])
    with pytest.raises(GradcheckError, match=r"worst element \(13, 29\)"):
        gradcheck(lambda t: Scale(wrong_at=13 * 30 + 29)(t), [x])


def test_per_element_mode_for_many_outputs():
    x = _x(10)  # few inputs but 300 outputs: no full Jacobian
    with pytest.raises(GradcheckError, match=r"vector-Jacobian gradient of input 0 .* worst element \(7,\)"):
        gradcheck(lambda t: Scale(wrong_at=7)(t).reshape(10, 1).expand(10, 30), [x])


def test_directional_mode_catches_wrong_gradient():
    x = _x(80, 60)  # 4800 elements > elementwise_max
    with pytest.raises(GradcheckError, match=r"directional gradient of input 0 disagrees with finite differences: "
                                             r"along random direction 0: analytic"):
        gradcheck(lambda t: Scale(wrong_at=123)(t), [x])
    assert gradcheck(lambda t: Scale()(t), [x])


def test_directional_mode_catches_a_small_systematic_error():
    class Slightly(Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * 2.0 * self_x[0] * 1.01

    self_x = []

    def fn(t):
        self_x[:] = [t._data]
        return Slightly()(t)

    x = _x(100, 50)
    with pytest.raises(GradcheckError, match="directional"):
        gradcheck(fn, [x])


def test_gradcheck_tolerances_are_used():
    x = _x(2, 3)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: Scale(wrong_at=0)(t), [x])
    assert gradcheck(lambda t: Scale(wrong_at=0)(t), [x], atol=2.0)


def test_gradcheck_detects_nonfinite_analytic_gradient():
    class NanGrad(Function):
        def forward(self, x):
            return x * 1.0

        def backward(self, gy):
            g = gy.copy()
            g.reshape(-1)[1] = np.nan
            return g

    with pytest.raises(GradcheckError, match=r"worst element \(1,\): analytic nan"):
        gradcheck(lambda t: NanGrad()(t), [_x(3)])


def test_gradcheck_float32_input_raises_type_error():
    x = ck.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="gradcheck: input 0 must be float64 for finite differences, got float32"):
        gradcheck(lambda t: t * 2, [x])


def test_gradcheck_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="gradcheck: no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, [ck.tensor(np.ones(3))])


def test_gradcheck_needs_a_float_output():
    with pytest.raises(ValueError, match="gradcheck: fn returned no floating point tensor"):
        gradcheck(lambda t: t > 0, [_x(3)])


def test_post_accumulate_grad_hook_and_queued_callback_run_in_order():
    from cnnkit.autograd.backward import queue_callback
    w = ck.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    log = []

    def hook(t):
        log.append(t.grad._data.tolist())
        if len(log) == 1:
            queue_callback(lambda: log.append("end"))

    handle = w.register_post_accumulate_grad_hook(hook)
    ((w * 3.0).sum() + w.sum()).backward()
    assert log[-1] == "end" and len(log) == 3  # one call per use of w, then the callback once
    assert log[1] == [4.0, 4.0] and w.grad._data.tolist() == [4.0, 4.0]
    handle.remove()
    log.clear()
    w.sum().backward()
    assert log == []
    with pytest.raises(RuntimeError, match="no backward pass"):
        queue_callback(lambda: None)
