"""Checkpoints and resume: 2 + 2 epochs give exactly the weights of 4 uninterrupted epochs (with momentum, a
scheduler, dropout, shuffling and augmentation all drawing randomness), and a bad checkpoint changes nothing."""
import ast
import io
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import cnnkit as ck
import cnnkit.nn
from cnnkit import nn
from cnnkit.data import DataLoader, TensorDataset
from cnnkit.data import transforms as T
from cnnkit.io.checkpoint import CheckpointError, load, save
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD, Adam, lr_scheduler
from cnnkit.train import Trainer

RNG = np.random.default_rng(11)
X = RNG.standard_normal((48, 1, 8, 8)).astype(np.float32)
Y = RNG.integers(0, 3, 48)
XV = RNG.standard_normal((16, 1, 8, 8)).astype(np.float32)
YV = RNG.integers(0, 3, 16)


def build(optimizer="sgd", schedule="cosine", hidden=4, loader_seed=None, checkpoint=None):
    """A fresh model, optimizer, scheduler and loaders (the model's init draws from the project generator)."""
    model = nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(1, hidden, 3, padding=1)), ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
        ("flat", nn.Flatten()), ("drop", nn.Dropout(0.3)), ("fc", nn.Linear(hidden * 16, 3))]))
    if optimizer == "sgd":
        opt = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=True)
    else:
        opt = Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
    if schedule == "cosine":
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    else:
        sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    augment = T.Compose([T.RandomCrop(8, padding=1), T.RandomHorizontalFlip()])
    train = DataLoader(TensorDataset(X, Y, transform=augment), batch_size=16, shuffle=True, seed=loader_seed)
    val = DataLoader(TensorDataset(XV, YV), batch_size=16)
    trainer = Trainer(model, opt, CrossEntropyLoss(), sched, checkpoint=checkpoint, quiet=True, stream=io.StringIO())
    return trainer, train, val


def state_of(trainer):
    return ({k: v._data.copy() for k, v in trainer.model.state_dict().items()},
            {i: {k: (v._data.copy() if isinstance(v, ck.Tensor) else v) for k, v in s.items()}
             for i, s in trainer.optimizer.state_dict()["state"].items()},
            [dict(g) for g in trainer.optimizer.param_groups])


def assert_same_run(a, b):
    wa, sa, ga = state_of(a)
    wb, sb, gb = state_of(b)
    assert list(wa) == list(wb)
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), f"weight {k} differs"
    assert list(sa) == list(sb)
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for k in sa[i]:
            assert np.array_equal(np.asarray(sa[i][k]), np.asarray(sb[i][k])), f"optimizer state {i}/{k} differs"
    for g1, g2 in zip(ga, gb):
        assert {k: v for k, v in g1.items() if k != "params"} == {k: v for k, v in g2.items() if k != "params"}
    assert a.scheduler.state_dict() == b.scheduler.state_dict()
    assert a.epoch == b.epoch
    strip = [{k: v for k, v in h.items() if k not in ("seconds", "images_per_s")} for h in a.history]
    assert strip == [{k: v for k, v in h.items() if k not in ("seconds", "images_per_s")} for h in b.history]
    assert ck.get_rng_state() is not None


@pytest.mark.parametrize("optimizer, schedule, loader_seed", [("sgd", "cosine", None), ("adam", "plateau", None),
                                                              ("sgd", "cosine", 7)])
def test_two_plus_two_epochs_equal_four(tmp_path, optimizer, schedule, loader_seed):
    ck.manual_seed(0)
    full, train, val = build(optimizer, schedule, loader_seed=loader_seed)
    full.fit(train, 4, val=val)
    rng_after_full = ck.get_rng_state()

    path = tmp_path / "run.safetensors"
    ck.manual_seed(0)
    first, train, val = build(optimizer, schedule, loader_seed=loader_seed, checkpoint=path)
    first.fit(train, 2, val=val)
    assert load(path)["epoch"] == 2

    ck.manual_seed(123)  # everything anew, with a different initialization
    resumed, train, val = build(optimizer, schedule, loader_seed=loader_seed, checkpoint=path)
    assert not np.array_equal(resumed.model.conv.weight._data, first.model.conv.weight._data)
    resumed.load_checkpoint(path)
    assert resumed.epoch == 2 and len(resumed.history) == 2
    resumed.fit(train, 4, val=val)
    assert_same_run(full, resumed)
    assert ck.get_rng_state() == rng_after_full
    assert load(path)["epoch"] == 4


def test_randomness_matters():
    """The exactness above is not vacuous: without restoring the generator state the runs differ."""
    ck.manual_seed(0)
    full, train, val = build()
    full.fit(train, 2, val=val)
    ck.manual_seed(0)
    other, train, val = build()
    other.fit(train, 1, val=val)
    ck.manual_seed(99)  # a different generator state for epoch 2
    other.fit(train, 2, val=val)
    assert not np.array_equal(full.model.fc.weight._data, other.model.fc.weight._data)


def test_checkpoint_contents(tmp_path):
    path = tmp_path / "c.safetensors"
    ck.manual_seed(0)
    t, train, val = build(checkpoint=path)
    t.meta = {"model": "tiny", "note": "x"}
    t.fit(train, 1, val=val)
    state = load(path)
    assert set(state) == {"model", "optimizer", "scheduler", "epoch", "rng", "history", "meta"}
    assert state["meta"] == {"model": "tiny", "note": "x"} and state["epoch"] == 1
    assert state["model"]["conv.weight"].dtype == np.float32
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert state["history"][0]["epoch"] == 1
    assert t.load_checkpoint(path) == {"model": "tiny", "note": "x"}


def snapshot(trainer):
    return state_of(trainer), trainer.epoch, list(trainer.history), ck.get_rng_state(), \
        trainer.scheduler.state_dict()


def assert_unchanged(trainer, before):
    (w0, s0, g0), epoch, history, rng, sched = before
    (w1, s1, g1) = state_of(trainer)
    assert all(np.array_equal(w0[k], w1[k]) for k in w0)
    assert s0.keys() == s1.keys() and all(np.array_equal(np.asarray(s0[i][k]), np.asarray(s1[i][k]))
                                          for i in s0 for k in s0[i])
    assert [{k: v for k, v in g.items() if k != "params"} for g in g0] == \
        [{k: v for k, v in g.items() if k != "params"} for g in g1]
    assert trainer.epoch == epoch and trainer.history == history
    assert ck.get_rng_state() == rng and trainer.scheduler.state_dict() == sched


@pytest.fixture
def trained(tmp_path):
    """A trainer after one epoch (with optimizer state) and a valid checkpoint of another run."""
    path = tmp_path / "good.safetensors"
    ck.manual_seed(1)
    other, train, val = build(checkpoint=path)
    other.fit(train, 2, val=val)
    ck.manual_seed(2)
    t, train, val = build()
    t.fit(train, 1, val=val)
    return t, path


@pytest.mark.parametrize("cut", [0, 7, 100, -1])
def test_truncated_checkpoint(tmp_path, trained, cut):
    t, good = trained
    data = good.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:-1])
    before = snapshot(t)
    with pytest.raises(CheckpointError, match=f"load: {bad}"):
        t.load_checkpoint(bad)
    assert_unchanged(t, before)


def test_corrupt_checkpoint(tmp_path, trained):
    t, good = trained
    data = bytearray(good.read_bytes())
    data[8:20] = b"\xff" * 12  # garbage in the JSON header
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data))
    before = snapshot(t)
    with pytest.raises(CheckpointError, match=f"load: {bad} has a corrupt header"):
        t.load_checkpoint(bad)
    assert_unchanged(t, before)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        t.load_checkpoint(tmp_path / "missing.safetensors")
    assert_unchanged(t, before)


def test_wrong_shaped_weight_leaves_model_untouched(tmp_path, trained):
    t, _ = trained
    path = tmp_path / "wide.safetensors"
    ck.manual_seed(3)
    wide, train, val = build(hidden=5, checkpoint=path)
    wide.fit(train, 1, val=val)
    before = snapshot(t)
    with pytest.raises(ValueError, match=r"does not fit this Trainer's .*size mismatch for 'conv.weight'"):
        t.load_checkpoint(path)
    assert_unchanged(t, before)


def test_failure_after_the_model_was_loaded_rolls_everything_back(tmp_path, trained):
    """The model loads, then the optimizer state does not fit: the model must be put back too."""
    t, good = trained
    state = load(good)
    state["optimizer"]["param_groups"][0]["params"] = [0, 1, 2]  # one parameter short
    bad = tmp_path / "bad_opt.safetensors"
    save(state, bad)
    before = snapshot(t)
    with pytest.raises(ValueError, match="does not fit this Trainer"):
        t.load_checkpoint(bad)
    assert_unchanged(t, before)
    state = load(good)
    state["rng"] = {"seed": 1, "bit_generator": {"bit_generator": "MT19937"}}
    save(state, bad)
    with pytest.raises(ValueError, match="set_rng_state"):
        t.load_checkpoint(bad)
    assert_unchanged(t, before)


@pytest.mark.parametrize("mutate, match", [
    (lambda s: s.pop("rng"), "has no 'rng' entry"),
    (lambda s: s.update(epoch=-1), "invalid epoch -1"),
    (lambda s: s.update(epoch="2"), "invalid epoch '2'"),
    (lambda s: s.update(history=[1, 2]), "invalid history"),
    (lambda s: s.update(scheduler=None), "written without a scheduler, this Trainer has one"),
])
def test_invalid_entries(tmp_path, trained, mutate, match):
    t, good = trained
    state = load(good)
    mutate(state)
    bad = tmp_path / "bad.safetensors"
    save(state, bad)
    before = snapshot(t)
    with pytest.raises(ValueError, match=match):
        t.load_checkpoint(bad)
    assert_unchanged(t, before)


def test_not_a_trainer_checkpoint(tmp_path, trained):
    t, _ = trained
    path = tmp_path / "weights.safetensors"
    ck.save(t.model.state_dict(), path)
    with pytest.raises(ValueError, match="has no 'model' entry"):
        t.load_checkpoint(path)
    ck.save([1, 2], path)
    with pytest.raises(ValueError, match="holds a list, not a Trainer checkpoint"):
        t.load_checkpoint(path)


def test_a_pickle_is_not_loaded(tmp_path, trained):
    import pickle  # only to write the hostile file

    t, _ = trained
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"model": {}}))
    with pytest.raises(CheckpointError, match=f"load: {path}"):
        t.load_checkpoint(path)


def test_no_pickle_in_the_package():
    """cnnkit never imports pickle (or a pickle-based loader) and never enables allow_pickle."""
    root = Path(ck.__file__).parent
    banned = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "cloudpickle", "marshal"}
    files = sorted(root.rglob("*.py"))
    assert len(files) > 20
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                names = []
            assert not banned.intersection(names), f"{f} imports {names}"
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, f"{f}: allow_pickle"
            if isinstance(node, ast.Attribute) and node.attr in ("load", "loads") and \
                    isinstance(node.value, ast.Name) and node.value.id in ("torch", "pickle"):
                raise AssertionError(f"{f} calls {node.value.id}.{node.attr}")


def test_resume_with_loss_guard_history_is_finite(tmp_path):
    """Non-finite floats in the history (e.g. NaN accuracy) survive a checkpoint round trip."""
    path = tmp_path / "c.safetensors"
    ck.manual_seed(0)
    t, train, val = build(checkpoint=path)
    t.fit(train, 1)  # no validation: no val entries
    t.history[0]["extra"] = float("nan")
    t.save_checkpoint(path)
    ck.manual_seed(0)
    t2, _, _ = build()
    t2.load_checkpoint(path)
    assert math.isnan(t2.history[0]["extra"]) and t2.history[0]["train_loss"] == t.history[0]["train_loss"]
