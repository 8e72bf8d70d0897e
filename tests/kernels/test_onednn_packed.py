"""Pre-packed oneDNN weights (cnnkit/kernels/onednn/packed.py): a convolution weight is reordered into its
primitive's layout once and reused while it is unchanged; every way cnnkit changes a weight drops the copy, so
a stale packed weight cannot be read. Also: the optimizers and load_state_dict bump the version counter."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from cnnkit.kernels import onednn as backend
from cnnkit.kernels.onednn import packed
from tests.oracle import check_op

needs_onednn = pytest.mark.skipif(not backend.available(), reason=f"oneDNN not loaded: {backend.load_error()}")

OPTIMIZERS = {
    "SGD": lambda ps: ck.optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam": lambda ps: ck.optim.Adam(ps, lr=0.1),
    "AdamW": lambda ps: ck.optim.AdamW(ps, lr=0.1),
    "RMSprop": lambda ps: ck.optim.RMSprop(ps, lr=0.1),
    "Adagrad": lambda ps: ck.optim.Adagrad(ps, lr=0.1),
    "Adadelta": lambda ps: ck.optim.Adadelta(ps, lr=10.0),
}


def _model():
    """Two convolutions whose weights oneDNN wants in a blocked layout (16 channels: a reorder is needed)."""
    ck.manual_seed(0)
    return ck.nn.Sequential(ck.nn.Conv2d(16, 32, 3, padding=1), ck.nn.ReLU(), ck.nn.Conv2d(32, 16, 3, padding=1))


def _x():
    return ck.tensor(np.random.default_rng(1).standard_normal((2, 16, 10, 10)).astype(np.float32))


def _run(model) -> np.ndarray:
    with ck.no_grad():
        return model(_x()).numpy().copy()


def _fresh(model) -> np.ndarray:
    """The output with no packed weight kept (every weight reordered from its current values)."""
    packed.clear()
    return _run(model)


def _train_step(model, opt):
    opt.zero_grad()
    model(_x()).square().mean().backward()
    opt.step()


def _assign_data(model):
    w = model[0].weight
    w.data = ck.tensor(w.numpy() * 0.5)


def _mul_no_grad(model):
    with ck.no_grad():
        model[0].weight.mul_(0.5)


def _load(model):
    state = {k: v * 0.5 for k, v in model.state_dict().items()}
    model.load_state_dict(state)


CHANGES = {
    "data.copy_": lambda m: m[0].weight.data.copy_(m[0].weight.data * 0.5),
    "no_grad mul_": _mul_no_grad,
    "setitem": lambda m: m[2].weight.data.__setitem__(0, 0.25),
    "view of data": lambda m: m[0].weight.data[3].mul_(-1.0),
    "load_state_dict": _load,
    "init": lambda m: ck.nn.init.kaiming_uniform_(m[0].weight),
    "vector_to_parameters": lambda m: ck.nn.utils.vector_to_parameters(
        ck.nn.utils.parameters_to_vector(m.parameters()) * 0.5, m.parameters()),
    "data =": _assign_data,
}
CHANGES.update({f"{name}.step": (lambda make: lambda m: _train_step(m, make(m.parameters())))(make)
                for name, make in OPTIMIZERS.items()})


@needs_onednn
@pytest.mark.parametrize("change", list(CHANGES))
def test_no_stale_packed_weight_after_a_change(change):
    """A warm packed weight, then the weight changes: the output is the one computed from a cold cache, and
    differs from the output before the change (so a stale copy would have been caught)."""
    model = _model().eval()
    with ck.no_grad():
        before = _run(model)
        assert packed.size() >= 2 and np.array_equal(_run(model), before)
    with ck.enable_grad():
        CHANGES[change](model)
    model.eval()
    after = _run(model)
    assert not np.allclose(after, before)
    np.testing.assert_array_equal(after, _fresh(model))


@needs_onednn
def test_the_second_inference_call_reorders_nothing():
    model = _model().eval()
    packed.clear()
    runs = backend.executions()
    first = _run(model)
    packs, hits = packed.stats()["packs"], packed.stats()["hits"]
    first_runs = backend.executions() - runs
    second = _run(model)
    assert packed.stats()["packs"] == packs                  # no weight reordered again ...
    assert packed.stats()["hits"] == hits + 2                # ... both convolutions took their kept copy
    assert backend.executions() - runs - first_runs == first_runs - 2   # two reorder primitives fewer
    np.testing.assert_array_equal(first, second)


@needs_onednn
def test_training_keeps_no_copy_of_a_trained_weight_and_a_frozen_one_is_kept():
    """A weight being trained is reordered at each call and not kept (backward-data wants another layout than
    forward, and the optimizer step would drop it: a kept copy would only add to the peak memory); a frozen
    layer's weight (requires_grad False) is kept even while the input's gradient is recorded."""
    model = _model()
    packed.clear()
    start = packed.stats()
    model(_x()).sum().backward()
    assert packed.stats() == start and packed.size() == 0
    model[0].weight.requires_grad_(False)
    model(_x()).sum().backward()
    assert packed.stats()["packs"] == start["packs"] + 1 and packed.size() == 1
    model(_x()).sum().backward()
    assert packed.stats()["hits"] == start["hits"] + 1


@needs_onednn
def test_packed_conv_matches_torch_after_an_optimizer_step():
    """The oracle check: after warm calls and an SGD step, conv2d on oneDNN still matches torch (float64)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 16, 9, 9)).astype(np.float32)
    w = ck.nn.Parameter(ck.tensor(rng.standard_normal((32, 16, 3, 3)).astype(np.float32)))
    opt = ck.optim.SGD([w], lr=0.5)
    for _ in range(2):
        F.conv2d(ck.tensor(x), w, padding=1).sum().backward()
        opt.step()
        opt.zero_grad()
    check_op(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), [x, w.numpy()],
             check_backward=False, what="conv2d after SGD steps on a packed weight")


def test_optimizer_steps_bump_versions():
    """As torch's in-place updates do: a parameter with a gradient gets a new version; one without does not."""
    for name, make in OPTIMIZERS.items():
        a, b = ck.nn.Parameter(ck.ones(3)), ck.nn.Parameter(ck.ones(3))
        (a * 2).sum().backward()
        opt = make([a, b])
        va, vb = a._version[0], b._version[0]
        opt.step()
        assert (a._version[0], b._version[0]) == (va + 1, vb), name


def test_optimizer_step_invalidates_a_saved_graph_like_torch():
    """A graph that saved a parameter cannot be backpropagated after the optimizer changed it (torch's rule)."""
    w = ck.nn.Parameter(ck.ones(3))
    opt = ck.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    tw = torch.nn.Parameter(torch.ones(3))
    topt = torch.optim.SGD([tw], lr=0.1)
    (tw * tw).sum().backward()
    tloss = (tw * tw).sum()
    topt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()


def test_load_state_dict_bumps_versions():
    model = ck.nn.Conv2d(2, 3, 3)
    v = model.weight._version[0]
    model.load_state_dict(model.state_dict())
    assert model.weight._version[0] == v + 1


@needs_onednn
def test_packed_weights_are_freed_with_their_weight():
    packed.clear()
    model = _model().eval()
    _run(model)
    assert packed.size() == 2 and packed.nbytes() >= (32 * 16 * 9 + 16 * 32 * 9) * 4
    del model
    gc.collect()
    assert packed.size() == 0 and packed.nbytes() == 0


@needs_onednn
def test_a_write_through_another_array_over_the_same_memory_drops_the_copy():
    """Two arrays made separately over one buffer (np.frombuffer): writing through one drops the other's copy."""
    w = np.random.default_rng(3).standard_normal((32, 16, 3, 3)).astype(np.float32)
    memory = bytearray(w.tobytes())
    a = ck.Tensor(np.frombuffer(memory, np.float32).reshape(w.shape))
    b = ck.Tensor(np.frombuffer(memory, np.float32).reshape(w.shape))
    assert a._data.base is not b._data
    with ck.no_grad():
        before = F.conv2d(_x(), a, padding=1).numpy().copy()
        b.mul_(0.5)
        after = F.conv2d(_x(), a, padding=1).numpy().copy()
    packed.clear()
    with ck.no_grad():
        fresh = F.conv2d(_x(), a, padding=1).numpy()
    assert not np.allclose(after, before)
    np.testing.assert_array_equal(after, fresh)
