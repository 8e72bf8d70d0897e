"""Tensor, creation functions, dtype rules and the autograd graph (backward, no_grad, seeds)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import cnnkit as ck
from tests.oracle import assert_close

# ----- attributes -----------------------------------------------------------------------------------

def test_attributes():
    x = ck.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(x, ck.Tensor)
    assert isinstance(x._data, np.ndarray)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2
    assert x.dtype == np.float32 and x.dtype == ck.float32
    assert x.size() == (2, 3) and x.size(1) == 3 and x.numel() == 6
    assert x.requires_grad is False and x.grad is None and x.is_leaf and x.grad_fn is None
    assert len(x) == 2
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [4, 5, 6]])
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_item():
    assert ck.tensor(3.5).item() == 3.5 and type(ck.tensor(3.5).item()) is float
    assert ck.tensor([7]).item() == 7 and type(ck.tensor([7]).item()) is int
    assert ck.tensor([[True]]).item() is True
    with pytest.raises(ValueError, match=r"item: only one-element tensors .* got shape \(2,\)"):
        ck.tensor([1.0, 2.0]).item()


def test_len_of_0d_raises():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ck.tensor(1.0))


def test_numpy_shares_memory_and_detach():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    arr = y.numpy()
    assert isinstance(arr, np.ndarray) and np.shares_memory(arr, y._data)
    d = y.detach()
    assert d.requires_grad is False and d.creator is None and d.is_leaf
    assert np.shares_memory(d._data, y._data)
    # the detached tensor is cut from the graph: ops on it record nothing
    assert (d * 3).requires_grad is False


def test_repr():
    assert repr(ck.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ck.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(ck.tensor(np.array([1.0, 2.0]))) == "tensor([1., 2.], dtype=float64)"
    assert repr(ck.tensor([1, 2])) == "tensor([1, 2])"
    y = ck.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward>)"


def test_bool_and_conversions():
    assert bool(ck.tensor([1.0])) is True and bool(ck.tensor(0.0)) is False
    with pytest.raises(ValueError, match="truth value of a tensor with 2 elements is ambiguous"):
        bool(ck.tensor([1.0, 2.0]))
    assert float(ck.tensor(2.5)) == 2.5 and int(ck.tensor(3)) == 3
    assert [10, 20, 30][ck.tensor(1)] == 20
    with pytest.raises(TypeError, match="only integer tensors"):
        [1, 2][ck.tensor(1.0)]


# ----- creation functions ------------------------------------------------------------------------

def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0], dtype=np.float32)
    x = ck.tensor(a)
    a[0] = 100
    assert x._data[0] == 1.0
    y = ck.tensor(x)
    x._data[1] = 50
    assert y._data[1] == 2.0


def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    x = ck.from_numpy(a)
    assert x.dtype == np.float64 and x.shape == (2, 3)
    a[0, 0] = 42.0
    assert x._data[0, 0] == 42.0
    x._data[1, 2] = -1.0
    assert a[1, 2] == -1.0
    with pytest.raises(TypeError, match="from_numpy: expected numpy.ndarray, got list"):
        ck.from_numpy([1.0, 2.0])


@pytest.mark.parametrize("fn, value", [(ck.zeros, 0.0), (ck.ones, 1.0)])
def test_zeros_ones(fn, value):
    for x in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert x.shape == (2, 3) and x.dtype == np.float32
        assert np.all(x._data == value)
    assert fn(4, dtype=ck.float64).dtype == np.float64
    assert fn(4, dtype=ck.int64).dtype == np.int64
    assert fn().shape == ()
    x = fn(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(ValueError, match="sizes must be non-negative, got \\(2, -1\\)"):
        fn(2, -1)
    with pytest.raises(TypeError, match="expected sizes as ints"):
        fn("a")


def test_full_empty_like():
    x = ck.full((2, 2), 1.5)
    assert x.dtype == np.float32 and np.all(x._data == 1.5)
    assert ck.full((3,), 7).dtype == np.int64  # as in torch: an int fill gives int64
    assert ck.full((3,), 7, dtype=ck.float64).dtype == np.float64
    assert ck.full(3, True).dtype == np.bool_
    e = ck.empty(3, 4)
    assert e.shape == (3, 4) and e.dtype == np.float32
    base = ck.tensor(np.ones((2, 5), dtype=np.float64))
    for fn, v in ((ck.zeros_like, 0.0), (ck.ones_like, 1.0)):
        y = fn(base)
        assert y.shape == (2, 5) and y.dtype == np.float64 and np.all(y._data == v)
        assert fn(base, dtype=ck.float32).dtype == np.float32
        assert fn(ck.tensor([1, 2])).dtype == np.int64
    assert np.all(ck.full_like(base, 3.0)._data == 3.0)


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (5, 0, -1), (0.0, 1.0, 0.1), (2.5,), (-3, 3, 2)])
def test_arange_matches_torch(args):
    x = ck.arange(*args)
    t = torch.arange(*args)
    assert x.dtype == {torch.int64: np.int64, torch.float32: np.float32}[t.dtype]
    np.testing.assert_allclose(x._data, t.numpy(), rtol=1e-6)
    assert ck.arange(4, dtype=ck.float64).dtype == np.float64
    with pytest.raises(ValueError, match="arange: step must be non-zero"):
        ck.arange(0, 3, 0)


@pytest.mark.parametrize("fn", [ck.rand, ck.randn])
def test_rand_randn(fn):
    x = fn(200, 50)
    assert x.shape == (200, 50) and x.dtype == np.float32
    assert fn(3, dtype=ck.float64).dtype == np.float64
    assert fn((2, 3)).shape == (2, 3)
    if fn is ck.rand:
        assert 0.0 <= x._data.min() and x._data.max() < 1.0
        assert abs(x._data.mean() - 0.5) < 0.02
    else:
        assert abs(x._data.mean()) < 0.03 and abs(x._data.std() - 1.0) < 0.03
    assert fn(4, requires_grad=True).requires_grad


def test_randint():
    x = ck.randint(3, 7, (1000,))
    assert x.dtype == np.int64 and x._data.min() == 3 and x._data.max() == 6


# ----- dtype rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("data, dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([[1, 2.5]], np.float32),
    (3, np.int64), ([1, 2, 3], np.int64), (True, np.bool_), ([True, False], np.bool_),
    (np.array([1.0, 2.0]), np.float64), (np.array([1.0], dtype=np.float32), np.float32),
    (np.array([1, 2], dtype=np.int32), np.int32), (np.array([1, 2], dtype=np.int64), np.int64),
    (np.array([0, 255], dtype=np.uint8), np.uint8), (np.float64(2.0), np.float64),
])
def test_dtype_rules_match_torch(data, dtype):
    x = ck.tensor(data)
    assert x.dtype == dtype
    assert str(torch.tensor(data).numpy().dtype) == str(np.dtype(dtype))


def test_dtype_argument():
    assert ck.tensor([1, 2], dtype=ck.float32).dtype == np.float32
    assert ck.tensor([1.0], dtype=ck.float64).dtype == np.float64
    assert ck.tensor([1.0], dtype="float64").dtype == np.float64
    assert ck.tensor([1.5], dtype=ck.int64)._data[0] == 1
    assert ck.tensor([1], dtype=float).dtype == np.float32
    with pytest.raises(TypeError, match="dtype: expected a NumPy dtype"):
        ck.tensor([1.0], dtype=object())


def test_integer_labels_stay_integer_through_ops():
    labels = ck.tensor(np.array([0, 3, 1], dtype=np.int64))
    assert (labels + 1).dtype == np.int64
    assert labels.sum().dtype == np.int64
    assert labels[ck.tensor([0, 2])].dtype == np.int64


def test_requires_grad_on_int_tensor_errors():
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients, got dtype int64"):
        ck.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
        ck.zeros(3, dtype=ck.int64, requires_grad=True)
    with pytest.raises(RuntimeError, match="got dtype bool"):
        ck.tensor([True]).requires_grad_()


def test_requires_grad_flag():
    x = ck.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = ck.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only leaf tensors can stop requiring grad"):
        y.requires_grad_(False)


def test_bad_data_rejected_with_clear_message():
    with pytest.raises(ValueError, match="tensor: cannot make a tensor from ragged list data"):
        ck.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from list data with elements of dtype <U1"):
        ck.tensor(["a"])
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from object data"):
        ck.tensor(object())
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from NoneType data"):
        ck.tensor(None)


# ----- backward: errors and graph lifetime ------------------------------------------------------

def test_backward_without_graph_says_why():
    x = ck.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad and has no graph to walk.*requires_grad=True"):
        x.sum().backward()
    w = ck.tensor([1.0], requires_grad=True)
    with ck.no_grad():
        y = w * 2
    with pytest.raises(RuntimeError, match="no graph to walk.*ck.no_grad"):
        y.backward()


def test_backward_non_scalar_needs_gradient():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"gradient can be implied only for a one-element output, got shape "
                                           r"\(2,\); pass backward\(gradient\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"backward: gradient shape \(3,\) does not match the tensor's shape \(2,\)"):
        y.backward(np.ones(3, np.float32))
    y.backward(ck.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad._data, [3.0, 30.0])
    assert x.grad.dtype == np.float32


def test_backward_gradient_dtype_follows_tensor():
    x = ck.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 2).backward(np.ones(2, dtype=np.float32))
    assert x.grad.dtype == np.float64


def test_backward_on_leaf():
    x = ck.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    x.backward()
    assert x.grad.item() == 2.0


def test_graph_freed_after_backward():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed by an earlier backward\\(\\); pass retain_graph=True"):
        y.backward()
    # a new op on a freed intermediate reaches the freed part of the graph too
    x2 = ck.tensor([1.0, 2.0], requires_grad=True)
    h = x2.exp()
    (h * 2).sum().backward()
    with pytest.raises(RuntimeError, match="already freed"):
        (h * 3).sum().backward()


def test_retain_graph_allows_second_backward():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad._data, [2.0, 4.0])
    y.backward()
    np.testing.assert_array_equal(x.grad._data, [4.0, 8.0])
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_release_drops_saved_arrays():
    x = ck.tensor(np.ones((3, 3)), requires_grad=True)
    y = x.exp()
    f = y.creator
    assert f.inputs is not None and hasattr(f, "y")
    y.sum().backward()
    assert f.inputs is None and not hasattr(f, "y")


# ----- gradient accumulation and aliasing -------------------------------------------------------

def test_accumulation_tensor_used_several_times():
    x0 = np.array([0.5, -1.5, 2.0])
    x = ck.tensor(x0, requires_grad=True)
    y = x * x + x.exp() * x - x / 2 + (x * 3).sum()
    y.backward(np.array([1.0, 2.0, 3.0]))
    t = torch.tensor(x0, requires_grad=True)
    (t * t + t.exp() * t - t / 2 + (t * 3).sum()).backward(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert_close(x.grad, t.grad, 1e-12, "grad")


def test_grad_accumulates_across_backward_calls_and_zero():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [5.0, 5.0])
    x.grad = None
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [4.0, 4.0])


@pytest.mark.parametrize("build", [
    lambda a, b: a + b,
    lambda a, b: (a + b) * 1.0,
    lambda a, b: (a - b) * 2.0,
    lambda a, b: ck.cat([a, b]).reshape(2, 3).sum(0),
    lambda a, b: (a + b).exp(),
])
def test_leaf_grads_never_aliased(build):
    a = ck.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ck.tensor([4.0, 5.0, 6.0], requires_grad=True)
    y = build(a, b)
    y.backward(np.ones(y.shape, np.float32))
    b_before = b.grad._data.copy()
    assert not np.shares_memory(a.grad._data, b.grad._data)
    a.grad._data += 100.0
    np.testing.assert_array_equal(b.grad._data, b_before)
    assert a.grad._data.flags.writeable and b.grad._data.flags.writeable


def test_leaf_grad_not_aliased_with_user_gradient():
    a = ck.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    (a * 1.0).backward(g)
    a.grad._data[0] = 9.0
    assert g[0] == 1.0


def test_borrowed_leaf_grad_not_corrupting_pending_gradient():
    # Add hands the same array to a (a leaf) and to h (pending); a then accumulates more before exp's backward
    a0, b0, c0 = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([3.0, 4.0])
    a, b, c = ck.tensor(a0, requires_grad=True), ck.tensor(b0, requires_grad=True), ck.tensor(c0)
    ((a + b.exp()) + a * c).mul(1.0).sum().backward()
    ta, tb, tc = (torch.tensor(v, requires_grad=r) for v, r in ((a0, True), (b0, True), (c0, False)))
    ((ta + tb.exp()) + ta * tc).mul(1.0).sum().backward()
    assert_close(a.grad, ta.grad, 1e-12, "a.grad")
    assert_close(b.grad, tb.grad, 1e-12, "b.grad")


def test_random_graphs_match_torch():
    """Random DAGs reusing intermediates several times: gradients equal torch's."""
    rng = np.random.default_rng(1)
    for trial in range(30):
        leaves0 = [rng.standard_normal(4) for _ in range(3)]
        ck_nodes = [ck.tensor(v, requires_grad=True) for v in leaves0]
        th_nodes = [torch.tensor(v, requires_grad=True) for v in leaves0]
        ops = [(lambda p, q: p + q), (lambda p, q: p * q), (lambda p, q: p - q),
               (lambda p, q: p * 0.5 + q.exp() * 0.1), (lambda p, q: (p * q).sum() * q)]
        for _ in range(8):
            op = ops[rng.integers(len(ops))]
            i, j = rng.integers(len(ck_nodes), size=2)
            ck_nodes.append(op(ck_nodes[i], ck_nodes[j]))
            th_nodes.append(op(th_nodes[i], th_nodes[j]))
        ck_nodes[-1].sum().backward()
        th_nodes[-1].sum().backward()
        for k in range(3):
            g_th = th_nodes[k].grad if th_nodes[k].grad is not None else torch.zeros(4, dtype=torch.float64)
            g_ck = ck_nodes[k].grad if ck_nodes[k].grad is not None else np.zeros(4)
            assert_close(g_ck, g_th, 1e-12, f"trial {trial}: leaf {k}")


# ----- no_grad / enable_grad --------------------------------------------------------------------

def test_no_grad_and_enable_grad():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    assert ck.is_grad_enabled()
    with ck.no_grad():
        assert not ck.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.creator is None
        with ck.enable_grad():
            z = x * 2
            assert z.requires_grad and z.creator is not None
        assert not ck.is_grad_enabled()
    assert ck.is_grad_enabled()
    with ck.set_grad_enabled(False):
        assert not (x * 2).requires_grad


def test_no_grad_restored_after_exception():
    with pytest.raises(KeyError):
        with ck.no_grad():
            raise KeyError("boom")
    assert ck.is_grad_enabled()


def test_no_grad_as_decorator():
    @ck.no_grad()
    def f(t):
        return t * 2

    x = ck.tensor([1.0], requires_grad=True)
    assert not f(x).requires_grad
    assert ck.is_grad_enabled()


def test_int_outputs_carry_no_grad():
    x = ck.tensor([1.0, 3.0, 2.0], requires_grad=True)
    assert not (x > 1).requires_grad
    assert not x.argmax().requires_grad
    values, indices = x.max(0)
    assert values.requires_grad and not indices.requires_grad


def test_inplace_on_leaf_requiring_grad():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="zero_: a tensor that requires grad cannot be changed in place"):
        x.zero_()
    with ck.no_grad():
        x.fill_(3.0)
        x.copy_(ck.tensor([5.0, 6.0]))
    np.testing.assert_array_equal(x._data, [5.0, 6.0])
    with ck.no_grad(), pytest.raises(ValueError, match=r"copy_: cannot copy shape \(3,\) into shape \(2,\)"):
        x.copy_(np.zeros(3))


# ----- deep graphs -----------------------------------------------------------------------------

def test_chain_of_10000_ops_backward():
    x = ck.tensor([1.0, -2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    expected = np.float32(1.0001) ** 10_000
    np.testing.assert_allclose(x.grad._data, [expected, expected], rtol=1e-3)


def test_chain_of_10000_ops_freed_without_backward():
    x = ck.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    del y  # dropping the head of a long chain must not overflow the C stack
    z = x
    for _ in range(10_000):
        z = z.exp().log()
    z.backward(np.ones(1, np.float32))
    np.testing.assert_allclose(x.grad._data, [1.0], rtol=1e-3)


# ----- retain_grad --------------------------------------------------------------------------------

def test_retain_grad():
    x0 = np.array([1.0, 2.0, 3.0])
    x = ck.tensor(x0, requires_grad=True)
    h = x * 2
    h.retain_grad()
    k = h.exp()
    loss = (k * h).sum()
    loss.backward(retain_graph=True)
    t = torch.tensor(x0, requires_grad=True)
    th = t * 2
    th.retain_grad()
    tloss = (th.exp() * th).sum()
    tloss.backward(retain_graph=True)
    assert_close(h.grad, th.grad, 1e-12, "retained grad")
    assert k.grad is None  # not retained
    # retained gradients accumulate like a leaf's
    loss.backward()
    tloss.backward()
    assert_close(h.grad, th.grad, 1e-12, "retained grad after two backward calls")
    assert_close(x.grad, t.grad, 1e-12, "leaf grad")


def test_retain_grad_on_root_and_errors():
    x = ck.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0
    with pytest.raises(RuntimeError, match="retain_grad: the tensor does not require grad"):
        ck.tensor([1.0]).retain_grad()


# ----- random numbers ----------------------------------------------------------------------------

def test_manual_seed_reproducible():
    ck.manual_seed(123)
    a1, b1 = ck.randn(5, 4), ck.rand(7)
    ck.manual_seed(123)
    a2, b2 = ck.randn(5, 4), ck.rand(7)
    np.testing.assert_array_equal(a1._data, a2._data)
    np.testing.assert_array_equal(b1._data, b2._data)
    assert ck.initial_seed() == 123
    ck.manual_seed(124)
    assert not np.array_equal(ck.randn(5, 4)._data, a1._data)
    # a seed controls every draw, not numpy's global state
    ck.manual_seed(7)
    c1 = ck.randn(3)._data.copy()
    ck.manual_seed(7)
    np.random.seed(999)
    np.random.standard_normal(10)
    np.testing.assert_array_equal(ck.randn(3)._data, c1)


def test_manual_seed_errors():
    with pytest.raises(TypeError, match="manual_seed: expected an int, got float"):
        ck.manual_seed(1.5)
    with pytest.raises(ValueError, match="manual_seed: expected a non-negative seed, got -1"):
        ck.manual_seed(-1)


def test_rng_state_round_trip_through_json():
    ck.manual_seed(5)
    ck.randn(10)
    state = ck.get_rng_state()
    expected_n, expected_u = ck.randn(4, 3)._data.copy(), ck.rand(6)._data.copy()
    ck.manual_seed(99)
    ck.randn(100)
    ck.set_rng_state(state)
    np.testing.assert_array_equal(ck.randn(4, 3)._data, expected_n)
    np.testing.assert_array_equal(ck.rand(6)._data, expected_u)
    restored = json.loads(json.dumps(state))
    ck.manual_seed(0)
    ck.set_rng_state(restored)
    np.testing.assert_array_equal(ck.randn(4, 3)._data, expected_n)
    assert ck.initial_seed() == 5


def test_set_rng_state_rejects_garbage():
    for bad in ({}, {"bit_generator": {"bit_generator": "MT19937"}}, None, {"bit_generator": "x"}):
        with pytest.raises(ValueError, match="set_rng_state: expected a state returned by get_rng_state"):
            ck.set_rng_state(bad)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble, np.int64, np.uint8, np.bool_,
                                   np.complex64])
def test_is_floating_agrees_with_numpy_for_dtypes_and_types(dtype):
    from cnnkit.backend import is_floating

    expected = np.issubdtype(dtype, np.floating)
    assert is_floating(np.dtype(dtype)) is expected and is_floating(dtype) is expected
