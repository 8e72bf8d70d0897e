"""Shape ops and indexing against torch: reshape/view, flatten, squeeze/unsqueeze, transpose/permute/.T,
expand, cat/stack/split/chunk, constant pad (negative = crop), and x[...] with every kind of index."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnkit as ck
from tests.ops.engine_helpers import check_all, nonscalar_shapes, normal, seeds, shapes
from tests.oracle import assert_close, check_op

small_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3)


# ----- reshape / view / flatten ------------------------------------------------------------------------

@pytest.mark.parametrize("target", [(6, 4), (24,), (-1,), (2, -1), (-1, 3, 2), (4, 3, 2, 1), (1, 24), ((3, 8),)])
@pytest.mark.parametrize("method", ["reshape", "view"])
def test_reshape_view(method, target):
    x = normal((2, 3, 4), 0)
    fn = lambda t: getattr(t, method)(*target)  # noqa: E731
    check_all(fn, fn, [x], what=f"{method}{target}")
    check_all(lambda t: ck.reshape(t, target[0] if isinstance(target[0], tuple) else target),
              lambda t: torch.reshape(t, target[0] if isinstance(target[0], tuple) else target), [x], what="ck.reshape")


def test_reshape_of_non_contiguous_and_scalar():
    x = normal((3, 4), 1)
    check_all(lambda t: t.T.reshape(2, 6), lambda t: t.T.reshape(2, 6), [x], what="T.reshape")
    check_all(lambda t: t.reshape(1, 1), lambda t: t.reshape(1, 1), [normal((), 2)], what="0-d reshape")
    check_all(lambda t: t.reshape(()), lambda t: t.reshape(()), [normal((1, 1), 2)], what="to 0-d")
    check_all(lambda t: t.view_as(t.reshape(4, 3)) * 1, lambda t: t.view_as(t.reshape(4, 3)) * 1, [x], what="view_as")


@st.composite
def reshape_case(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    n = int(np.prod(shape, dtype=np.int64))
    target, rest = [], n
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        target.append(d)
        rest //= d
    target.append(rest)
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target), draw(seeds)


@given(case=reshape_case())
def test_reshape_hypothesis(case):
    shape, target, seed = case
    check_all(lambda t: t.reshape(target), lambda t: t.reshape(target), [normal(shape, seed)],
              what=f"{shape}.reshape{target}")


@pytest.mark.parametrize("start, end", [(0, -1), (1, -1), (0, 1), (1, 2), (2, 3), (-2, -1), (3, 3), (0, 0)])
def test_flatten(start, end):
    x = normal((2, 3, 2, 2), 0)
    check_all(lambda t: t.flatten(start, end), lambda t: t.flatten(start, end), [x], what=f"flatten({start},{end})")
    check_all(lambda t: ck.flatten(t, start_dim=start, end_dim=end),
              lambda t: torch.flatten(t, start_dim=start, end_dim=end), [x], what="ck.flatten")


def test_flatten_0d():
    check_all(lambda t: t.flatten(), lambda t: t.flatten(), [normal((), 0)], what="flatten 0-d")


# ----- squeeze / unsqueeze -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [None, 0, 1, 2, -1, -2, (0, 3), (1, 3)])
def test_squeeze(dim):
    x = normal((1, 3, 1, 1), 0)
    fn = (lambda t: t.squeeze()) if dim is None else (lambda t: t.squeeze(dim))
    check_all(fn, fn, [x], what=f"squeeze({dim})")
    check_all(lambda t: ck.squeeze(t, dim), (lambda t: torch.squeeze(t)) if dim is None else
              (lambda t: torch.squeeze(t, dim)), [x], what="ck.squeeze")


@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -2, -4])
def test_unsqueeze(dim):
    x = normal((2, 3, 4), 0)
    check_all(lambda t: t.unsqueeze(dim), lambda t: t.unsqueeze(dim), [x], what=f"unsqueeze({dim})")
    check_all(lambda t: ck.unsqueeze(t, dim), lambda t: torch.unsqueeze(t, dim), [x], what="ck.unsqueeze")
    check_all(lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0), [normal((), 1)], what="unsqueeze 0-d")


@given(shape=small_shapes, seed=seeds, data=st.data())
def test_squeeze_unsqueeze_hypothesis(shape, seed, data):
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1))
    check_all(lambda t: t.squeeze(d), lambda t: t.squeeze(d), [normal(shape, seed)], what=f"squeeze{shape} {d}")
    u = data.draw(st.integers(-nd - 1, nd))
    check_all(lambda t: t.unsqueeze(u), lambda t: t.unsqueeze(u), [normal(shape, seed)], what=f"unsqueeze {u}")
    check_all(lambda t: t.squeeze(), lambda t: t.squeeze(), [normal(shape, seed)], what="squeeze()")


# ----- transpose / permute / .T / t() ----------------------------------------------------------------

@pytest.mark.parametrize("d0, d1", [(0, 1), (1, 0), (0, 2), (-1, -2), (1, 1), (2, -3)])
def test_transpose(d0, d1):
    x = normal((2, 3, 4), 0)
    check_all(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), [x], what=f"transpose({d0},{d1})")
    check_all(lambda t: ck.transpose(t, d0, d1), lambda t: torch.transpose(t, d0, d1), [x], what="ck.transpose")


@pytest.mark.parametrize("dims", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (-1, 0, 1), (0, 2, 1)])
def test_permute(dims):
    x = normal((2, 3, 4), 0)
    check_all(lambda t: t.permute(*dims), lambda t: t.permute(*dims), [x], what=f"permute{dims}")
    check_all(lambda t: t.permute(dims), lambda t: t.permute(dims), [x], what="permute(tuple)")
    check_all(lambda t: ck.permute(t, dims), lambda t: torch.permute(t, dims), [x], what="ck.permute")


@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), seed=seeds, data=st.data())
def test_permute_transpose_hypothesis(shape, seed, data):
    nd = len(shape)
    perm = tuple(data.draw(st.permutations(range(nd))))
    check_all(lambda t: t.permute(perm), lambda t: t.permute(perm), [normal(shape, seed)], what=f"permute{perm}")
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    check_all(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), [normal(shape, seed)],
              what=f"transpose{d0, d1}")


@pytest.mark.parametrize("shape", [(3, 4), (5,), (1, 1)])
def test_T_and_t(shape):
    x = normal(shape, 0)
    check_all(lambda t: t.T, lambda t: t.permute(*reversed(range(t.ndim))), [x], what=".T")
    check_all(lambda t: t.t(), lambda t: t.t(), [x], what=".t()")
    check_all(lambda t: ck.t(t), lambda t: torch.t(t), [x], what="ck.t")


def test_T_reverses_all_dims():
    x = normal((2, 3, 4), 0)
    check_all(lambda t: t.T, lambda t: t.permute(2, 1, 0), [x], what=".T 3-d")


# ----- expand ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, sizes", [
    ((3, 1), (3, 4)), ((3, 1), (-1, 4)), ((1,), (5,)), ((3, 1), (2, 3, 4)), ((3, 1), (2, -1, 4)),
    ((), (2, 3)), ((1, 4), (1, 4)), ((2, 1, 1), (2, 3, 5)), ((4,), (2, 3, 4)),
])
def test_expand(shape, sizes):
    x = normal(shape, 0)
    check_all(lambda t: t.expand(*sizes), lambda t: t.expand(*sizes), [x], what=f"expand{sizes}")
    check_all(lambda t: t.expand(sizes), lambda t: t.expand(sizes), [x], what="expand(tuple)")
    check_all(lambda t: ck.expand(t, sizes) * 1, lambda t: t.expand(sizes) * 1, [x], what="ck.expand")


def test_expand_as():
    x, y = normal((3, 1), 0), normal((2, 3, 4), 1)
    check_all(lambda a, b: a.expand_as(b) * b, lambda a, b: a.expand_as(b) * b, [x, y], what="expand_as")


@st.composite
def expand_case(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    sizes = [draw(st.integers(1, 3)) if s == 1 else (s if draw(st.booleans()) else -1) for s in shape]
    lead = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    return shape, tuple(lead + sizes), draw(seeds)


@given(case=expand_case())
def test_expand_hypothesis(case):
    shape, sizes, seed = case
    check_all(lambda t: t.expand(sizes), lambda t: t.expand(sizes), [normal(shape, seed)], what=f"expand{sizes}")


# ----- cat / stack --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes_, dim", [
    ([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 5)], 1), ([(2, 3), (2, 2)], -1), ([(3,), (1,), (2,)], 0),
    ([(1, 2, 3), (1, 2, 3)], 2), ([(2, 2, 3), (2, 1, 3)], -2), ([(4, 2)], 0), ([(2, 0), (2, 3)], 1),
])
def test_cat(shapes_, dim):
    xs = [normal(s, k) for k, s in enumerate(shapes_)]
    check_all(lambda *ts: ck.cat(ts, dim), lambda *ts: torch.cat(ts, dim), xs, what=f"cat dim={dim}")
    check_all(lambda *ts: ck.cat(list(ts), dim=dim), lambda *ts: torch.cat(list(ts), dim=dim), xs, what="cat list")
    check_all(lambda *ts: ck.concatenate(ts, dim), lambda *ts: torch.concatenate(ts, dim), xs, what="concatenate")


def test_cat_only_some_inputs_require_grad_and_mixed_dtypes():
    xs = [normal((2, 3), 0), normal((1, 3), 1), normal((3, 3), 2)]
    check_all(lambda *ts: ck.cat(ts), lambda *ts: torch.cat(ts), xs, grad=[0, 2], what="cat some grads")
    a, b = normal((2, 3), 0).astype(np.float32), normal((1, 3), 1)
    check_op(lambda p, q: ck.cat([p, q]), lambda p, q: torch.cat([p, q]), [a, b], rtol=1e-6)
    check_op(lambda p: ck.cat([p, ck.tensor([[1, 2, 3]])]), lambda p: torch.cat([p, torch.tensor([[1, 2, 3]])]),
             [a])


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_cat_hypothesis(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    shapes_ = [tuple(s if i != dim % nd else k for i, s in enumerate(shape)) for k in sizes]
    xs = [normal(s, seed + k) for k, s in enumerate(shapes_)]
    check_all(lambda *ts: ck.cat(ts, dim), lambda *ts: torch.cat(ts, dim), xs, what=f"cat{shapes_} dim={dim}")


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim):
    xs = [normal((2, 3), k) for k in range(3)]
    check_all(lambda *ts: ck.stack(ts, dim), lambda *ts: torch.stack(ts, dim), xs, what=f"stack dim={dim}")
    check_all(lambda *ts: ck.stack(list(ts), dim=dim), lambda *ts: torch.stack(list(ts), dim=dim), xs,
              what="stack list")


@given(shape=shapes, seed=seeds, data=st.data())
def test_stack_hypothesis(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd - 1, nd))
    k = data.draw(st.integers(1, 3))
    xs = [normal(shape, seed + i) for i in range(k)]
    check_all(lambda *ts: ck.stack(ts, dim), lambda *ts: torch.stack(ts, dim), xs, what=f"stack{shape} dim={dim}")


# ----- split / chunk ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arg, dim", [(2, 0), (3, 0), (1, 1), (4, 1), (5, 1), (10, 0), ([1, 4], 0), ([2, 0, 3], 0),
                                      ([3, 1], -1), ([4], 1), (2, -1)])
def test_split(arg, dim):
    x = normal((5, 4), 0)
    check_all(lambda t: t.split(arg, dim), lambda t: t.split(arg, dim), [x], what=f"split({arg}, {dim})")
    check_all(lambda t: ck.split(t, arg, dim=dim), lambda t: torch.split(t, arg, dim=dim), [x], what="ck.split")


def test_split_returns_tuple_and_unused_pieces_get_zero_gradient():
    x = ck.tensor(normal((6, 2), 0), requires_grad=True)
    parts = x.split(2)
    assert isinstance(parts, tuple) and len(parts) == 3
    (parts[1] * 3).sum().backward()
    expected = np.zeros((6, 2))
    expected[2:4] = 3
    np.testing.assert_array_equal(x.grad._data, expected)


@pytest.mark.parametrize("chunks, dim", [(1, 0), (2, 0), (3, 0), (4, 0), (6, 0), (7, 0), (2, 1), (3, -1)])
def test_chunk(chunks, dim):
    x = normal((6, 5), 0)
    check_all(lambda t: t.chunk(chunks, dim), lambda t: t.chunk(chunks, dim), [x], what=f"chunk({chunks}, {dim})")
    check_all(lambda t: ck.chunk(t, chunks, dim=dim), lambda t: torch.chunk(t, chunks, dim=dim), [x],
              what="ck.chunk")


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_split_chunk_hypothesis(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    size = data.draw(st.integers(1, 5))
    x = normal(shape, seed)
    check_all(lambda t: t.split(size, dim), lambda t: t.split(size, dim), [x], what=f"split({size}, {dim})")
    check_all(lambda t: t.chunk(size, dim), lambda t: t.chunk(size, dim), [x], what=f"chunk({size}, {dim})")
    n = shape[dim]
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sections = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    check_all(lambda t: t.split(sections, dim), lambda t: t.split(sections, dim), [x], what=f"split({sections})")


# ----- pad ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pad", [(1, 1), (0, 2), (2, 0, 1, 3), (1, 1, 1, 1, 1, 1), (-1, 0), (-1, -2), (1, -2),
                                 (-1, 2, 0, -1), (0, 0), (2, -1, -1, 1, 1, 0)])
@pytest.mark.parametrize("value", [0.0, 1.5])
def test_pad(pad, value):
    x = normal((2, 3, 4), 0)
    check_all(lambda t: ck.pad(t, pad, value=value), lambda t: TF.pad(t, pad, value=value), [x],
              what=f"pad{pad} value={value}")
    check_all(lambda t: ck.pad(t, list(pad), "constant", value),
              lambda t: TF.pad(t, list(pad), "constant", value), [x], what="pad positional")


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_pad_hypothesis(shape, seed, data):
    k = data.draw(st.integers(1, len(shape)))
    pad = []
    for d in range(k):
        n = shape[len(shape) - 1 - d]
        lo = data.draw(st.integers(-n + 1, 2))
        # keep at least one element, and never crop more than the input has (torch's rule)
        hi = data.draw(st.integers(max(1 - n - lo, -(n + min(lo, 0))), 2))
        pad += [lo, hi]
    check_all(lambda t: ck.pad(t, pad), lambda t: TF.pad(t, pad), [normal(shape, seed)], what=f"pad{shape} {pad}")


def test_pad_int_tensor_keeps_dtype():
    check_op(lambda t: ck.pad(t, (1, 1), value=7), lambda t: TF.pad(t, (1, 1), value=7),
             [np.array([[1, 2], [3, 4]])])


# ----- indexing --------------------------------------------------------------------------------------------

def _th_index(index):
    """The same index for torch: numpy arrays become torch tensors."""
    def conv(i):
        return torch.from_numpy(i) if isinstance(i, np.ndarray) else i
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


X345 = normal((3, 4, 5), 0)
MASK_FULL = X345 > 0.2
MASK_ROWS = np.array([True, False, True])
MASK_2D = np.array([[True, False, False, True], [False, False, True, False], [True, True, True, True]])

INDEXES = {
    "int": 1, "neg int": -1, "two ints": (2, -3), "three ints": (0, 1, 2), "slice": slice(1, 3),
    "open slice": slice(None, 2), "step": slice(None, None, 2), "step 3": (slice(None), slice(None, None, 3)),
    "neg slice": slice(-2, None), "neg stop step": (slice(None), slice(0, -1, 2)),
    "out of range slice": slice(1, 10), "empty slice": slice(2, 1),
    "int and slice": (1, slice(1, 3)), "slice int slice": (slice(None), 2, slice(1, None, 2)),
    "None": None, "None mid": (slice(None), None, 1), "None end": (Ellipsis, None),
    "ellipsis": (Ellipsis, 1), "ellipsis mid": (0, Ellipsis, slice(1, 3)), "ellipsis alone": Ellipsis,
    "mask full": MASK_FULL, "mask rows": MASK_ROWS, "mask 2d": MASK_2D, "mask and slice": (MASK_ROWS, slice(1, 3)),
    "mask after slice": (slice(None), np.array([True, False, True, True])),
    "mask and int": (MASK_ROWS, 2),
    "int array": np.array([2, 0]), "repeated": np.array([0, 2, 0, 0]), "neg array": np.array([-1, 0, -1]),
    "2d int array": np.array([[0, 1], [1, 1]]),
    "array second dim": (slice(None), np.array([3, 3, 1])), "array last dim": (Ellipsis, np.array([4, 4, 0, 4])),
    "two arrays": (np.array([0, 1, 0]), np.array([1, 1, 1])), "two arrays repeated pairs":
        (np.array([2, 2, 2]), np.array([3, 3, 0]), np.array([1, 1, 1])),
    "arrays split by slice": (np.array([0, 0]), slice(None), np.array([4, 4])),
    "array and int": (1, np.array([0, 0, 3])), "array and None": (None, np.array([1, 1])),
    "broadcast arrays": (np.array([[0], [2]]), np.array([1, 1, 3])),
    "list index": [0, 0, 2],
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem(name):
    index = INDEXES[name]
    ck_index = [0, 0, 2] if name == "list index" else index
    th_index = [0, 0, 2] if name == "list index" else _th_index(index)
    check_all(lambda t: t[ck_index], lambda t: t[th_index], [X345], what=f"x[{name}]")


def test_getitem_with_tensor_indices():
    idx, mask = ck.tensor([1, 1, 0]), ck.tensor(MASK_ROWS)
    check_all(lambda t: t[idx], lambda t: t[torch.tensor([1, 1, 0])], [X345], what="tensor index")
    check_all(lambda t: t[mask], lambda t: t[torch.from_numpy(MASK_ROWS)], [X345], what="tensor mask")
    check_all(lambda t: t[t > 0], lambda t: t[t > 0], [X345], what="x[x > 0]")
    check_all(lambda t: t[:, ck.tensor(2)], lambda t: t[:, torch.tensor(2)], [X345], what="0-d tensor index")


def test_repeated_indices_accumulate_gradient():
    x = ck.tensor(np.arange(4.0), requires_grad=True)
    y = x[np.array([1, 1, 1, 3])]
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad._data, [0.0, 6.0, 0.0, 4.0])
    x2 = ck.tensor(np.zeros((2, 2)), requires_grad=True)
    x2[np.array([0, 0, 1]), np.array([1, 1, 0])].sum().backward()
    np.testing.assert_array_equal(x2.grad._data, [[0.0, 2.0], [1.0, 0.0]])


def test_negative_steps_follow_numpy():
    # torch does not support negative steps; NumPy semantics, checked by hand and by gradcheck
    x = normal((4, 5), 1)
    t = ck.tensor(x, requires_grad=True)
    y = t[::-1, 4:0:-2]
    np.testing.assert_array_equal(y._data, x[::-1, 4:0:-2])
    w = normal(y.shape, 2)
    (y * ck.tensor(w)).sum().backward()
    expected = np.zeros_like(x)
    expected[::-1, 4:0:-2] = w
    np.testing.assert_array_equal(t.grad._data, expected)
    assert ck.autograd.gradcheck(lambda a: a[::-2, ::-1], [ck.tensor(x, requires_grad=True)])


@st.composite
def index_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    parts, used_array = [], False
    for n in shape[:draw(st.integers(0, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "full", "none", "array"]))
        if kind == "none":
            parts.append(None)
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "array" and not used_array:
            used_array = True
            parts.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5)), dtype=np.int64))
        elif kind in ("slice", "array", "none"):
            bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
            parts.append(slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(1, 3)))))
        else:
            parts.append(slice(None))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), Ellipsis)
    return shape, tuple(parts), draw(seeds)


@given(case=index_case())
def test_getitem_hypothesis(case):
    shape, index, seed = case
    check_all(lambda t: t[index], lambda t: t[_th_index(index)], [normal(shape, seed)], what=f"x{shape}[{index}]")


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_getitem_mask_hypothesis(shape, seed, data):
    k = data.draw(st.integers(1, len(shape)))
    mask = np.asarray(np.random.default_rng(seed).random(shape[:k]) > 0.5)
    check_all(lambda t: t[mask], lambda t: t[torch.from_numpy(mask)], [normal(shape, seed)], what=f"mask{mask.shape}")


def test_iteration():
    x = ck.tensor(normal((3, 2), 0), requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    sum(r.sum() * (k + 1) for k, r in enumerate(rows)).backward()
    np.testing.assert_array_equal(x.grad._data, [[1, 1], [2, 2], [3, 3]])
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ck.tensor(1.0))


def test_getitem_of_int_tensor():
    labels = np.array([3, 1, 4, 1, 5])
    check_op(lambda t: t[np.array([0, 0, 4])], lambda t: t[torch.tensor([0, 0, 4])], [labels])


# ----- chained shape ops against torch -----------------------------------------------------------------------

def test_chained_shape_ops():
    x = normal((2, 3, 4), 3)

    def f(m, t):
        a = t.permute(2, 0, 1).reshape(4, 6)[1:, ::2]
        b = m.cat([a, a * 2], 1).unsqueeze(0).expand(2, 3, 6)
        return m.stack(b.split(2, dim=2), 0).sum(1)

    check_all(lambda t: f(ck, t), lambda t: f(torch, t), [x], what="chain")


# ----- errors --------------------------------------------------------------------------------------------

ERRORS = [
    (lambda x: x.reshape(4, 2), ValueError, r"reshape: shape \(4, 2\) is invalid for a tensor of shape \(2, 3\) "
                                            r"\(6 elements\)"),
    (lambda x: x.view(5, -1), ValueError, r"reshape: shape \(5, -1\) is invalid for a tensor of shape \(2, 3\)"),
    (lambda x: x.reshape(-1, -1), ValueError, r"reshape: invalid shape \(-1, -1\)"),
    (lambda x: x.reshape(-2, 3), ValueError, r"reshape: invalid shape \(-2, 3\)"),
    (lambda x: x.reshape("a"), TypeError, r"reshape: expected ints or one tuple of ints"),
    (lambda x: x.flatten(1, 0), ValueError, r"flatten: start_dim 1 comes after end_dim 0"),
    (lambda x: x.flatten(2), IndexError, r"flatten: dim 2 is out of range"),
    (lambda x: x.squeeze(3), IndexError, r"squeeze: dim 3 is out of range for a tensor with 2 dimensions"),
    (lambda x: x.unsqueeze(3), IndexError, r"unsqueeze: dim 3 is out of range for a tensor with 3 dimensions"),
    (lambda x: x.transpose(0, 2), IndexError, r"transpose: dim 2 is out of range"),
    (lambda x: x.permute(0, 0), ValueError, r"permute: expected a permutation of 2 dims, got \(0, 0\)"),
    (lambda x: x.permute(0), ValueError, r"permute: expected a permutation of 2 dims, got \(0,\)"),
    (lambda x: x.permute(0, 2), ValueError, r"permute: expected a permutation of 2 dims, got \(0, 2\)"),
    (lambda x: x.expand(3, 3), ValueError, r"expand: cannot expand shape \(2, 3\) to \(3, 3\): dim 0 has size 2"),
    (lambda x: x.expand(3), ValueError, r"expand: the number of sizes \(1\) must be at least the number of dims "
                                        r"\(2\)"),
    (lambda x: x.expand(-1, 2, 3), ValueError, r"expand: invalid size -1 for a new leading dim"),
    (lambda x: ck.cat([x, ck.tensor(np.ones(4))]), ValueError,
     r"cat: tensor 1 has shape \(4,\), which does not match \(2, 3\) outside dim 0"),
    (lambda x: ck.cat([x, ck.tensor(np.ones((3, 3)))], dim=1), ValueError,
     r"cat: tensor 1 has shape \(3, 3\), which does not match \(2, 3\) outside dim 1"),
    (lambda x: ck.cat([x, x], dim=2), IndexError, r"cat: dim 2 is out of range"),
    (lambda x: ck.cat([]), TypeError, r"cat: expected a non-empty list or tuple of tensors"),
    (lambda x: ck.cat(x), TypeError, r"cat: expected a non-empty list or tuple of tensors"),
    (lambda x: ck.cat([ck.tensor(1.0), ck.tensor(2.0)]), ValueError, r"cat: zero-dimensional tensors cannot be "
                                                                      r"concatenated; use stack"),
    (lambda x: ck.stack([x, ck.tensor(np.ones((3, 2)))]), ValueError,
     r"stack: expected every tensor to have shape \(2, 3\), tensor 1 has \(3, 2\)"),
    (lambda x: ck.stack([x, x], dim=3), IndexError, r"stack: dim 3 is out of range"),
    (lambda x: x.split([1, 1], dim=1), ValueError, r"split: sections \[1, 1\] do not add up to the size 3 of dim 1"),
    (lambda x: x.split(0), ValueError, r"split: split_size must be positive, got 0"),
    (lambda x: x.chunk(0), ValueError, r"chunk: chunks must be a positive int, got 0"),
    (lambda x: ck.pad(x, (1,)), ValueError, r"pad: expected an even number of widths for at most 2 dims, got \(1,\)"),
    (lambda x: ck.pad(x, (1, 1) * 3), ValueError, r"pad: expected an even number of widths for at most 2 dims"),
    (lambda x: ck.pad(x, (-2, -2)), ValueError, r"pad: padding \(-2, -2\) leaves a negative size for a dimension "
                                                r"of 3"),
    (lambda x: ck.pad(x, (1, 1), mode="wrap"), ValueError,
     r"pad: mode must be one of \('constant', 'reflect', 'replicate', 'circular'\), got 'wrap'"),
    (lambda x: ck.pad(x, (3, -4)), ValueError, r"pad: padding \(3, -4\) crops more than the 3 elements of its "
                                               r"dimension"),
    (lambda x: x[5], IndexError, r"getitem: index 5 does not fit a tensor of shape \(2, 3\)"),
    (lambda x: x[0, 0, 0], IndexError, r"getitem: index \(0, 0, 0\) does not fit a tensor of shape \(2, 3\)"),
    (lambda x: x[np.array([0, 7])], IndexError, r"getitem: .* does not fit a tensor of shape \(2, 3\)"),
    (lambda x: x[np.array([True, False, True])], IndexError, r"getitem: .* does not fit a tensor of shape \(2, 3\)"),
    (lambda x: x[np.array([0.5])], IndexError, r"getitem: index arrays must be integer or bool, got dtype float64"),
    (lambda x: x[1.5], IndexError, r"getitem: index 1.5 does not fit a tensor of shape \(2, 3\)"),
    (lambda x: ck.tensor(np.ones((2, 2, 2))).t(), ValueError, r"t: expected a tensor with at most 2 dims"),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors(k):
    fn, exc, pattern = ERRORS[k]
    x = ck.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(exc, match=pattern):
        fn(x)


def test_view_and_expand_share_memory_like_torch():
    x = ck.tensor(np.arange(6.0))
    v = x.view(2, 3)
    assert np.shares_memory(v._data, x._data)
    e = ck.tensor(np.ones((3, 1))).expand(3, 1000)
    assert e._data.strides[1] == 0  # no copy
    assert_close(ck.tensor(X345)[1:, ::2].sum(), torch.from_numpy(X345)[1:, ::2].sum(), 1e-12)
