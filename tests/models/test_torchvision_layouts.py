"""cnnkit's models against torchvision's, one model at a time (each big model is built once).

The fixture ``tests/fixtures/torchvision_state_dicts.json`` was written by
``tests/fixtures/make_torchvision_fixture.py`` with torch 2.14.1 / torchvision 0.29.1. For every
torchvision model it holds the ordered (key, shape) list of the state dict, the parameter count, every
leaf module with its hyper-parameters, the smallest input side that runs, and the training-mode output
type. Each test here builds cnnkit's model of the same name and checks all of that, then runs a forward
and backward pass at the smallest resolution (batch 2, every parameter gets a finite gradient) and an
eval-mode pass under ``no_grad``. The native resolutions are run in test_architectures.py.
"""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import nn

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
with open(os.path.join(FIXTURES, "torchvision_state_dicts.json")) as _f:
    FIXTURE = json.load(_f)
ENTRIES = {e["id"]: e for e in FIXTURE["models"]}
NUM_CLASSES = 1000  # the fixture's

# the fixture generator's NumPy recipe for weights and inputs (it imports torchvision only when run)
_spec = importlib.util.spec_from_file_location("make_torchvision_fixture",
                                               os.path.join(FIXTURES, "make_torchvision_fixture.py"))
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)


def leaf_info(m) -> dict:
    """cnnkit's counterpart of the fixture's leaf description (same keys, same value types)."""
    return recipe.leaf_info(m, nn)


def build(entry):
    """cnnkit's model for a fixture entry, with torchvision's arguments."""
    kwargs = {k: v for k, v in entry["kwargs"].items() if k != "init_weights"}
    if entry["constructor"] == "googlenet":
        kwargs["dropout"] = 0.2  # torchvision's default; cnnkit's is the paper's 0.4 (checked below)
    if entry["constructor"].startswith("vgg"):
        kwargs["init_weights"] = False  # the layout does not depend on it; saves re-drawing 120 M weights
    return ck.models.get(entry["constructor"], num_classes=NUM_CLASSES, **kwargs)


def backward_with_random_cotangents(out) -> None:
    outs = list(out) if isinstance(out, tuple) else [out]
    rng = np.random.default_rng(1)
    loss = None
    for o in outs:
        term = (o * ck.tensor(rng.standard_normal(o.shape).astype(o.dtype))).sum()
        loss = term if loss is None else loss + term
    loss.backward()


def _min_sizes(model, entry):
    eval_min = model.min_size
    train_min = getattr(model, "min_size_aux", eval_min) if entry["train_output"]["fields"] else eval_min
    if entry["constructor"] == "googlenet":
        train_min = eval_min  # the auxiliary heads pool adaptively
    return eval_min, train_min


def test_fixture_is_torchvisions():
    assert FIXTURE["torchvision"].startswith("0.29.1") and FIXTURE["torch"].startswith("2.14.1")
    assert len(ENTRIES) == 22
    assert sorted(e for e in ENTRIES if "outputs" in ENTRIES[e]) == sorted(recipe.OUTPUT_CHECKS)


def _projected(out, proj):
    return out.numpy() @ proj


def _assert_matches(ours, theirs, what):
    theirs = np.asarray(theirs)
    err, scale = float(np.abs(ours - theirs).max()), float(np.abs(theirs).max())
    assert err <= 1e-8 * scale, f"{what}: max error {err:.3e} at scale {scale:.3e}"


@pytest.mark.slow
@pytest.mark.parametrize("fid", sorted(recipe.OUTPUT_CHECKS))
def test_outputs_equal_torchvisions_for_the_same_weights(fid):
    """torchvision's own float64 outputs (recorded in the fixture for weights and inputs that the NumPy
    recipe regenerates here), in eval mode and in train mode (batch statistics, dropout off)."""
    entry = ENTRIES[fid]
    rec = entry["outputs"]
    model = build(entry).double()
    model.load_state_dict(recipe.fixture_weights(entry["state_dict"]))
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    proj = recipe.projections(NUM_CLASSES)
    with ck.no_grad():
        model.eval()
        _assert_matches(_projected(model(ck.tensor(recipe.fixture_input(rec["eval_side"]))), proj), rec["eval"],
                        f"{fid} eval")
        model.train()
        out = model(ck.tensor(recipe.fixture_input(rec["train_side"])))
    outs = list(out) if isinstance(out, tuple) else [out]
    assert len(outs) == len(rec["train"])
    for i, (o, r) in enumerate(zip(outs, rec["train"])):
        _assert_matches(_projected(o, proj), r, f"{fid} train output {i}")


@pytest.mark.slow
@pytest.mark.parametrize("fid", list(ENTRIES))
def test_layout_and_passes_match_torchvision(fid):
    entry = ENTRIES[fid]
    model = build(entry)

    # state_dict: the same keys in the same order, the same shapes
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert [k for k, _ in ours] == [k for k, _ in entry["state_dict"]]
    assert ours == entry["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == entry["num_params"]

    # every leaf module: the same name, type and hyper-parameters (strides, padding, eps, p, ceil_mode ...)
    leaves = [[name, type(m).__name__, leaf_info(m)] for name, m in model.named_modules()
              if name and not list(m.children())]
    assert leaves == entry["leaves"]

    # the smallest input that runs, and a clear error below it
    eval_min, train_min = _min_sizes(model, entry)
    assert (eval_min, train_min) == (entry["min_size"]["eval"], entry["min_size"]["train"])
    model.eval()
    with ck.no_grad():
        y = model(ck.zeros(1, 3, eval_min, eval_min))
    assert y.shape == (1, NUM_CLASSES)
    if eval_min > 1:
        with pytest.raises(ValueError, match=r"too small; every side must be at least"):
            model(ck.zeros(1, 3, eval_min - 1, eval_min))
    if train_min > eval_min:
        model.train()
        with pytest.raises(ValueError, match=r"aux_logits.*at least 299"):
            model(ck.zeros(2, 3, train_min - 1, train_min - 1))
        return  # inception_v3 with its auxiliary head: its only size is the native one (test_architectures)

    # training mode: forward and backward at a small size, batch 2, finite gradients everywhere
    size = max(train_min, 32)
    model.train()
    x = ck.randn(2, 3, size, size)
    out = model(x)
    fields = entry["train_output"]["fields"]
    if fields:
        assert type(out).__name__ == entry["train_output"]["type"] and list(out._fields) == fields
        assert all(o.shape == (2, NUM_CLASSES) for o in out)
    else:
        assert isinstance(out, ck.Tensor) and out.shape == (2, NUM_CLASSES)
    backward_with_random_cotangents(out)
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert np.isfinite(p.grad.numpy()).all(), name
    # eval mode under no_grad: the logits only, no graph
    model.eval()
    with ck.no_grad():
        y = model(x)
    assert isinstance(y, ck.Tensor) and y.shape == (2, NUM_CLASSES) and not y.requires_grad
    assert np.isfinite(y.numpy()).all()
