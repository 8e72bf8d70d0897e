"""Element-wise ops against torch: arithmetic with broadcasting, math functions, clamp, maximum/minimum,
where, comparisons, scalars on either side and dtype promotion."""
from __future__ import annotations

import operator

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnkit as ck
from tests.ops.engine_helpers import (
    away_from_zero,
    broadcast_pairs,
    broadcast_triples,
    check_all,
    normal,
    positive,
    seeds,
    shapes,
)
from tests.oracle import assert_close, check_op

# name -> (cnnkit function, operator or None, torch function, value maker for a, for b)
BINARY = {
    "add": (ck.add, operator.add, torch.add, normal, normal),
    "sub": (ck.sub, operator.sub, torch.sub, normal, normal),
    "mul": (ck.mul, operator.mul, torch.mul, normal, normal),
    "div": (ck.div, operator.truediv, torch.div, normal, away_from_zero),
    "pow": (ck.pow, operator.pow, torch.pow, positive, normal),
    "maximum": (ck.maximum, None, torch.maximum, normal, normal),
    "minimum": (ck.minimum, None, torch.minimum, normal, normal),
}

BROADCAST_CASES = [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 1), (1, 3)), ((), (2, 3)), ((2, 3), ()),
                   ((4, 1, 3), (2, 1)), ((1,), (2, 2, 2)), ((2, 1, 4), (3, 1)), ((), ())]


def _binary_check(name, sa, sb, seed=0, via_operator=False):
    ck_f, op, th_f, make_a, make_b = BINARY[name]
    a, b = make_a(sa, seed), make_b(sb, seed + 1)
    fn = op if (via_operator and op is not None) else ck_f
    check_all(fn, th_f, [a, b], what=f"{name}{sa}{sb}")


@pytest.mark.parametrize("sa, sb", BROADCAST_CASES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcast(name, sa, sb):
    _binary_check(name, sa, sb, via_operator=True)


@pytest.mark.parametrize("name", list(BINARY))
@given(pair=broadcast_pairs, seed=seeds)
def test_binary_hypothesis(name, pair, seed):
    sa, sb = pair.input_shapes
    _binary_check(name, sa, sb, seed)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_methods(name):
    make_a, make_b = BINARY[name][3:]
    a, b = make_a((2, 3), 0), make_b((3,), 1)
    check_all(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b], what=name)


def test_binary_only_one_input_requires_grad():
    for name in BINARY:
        ck_f, _, th_f, make_a, make_b = BINARY[name]
        a, b = make_a((2, 3), 0), make_b((3,), 1)
        check_all(ck_f, th_f, [a, b], grad=[0], what=f"{name} grad a")
        check_all(ck_f, th_f, [a, b], grad=[1], what=f"{name} grad b")


def test_maximum_minimum_ties_split_gradient():
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 5.0])
    for ck_f, th_f in ((ck.maximum, torch.maximum), (ck.minimum, torch.minimum)):
        for dt in (np.float64, np.float32):
            check_op(ck_f, th_f, [a.astype(dt), b.astype(dt)])


def test_maximum_broadcast_ties():
    a = np.array([[0.0, 1.0], [2.0, 1.0]])
    b = np.array([1.0, 1.0])
    check_op(ck.maximum, torch.maximum, [a, b])
    check_op(ck.minimum, torch.minimum, [a, b])


def test_max_min_with_other_tensor():
    a, b = normal((2, 3), 0), normal((2, 3), 1)
    check_all(lambda x, y: ck.max(x, y), lambda x, y: torch.max(x, y), [a, b], what="max(x, y)")
    check_all(lambda x, y: x.min(y), lambda x, y: x.min(y), [a, b], what="x.min(y)")


# ----- scalars on either side --------------------------------------------------------------------

SCALAR_CASES = {
    "x + 2": (lambda x: x + 2, normal), "2 + x": (lambda x: 2 + x, normal),
    "x + 1.5": (lambda x: x + 1.5, normal), "x - 1.5": (lambda x: x - 1.5, normal),
    "2 - x": (lambda x: 2 - x, normal), "0.5 - x": (lambda x: 0.5 - x, normal),
    "x * 0.5": (lambda x: x * 0.5, normal), "3 * x": (lambda x: 3 * x, normal),
    "x / 4": (lambda x: x / 4, normal), "1 / x": (lambda x: 1 / x, away_from_zero),
    "2.5 / x": (lambda x: 2.5 / x, away_from_zero),
    "x ** 2": (lambda x: x ** 2, normal), "x ** 3": (lambda x: x ** 3, normal),
    "x ** 0.5": (lambda x: x ** 0.5, positive), "x ** -1": (lambda x: x ** -1, away_from_zero),
    "x ** -2.5": (lambda x: x ** -2.5, positive), "x ** 0": (lambda x: x ** 0, normal),
    "x ** 1": (lambda x: x ** 1, normal),
    "2 ** x": (lambda x: 2 ** x, normal), "0.5 ** x": (lambda x: 0.5 ** x, normal),
    "-x": (lambda x: -x, normal), "+x": (lambda x: +x * 1, normal), "abs(x)": (lambda x: abs(x), away_from_zero),
}


@pytest.mark.parametrize("case", list(SCALAR_CASES))
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_scalar_operands(case, shape):
    fn, make = SCALAR_CASES[case]
    check_all(fn, fn, [make(shape, 3)], what=case)


def test_pow_function_forms():
    x = positive((2, 3), 0)
    check_all(lambda t: ck.pow(t, 2), lambda t: torch.pow(t, 2), [x], what="pow(t, 2)")
    check_all(lambda t: ck.pow(3.0, t), lambda t: torch.pow(3.0, t), [x], what="pow(3, t)")
    check_all(lambda t: t.pow(1.5), lambda t: t.pow(1.5), [x], what="t.pow(1.5)")


def test_pow_tensor_tensor_positive_base():
    a, b = positive((3, 4), 0), normal((4,), 1)
    check_all(lambda x, y: x ** y, lambda x, y: x ** y, [a, b], what="a ** b")


@given(shape=shapes, seed=seeds, exponent=st.sampled_from([2, 3, 0.5, -1, -1.5, 2.25]))
def test_pow_scalar_hypothesis(shape, seed, exponent):
    make = normal if isinstance(exponent, int) and exponent > 0 else positive
    check_all(lambda t: t ** exponent, lambda t: t ** exponent, [make(shape, seed)], what=f"x ** {exponent}")


# ----- unary math ----------------------------------------------------------------------------------

UNARY = {
    "neg": (ck.neg, torch.neg, normal), "exp": (ck.exp, torch.exp, normal), "log": (ck.log, torch.log, positive),
    "sqrt": (ck.sqrt, torch.sqrt, positive), "abs": (ck.abs, torch.abs, away_from_zero),
    "sign": (ck.sign, torch.sign, away_from_zero),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_unary(name, shape):
    ck_f, th_f, make = UNARY[name]
    check_all(ck_f, th_f, [make(shape, 1)], what=name)
    check_all(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [make(shape, 2)], what=f"t.{name}()")


@pytest.mark.parametrize("name", list(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_hypothesis(name, shape, seed):
    ck_f, th_f, make = UNARY[name]
    check_all(ck_f, th_f, [make(shape, seed)], what=name)


def test_abs_and_sign_at_zero():
    x = np.array([-2.0, 0.0, 3.0, -0.0])
    for dt in (np.float64, np.float32):
        check_op(ck.abs, torch.abs, [x.astype(dt)])
        check_op(ck.sign, torch.sign, [x.astype(dt)])


def test_unary_on_integers_match_torch_dtypes():
    i = np.array([1, 4, 9], dtype=np.int64)
    for ck_f, th_f in ((ck.exp, torch.exp), (ck.log, torch.log), (ck.sqrt, torch.sqrt), (ck.abs, torch.abs),
                       (ck.neg, torch.neg), (ck.sign, torch.sign)):
        check_op(ck_f, th_f, [i], rtol=1e-6)


# ----- clamp / clip -----------------------------------------------------------------------------

CLAMP_CASES = [dict(min=-0.5, max=0.5), dict(min=-0.5), dict(max=0.25), dict(min=0.0, max=1.0),
               dict(min=1.0, max=-1.0), dict(min=-1, max=1)]


@pytest.mark.parametrize("kw", CLAMP_CASES)
@pytest.mark.parametrize("spelling", ["ck.clamp", "ck.clip", "t.clamp", "t.clip"])
def test_clamp(kw, spelling):
    x = normal((3, 5), 4)
    if spelling.startswith("ck."):
        fn = lambda t: getattr(ck, spelling[3:])(t, **kw)  # noqa: E731
        th = lambda t: getattr(torch, spelling[3:])(t, **kw)  # noqa: E731
    else:
        fn = th = lambda t: getattr(t, spelling[2:])(**kw)
    check_all(fn, th, [x], what=f"{spelling}({kw})")


def test_clamp_gradient_at_the_bounds():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    for dt in (np.float64, np.float32):
        check_op(lambda t: t.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5), [x.astype(dt)])
        check_op(lambda t: t.clamp(min=0.0), lambda t: t.clamp(min=0.0), [x.astype(dt)])


@given(shape=shapes, seed=seeds, lo=st.sampled_from([None, -1.0, -0.3]), hi=st.sampled_from([None, 0.2, 1.5]))
def test_clamp_hypothesis(shape, seed, lo, hi):
    if lo is None and hi is None:
        lo = 0.0
    check_all(lambda t: t.clamp(lo, hi), lambda t: t.clamp(lo, hi), [normal(shape, seed)], what="clamp")


def test_clamp_dtypes():
    x32 = ck.tensor(np.ones(3, np.float32))
    assert ck.clamp(x32, np.float64(0.0), np.float64(2.0)).dtype == np.float32
    i = ck.tensor([1, 5, 9])
    check_op(lambda t: t.clamp(2, 6), lambda t: t.clamp(2, 6), [np.array([1, 5, 9])])
    assert i.clamp(min=0.5).dtype == torch.tensor([1]).clamp(min=0.5).numpy().dtype


def test_clamp_errors():
    x = ck.tensor([1.0])
    with pytest.raises(ValueError, match="clamp: at least one of min and max must be given"):
        x.clamp()
    with pytest.raises(TypeError, match="clamp: min and max must be numbers, got str"):
        x.clamp(min="0")


# ----- where -------------------------------------------------------------------------------------

@given(triple=broadcast_triples, seed=seeds)
def test_where_hypothesis(triple, seed):
    sc, sx, so = triple.input_shapes
    cond = np.asarray(np.random.default_rng(seed).random(sc) > 0.5)
    check_all(lambda c, x, o: ck.where(c, x, o), torch.where, [cond, normal(sx, seed), normal(so, seed + 1)],
              what="where")


def test_where_explicit():
    cond = np.array([[True, False, True]])
    x, o = normal((2, 3), 0), normal((2, 1), 1)
    check_all(lambda c, a, b: ck.where(c, a, b), torch.where, [cond, x, o], what="where")
    check_all(lambda c, a: ck.where(c, a, 0.0), lambda c, a: torch.where(c, a, 0.0), [cond, x], what="where scalar")
    check_all(lambda c, a: ck.where(c, 1.5, a), lambda c, a: torch.where(c, 1.5, a), [cond, x], what="where 1.5")
    # condition given as a comparison of tensors
    check_all(lambda a: ck.where(a > 0, a, a * 0.1), lambda a: torch.where(a > 0, a, a * 0.1), [x], what="leaky")


def test_where_errors():
    x = ck.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got dtype float32"):
        ck.where(x, x, x)
    with pytest.raises(ValueError, match=r"where: shapes \(3,\), \(2,\) and \(2,\) do not broadcast"):
        ck.where(np.array([True, False, True]), x, x)


# ----- comparisons -------------------------------------------------------------------------------

COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda o: o.__name__)
def test_comparisons(op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    ta = ck.tensor(a, requires_grad=True)
    for other in (ck.tensor(b), 2.0, 2, ck.tensor(b.astype(np.float32))):
        r = op(ta, other)
        t_other = torch.from_numpy(other._data) if isinstance(other, ck.Tensor) else other
        expected = op(torch.from_numpy(a), t_other)
        assert r.dtype == np.bool_ and not r.requires_grad and r.creator is None
        np.testing.assert_array_equal(r.data, expected.numpy())
    # a number on the left
    np.testing.assert_array_equal(op(2.0, ta).data, op(2.0, torch.from_numpy(a)).numpy())
    name = op.__name__
    np.testing.assert_array_equal(getattr(ck, name)(ta, 2.0).data, getattr(torch, name)(torch.from_numpy(a), 2.0))
    np.testing.assert_array_equal(getattr(ta, name)(2.0).data, getattr(torch.from_numpy(a), name)(2.0))


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda o: o.__name__)
@given(pair=broadcast_pairs, seed=seeds)
def test_comparisons_hypothesis(op, pair, seed):
    sa, sb = pair.input_shapes
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 3, sa).astype(np.float32), rng.integers(0, 3, sb).astype(np.float32)
    check_op(op, op, [a, b], grad=[], what=op.__name__)


def test_logical_ops():
    a, b = np.array([True, False, True, False]), np.array([True, True, False, False])
    ta, tb = ck.tensor(a), ck.tensor(b)
    np.testing.assert_array_equal((ta & tb)._data, a & b)
    np.testing.assert_array_equal((ta | tb)._data, a | b)
    np.testing.assert_array_equal((ta ^ tb)._data, a ^ b)
    np.testing.assert_array_equal((~ta)._data, ~a)
    np.testing.assert_array_equal(ck.isnan(ck.tensor([1.0, np.nan]))._data, [False, True])
    np.testing.assert_array_equal(ck.isfinite(ck.tensor([1.0, np.inf]))._data, [True, False])


def test_comparison_errors():
    with pytest.raises(ValueError, match=r"lt: shapes \(2,\) and \(3,\) do not broadcast"):
        ck.tensor([1.0, 2.0]) < ck.tensor([1.0, 2.0, 3.0])


# ----- dtype promotion -------------------------------------------------------------------------------

@pytest.mark.parametrize("build, expected", [
    (lambda m, f32, f64, i64, i32: f32 * 2.5, np.float32),
    (lambda m, f32, f64, i64, i32: 2.5 * f32, np.float32),
    (lambda m, f32, f64, i64, i32: f32 + 1, np.float32),
    (lambda m, f32, f64, i64, i32: f32 * np.float64(2.0), np.float32),
    (lambda m, f32, f64, i64, i32: np.float64(2.0) - f32, np.float32),
    (lambda m, f32, f64, i64, i32: f32 ** np.float64(2.0), np.float32),
    (lambda m, f32, f64, i64, i32: f32 + f64, np.float64),
    (lambda m, f32, f64, i64, i32: f64 * f32, np.float64),
    (lambda m, f32, f64, i64, i32: i64 + 1.5, np.float32),
    (lambda m, f32, f64, i64, i32: 1.5 * i64, np.float32),
    (lambda m, f32, f64, i64, i32: i64 + 2, np.int64),
    (lambda m, f32, f64, i64, i32: i64 / 2, np.float32),
    (lambda m, f32, f64, i64, i32: i64 / i64, np.float32),
    (lambda m, f32, f64, i64, i32: i64 + f32, np.float32),
    (lambda m, f32, f64, i64, i32: i32 + i64, np.int64),
    (lambda m, f32, f64, i64, i32: i32 * 3, np.int32),
    (lambda m, f32, f64, i64, i32: i64 ** 2, np.int64),
    (lambda m, f32, f64, i64, i32: i64 ** 0.5, np.float32),
    (lambda m, f32, f64, i64, i32: 2 ** i64, np.int64),
    (lambda m, f32, f64, i64, i32: 2.0 ** i64, np.float32),
    (lambda m, f32, f64, i64, i32: m.maximum(i64.double(), f64) * i64, np.float64),
    (lambda m, f32, f64, i64, i32: m.where(i64 > 1, f32, 0.0), np.float32),
    (lambda m, f32, f64, i64, i32: m.where(i64 > 1, i64, 0.5), np.float32),
    (lambda m, f32, f64, i64, i32: f32.exp(), np.float32),
    (lambda m, f32, f64, i64, i32: f32.sqrt() / 3, np.float32),
])
def test_dtype_promotion_matches_torch(build, expected):
    arrays = dict(f32=np.array([1.0, 2.0], np.float32), f64=np.array([3.0, 4.0]),
                  i64=np.array([1, 2], np.int64), i32=np.array([5, 6], np.int32))
    r = build(ck, *(ck.tensor(a) for a in arrays.values()))
    t = build(torch, *(torch.from_numpy(a) for a in arrays.values()))
    assert r.dtype == expected
    assert r.dtype == t.numpy().dtype
    np.testing.assert_allclose(r._data, t.numpy(), rtol=1e-6)


def test_mixed_dtype_gradients_keep_each_input_dtype():
    a, b = normal((2, 3), 0).astype(np.float32), normal((3,), 1)
    # the float32 input's gradient is float32, the float64 one's float64 (check_op compares dtypes with torch)
    check_op(lambda x, y: x * y + x, lambda x, y: x * y + x, [a, b], rtol=1e-6)
    x = ck.tensor(a, requires_grad=True)
    (x * 2.5).sum().backward()
    assert x.grad.dtype == np.float32
    i = ck.tensor([1, 2, 3])
    w = ck.tensor(np.ones(3, np.float32), requires_grad=True)
    (i * w).sum().backward()
    np.testing.assert_array_equal(w.grad._data, [1.0, 2.0, 3.0])
    assert w.grad.dtype == np.float32


def test_cast_gradient():
    x = normal((2, 3), 0).astype(np.float32)
    check_op(lambda t: t.double() * 2, lambda t: t.double() * 2, [x])
    check_op(lambda t: t.to(ck.float64).exp(), lambda t: t.to(torch.float64).exp(), [x])
    check_op(lambda t: t.float() * 3, lambda t: t.float() * 3, [x.astype(np.float64)])


# ----- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(BINARY))
def test_binary_shape_mismatch_error(name):
    ck_f = BINARY[name][0]
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) do not broadcast"):
        ck_f(ck.tensor(np.ones((2, 3))), ck.tensor(np.ones(4)))


def test_operand_type_errors():
    x = ck.tensor([1.0])
    with pytest.raises(TypeError, match="add: expected a Tensor, array or number, got str"):
        x + "a"
    with pytest.raises(TypeError, match="mul: expected a Tensor, array or number, got NoneType"):
        x * None
    with pytest.raises(TypeError, match="log: expected a Tensor, array or number, got str"):
        ck.log("a")


def test_clone():
    x = normal((2, 3), 0)
    check_all(lambda t: t.clone() * 2, lambda t: t.clone() * 2, [x], what="clone")
    t = ck.tensor(x)
    c = t.clone()
    assert not np.shares_memory(c._data, t._data)


def test_ndarray_on_the_left_defers_to_tensor():
    a = np.array([1.0, 2.0], np.float32)
    x = ck.tensor([3.0, 4.0], requires_grad=True)
    y = a * x
    assert isinstance(y, ck.Tensor) and y.requires_grad
    y.sum().backward()
    assert_close(x.grad, a, 0, "grad")
