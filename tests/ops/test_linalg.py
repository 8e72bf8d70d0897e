"""matmul / @ (vectors, matrices, batched, broadcast batch dims) and linear against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnkit as ck
from cnnkit.ops.linalg import linear
from tests.ops.engine_helpers import check_all, normal
from tests.oracle import check_op

MATMUL_CASES = [
    ((4,), (4,)),               # 1-d @ 1-d: a scalar
    ((3,), (3, 5)),             # 1-d @ 2-d
    ((2, 3), (3,)),             # 2-d @ 1-d
    ((2, 3), (3, 4)),           # 2-d @ 2-d
    ((1, 1), (1, 1)),
    ((5, 2, 3), (5, 3, 4)),     # batched
    ((5, 2, 3), (3, 4)),        # batched @ matrix (the matrix's gradient is summed over the batch)
    ((2, 3), (5, 3, 4)),        # matrix @ batched
    ((5, 2, 3), (3,)),          # batched @ vector
    ((3,), (5, 3, 4)),          # vector @ batched
    ((2, 1, 2, 3), (4, 3, 2)),  # broadcast batch dims
    ((1, 3, 2, 3), (2, 1, 3, 1)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_CASES)
def test_matmul(sa, sb):
    a, b = normal(sa, 0), normal(sb, 1)
    check_all(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], what=f"{sa} @ {sb}")
    check_all(ck.matmul, torch.matmul, [a, b], what="ck.matmul")
    check_all(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b], grad=[1], what="x.matmul(y) grad y")
    check_all(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b], grad=[0], what="x.matmul(y) grad x")


@st.composite
def matmul_case(draw):
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1, max_side=3))
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    sa, sb = batch.input_shapes[0] + (n, k), batch.input_shapes[1] + (k, m)
    if draw(st.booleans()):
        sa = (k,)
    elif draw(st.booleans()):
        sb = (k,)
    return sa, sb, draw(st.integers(0, 2**16))


@given(case=matmul_case())
def test_matmul_hypothesis(case):
    sa, sb, seed = case
    check_all(lambda x, y: x @ y, lambda x, y: x @ y, [normal(sa, seed), normal(sb, seed + 1)],
              what=f"{sa} @ {sb}")


def test_matmul_with_array_operands_and_integers():
    w = normal((3, 2), 0)
    check_all(lambda x: x @ w.astype(x.dtype), lambda x: x @ torch.from_numpy(w).to(x.dtype), [normal((4, 3), 1)],
              what="tensor @ ndarray")
    check_all(lambda x: w.T.astype(x.dtype) @ x, lambda x: torch.from_numpy(w.T.copy()).to(x.dtype) @ x,
              [normal((3, 5), 2)], what="ndarray @ tensor")
    check_op(lambda x, y: x @ y, lambda x, y: x @ y, [np.arange(6).reshape(2, 3), np.arange(3)])


def test_matmul_float32_result_dtype():
    a, b = ck.tensor(np.ones((2, 3), np.float32)), ck.tensor(np.ones((3, 2), np.float32))
    assert (a @ b).dtype == np.float32


def test_matmul_large_values_float32_precision():
    a, b = normal((64, 128), 0) * 10, normal((128, 32), 1) * 10
    check_all(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], gradcheck=False, what="large")


# ----- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa, sb, pattern", [
    ((4, 256), (400, 120), r"matmul: shapes \(4, 256\) and \(400, 120\) are not aligned"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) are not aligned"),
    ((2, 3), (4,), r"matmul: shapes \(2, 3\) and \(4,\) are not aligned"),
    ((3,), (4, 2), r"matmul: shapes \(3,\) and \(4, 2\) are not aligned"),
    ((5, 2, 3), (5, 2, 3), r"matmul: shapes \(5, 2, 3\) and \(5, 2, 3\) are not aligned"),
    ((2, 2, 3), (3, 3, 2), r"matmul: batch dims of shapes \(2, 2, 3\) and \(3, 3, 2\) do not broadcast"),
    ((), (2, 3), r"matmul: both operands need at least one dim, got shapes \(\) and \(2, 3\)"),
])
def test_matmul_errors(sa, sb, pattern):
    with pytest.raises(ValueError, match=pattern):
        ck.tensor(np.ones(sa)) @ ck.tensor(np.ones(sb))


def test_matmul_error_message_in_full():
    with pytest.raises(ValueError) as info:
        ck.matmul(ck.tensor(np.ones((4, 256))), ck.tensor(np.ones((400, 120))))
    assert str(info.value) == "matmul: shapes (4, 256) and (400, 120) are not aligned (256 (dim 1) != 400 (dim 0))"


# ----- linear -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias):
    x, w, b = normal(x_shape, 0), normal((3, 5), 1), normal((3,), 2)
    if bias:
        check_all(linear, TF.linear, [x, w, b], what="linear")
        check_all(linear, TF.linear, [x, w, b], grad=[1, 2], what="linear without input grad")
    else:
        check_all(linear, TF.linear, [x, w], what="linear no bias")


def test_linear_errors():
    x, w = ck.tensor(np.ones((2, 4))), ck.tensor(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 4\) does not match weight of shape \(3, 5\)"):
        linear(x, w)
    with pytest.raises(TypeError, match="linear: input, weight and bias must have one dtype"):
        linear(ck.tensor(np.ones((2, 5), np.float32)), w)
