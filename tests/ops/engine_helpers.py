"""Shared pieces of the engine op tests: value generators, hypothesis shape strategies, and
``check_all`` = torch oracle in float64 and float32 (forward + backward) plus ``gradcheck`` in float64."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnkit as ck
from tests.oracle import check_op

DTYPES = (np.float64, np.float32)

# small shapes keep the full-Jacobian gradcheck cheap (at most 4**3 = 64 elements)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)
broadcast_triples = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**16)


def normal(shape, seed=0) -> np.ndarray:
    return np.asarray(np.random.default_rng(seed).standard_normal(shape))


def positive(shape, seed=0) -> np.ndarray:
    """Values in [0.5, ~3): safe for log, sqrt, division and as a pow base."""
    return np.asarray(0.5 + np.abs(normal(shape, seed)))


def away_from_zero(shape, seed=0) -> np.ndarray:
    """Values with |v| >= 0.3 (abs, sign, denominators: no kink or pole within finite-difference reach)."""
    v = normal(shape, seed)
    return np.asarray(np.where(v >= 0, 0.3 + v, v - 0.3))


def distinct(shape, seed=0) -> np.ndarray:
    """A random permutation of well separated values (no ties: max/min/argmax have one winner)."""
    n = int(np.prod(shape, dtype=np.int64))
    return (np.random.default_rng(seed).permutation(n) * 0.37 - n * 0.1).reshape(shape).astype(np.float64)


def check_all(ck_fn, th_fn, arrays, *, grad=None, gradcheck=True, rtol=None, what="op"):
    """``check_op`` against torch in float64 (rtol 1e-10) and float32 (1e-4), then ``gradcheck`` in float64.

    ``arrays``: float64 arrays (cast to each dtype), integer/bool arrays (passed as they are) or constants.
    """
    for dt in DTYPES:
        inputs = [a.astype(dt) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
        check_op(ck_fn, th_fn, inputs, grad=grad, rtol=rtol, what=f"{what} [{np.dtype(dt)}]")
    if gradcheck:
        idx = grad if grad is not None else [i for i, a in enumerate(arrays)
                                             if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
        inputs = [ck.tensor(a, requires_grad=(i in idx)) if isinstance(a, np.ndarray) else a
                  for i, a in enumerate(arrays)]
        assert ck.autograd.gradcheck(ck_fn, inputs)
