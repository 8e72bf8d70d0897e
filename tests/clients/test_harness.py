"""The public-model check's decision replay (harness.decisions, harness.replaying): a float64 reference that
repeats a run's ReLU and max-pool decisions gives that run's own gradient when the decisions are its own, the
same decisions are recorded in cnnkit and in torch, and a changed decision changes the reference."""
from __future__ import annotations

import copy

import numpy as np
import torch

import cnnkit
from tests.clients.harness import copy_weights, decisions, first_gradients, replaying


def _net(nn):
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
                         nn.Conv2d(4, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(27, 5))


def _models():
    torch.manual_seed(0)
    tm, cm = _net(torch.nn), _net(cnnkit.nn)
    copy_weights(tm, cm)
    rng = np.random.default_rng(0)
    return tm, cm, rng.standard_normal((3, 2, 9, 9)).astype(np.float32), np.arange(3) % 5


def test_replaying_its_own_decisions_gives_the_same_float64_gradient():
    tm, _, x, y = _models()
    plain = copy.deepcopy(tm).double()
    recorded, hooks = decisions(torch, plain)
    loss, g = first_gradients(torch, plain, x.astype(np.float64), y)
    for h in hooks:
        h.remove()
    assert sorted(recorded) == ["1", "2", "4"] and all(len(calls) == 1 for calls in recorded.values())
    replayed = replaying(copy.deepcopy(tm).double(), recorded)
    assert type(replayed[1]).__name__ == "ReplayReLU" and type(replayed[2]).__name__ == "ReplayMaxPool"
    loss2, g2 = first_gradients(torch, replayed, x.astype(np.float64), y)
    assert loss2 == loss
    for name in g:
        np.testing.assert_array_equal(g2[name], g[name], err_msg=name)


def test_cnnkit_and_torch_record_the_same_decisions():
    tm, cm, x, y = _models()
    (theirs, _), (ours, _) = decisions(torch, tm), decisions(cnnkit, cm)
    first_gradients(torch, tm, x, y)
    first_gradients(cnnkit, cm, x, y)
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        for a, b in zip(ours[name], theirs[name]):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_changed_decision_changes_the_reference():
    tm, _, x, y = _models()
    plain = copy.deepcopy(tm).double()
    recorded, _ = decisions(torch, plain)
    _, g = first_gradients(torch, plain, x.astype(np.float64), y)
    mask = recorded["4"][0]
    where = tuple(np.argwhere(mask)[0])
    mask[where] = False                     # one activation of the second ReLU decided the other way
    _, g2 = first_gradients(torch, replaying(copy.deepcopy(tm).double(), recorded), x.astype(np.float64), y)
    assert not np.array_equal(g2["3.weight"], g["3.weight"])
