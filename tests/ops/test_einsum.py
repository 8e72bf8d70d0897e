"""einsum against torch.einsum: matrix products, batched products, traces and diagonals, sums, outer products,
ellipsis (with size-1 broadcasting), implicit output, three operands; forward and gradient in float64 and float32,
gradcheck, hypothesis shapes, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnkit as ck
from tests.ops.engine_helpers import check_all, normal
from tests.oracle import check_op

CASES = [("ij,jk->ik", [(3, 4), (4, 5)]), ("ii->i", [(4, 4)]), ("ii", [(3, 3)]), ("bchw,c->bhw", [(2, 3, 4, 5), (3,)]),
         ("...ij->...ji", [(2, 3, 4)]), ("ij->", [(3, 4)]), ("i,j->ij", [(3,), (4,)]),
         ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij,ij->i", [(3, 1), (3, 4)]), ("iij->j", [(3, 3, 2)]),
         ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ab", [(2, 3)]), ("ba", [(2, 3)]),
         ("i...,i...->...", [(3, 2, 1), (3, 1, 4)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
         ("i j , j -> i", [(3, 4), (4,)]), ("ijk->kji", [(2, 3, 4)]), ("i,i->", [(5,), (5,)])]


@pytest.mark.parametrize("equation, shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum(equation, shapes):
    arrays = [normal(s, k) for k, s in enumerate(shapes)]
    check_all(lambda *xs: ck.einsum(equation, *xs), lambda *xs: torch.einsum(equation, *xs), arrays,
              what=f"einsum {equation}")


def test_operands_as_a_list():
    a, b = normal((2, 3)), normal((3, 2), 1)
    check_all(lambda x, y: ck.einsum("ij,jk", [x, y]), lambda x, y: torch.einsum("ij,jk", [x, y]), [a, b],
              what="einsum list")


@settings(max_examples=30, deadline=None)
@given(b=st.integers(1, 3), i=st.integers(1, 4), j=st.integers(1, 4), k=st.integers(1, 4), seed=st.integers(0, 2 ** 16),
       equation=st.sampled_from(["bij,bjk->bik", "bij,bjk->bk", "bij,bjk->", "bij,bjk->kib", "bij,bjk->bijk"]))
def test_einsum_hypothesis(b, i, j, k, seed, equation):
    arrays = [normal((b, i, j), seed), normal((b, j, k), seed + 1)]
    for dt in (np.float64, np.float32):
        check_op(lambda x, y: ck.einsum(equation, x, y), lambda x, y: torch.einsum(equation, x, y),
                 [a.astype(dt) for a in arrays], what=f"einsum {equation}")


@pytest.mark.parametrize("call, error, match", [
    (lambda: ck.einsum("ij,jk->ik", ck.ones(2, 3), ck.ones(4, 2)), ValueError, "subscript 'j' has size 4"),
    (lambda: ck.einsum("ij->ik", ck.ones(2, 3)), ValueError, "output letters k are not in any operand"),
    (lambda: ck.einsum("ij,jk", ck.ones(2, 3)), ValueError, "names 2 operands, got 1"),
    (lambda: ck.einsum("ijk", ck.ones(2, 3)), ValueError, "does not fit an operand with 2 dims"),
    (lambda: ck.einsum("ij->ii", ck.ones(2, 2)), ValueError, "repeats a letter"),
    (lambda: ck.einsum("i1", ck.ones(2, 2)), ValueError, "invalid subscript"),
    (lambda: ck.einsum("ii", ck.ones(2, 3)), ValueError, "repeated subscript 'i' needs equal sizes"),
    (lambda: ck.einsum("i,i", ck.ones(2), ck.ones(2, dtype=ck.float64)), TypeError, "one dtype"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
