"""The Trainer: fitting, history, evaluate/predict, L1 and gradient clipping, schedulers, progress output,
the metrics log and the curve plot, the non-finite guard, and a whole training run against torch."""
import csv
import io
import json
import math
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn

import cnnkit as ck
import cnnkit.train.report
from cnnkit import nn
from cnnkit.data import DataLoader, TensorDataset
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD, Adam, lr_scheduler
from cnnkit.train import NonFiniteLossError, Trainer


# ----- fixtures ---------------------------------------------------------------------------------
def blobs(n=96, dim=4, classes=3, seed=0, spread=0.3, dtype=np.float32):
    """Linearly separable Gaussian blobs: class c around 2·e_c."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centers = 2.0 * np.eye(classes, dim)
    x = centers[y] + spread * rng.standard_normal((n, dim))
    return TensorDataset(x.astype(dtype), y.astype(np.int64))


def mlp(dim=4, classes=3, hidden=16):
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def trainer_for(model, lr=0.1, **kwargs):
    return Trainer(model, SGD(model.parameters(), lr=lr, momentum=0.9), CrossEntropyLoss(), quiet=True,
                   stream=io.StringIO(), **kwargs)


def weights(model):
    return {k: v._data.copy() for k, v in model.state_dict().items()}


class TTYStream(io.StringIO):
    """A StringIO that says it is a terminal (so the Trainer shows a tqdm bar)."""

    def isatty(self):
        return True


class Recorder(nn.Module):
    """Wraps a model and records, per call, the batch size, the training flag and whether grad mode was on."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []
        self.inputs = []

    def forward(self, x):
        self.calls.append((x.shape[0], self.training, ck.is_grad_enabled()))
        self.inputs.append(x._data.copy())
        return self.inner(x)


# ----- fit and history -------------------------------------------------------------------------
def test_fit_reduces_loss_and_records_history():
    data = blobs()
    model = mlp()
    t = trainer_for(model)
    loader = DataLoader(data, batch_size=16, shuffle=True)
    before = t.evaluate(data)["loss"]
    history = t.fit(loader, 5, val=data)
    assert t.epoch == 5 and history is t.history and len(history) == 5
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    for h in history:
        assert set(h) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                          "images_per_s"}
        assert h["lr"] == 0.1 and h["seconds"] > 0 and h["images_per_s"] > 0
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["val_acc"] <= 1
    assert history[-1]["train_loss"] < 0.2 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < 0.1 * before
    assert history[-1]["val_acc"] == 1.0
    # the history's val entries are evaluate()'s
    final = t.evaluate(data)
    assert final["loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-6)
    # fit up to an epoch already reached does nothing
    w = weights(model)
    assert len(t.fit(loader, 5)) == 5 and len(t.fit(loader, 3)) == 5
    assert all(np.array_equal(w[k], v) for k, v in weights(model).items())


def test_fit_train_loss_is_the_mean_of_batch_losses_weighted_by_size():
    data = blobs(n=40)
    model = mlp()
    losses = []

    def loss_fn(out, y):
        value = CrossEntropyLoss()(out, y)
        losses.append((value.item(), len(y)))
        return value

    t = Trainer(model, SGD(model.parameters(), lr=0.05), loss_fn, quiet=True, stream=io.StringIO())
    t.fit(DataLoader(data, batch_size=16), 1)  # batches of 16, 16, 8
    assert [n for _, n in losses] == [16, 16, 8]
    assert t.history[0]["train_loss"] == pytest.approx(sum(v * n for v, n in losses) / 40, rel=1e-12)


def test_fit_accepts_a_dataset_and_shuffles_it():
    data = blobs(n=32)
    model = Recorder(mlp())
    t = trainer_for(model, batch_size=10)
    t.fit(data, 1)
    assert [c[0] for c in model.calls] == [10, 10, 10, 2]
    seen = np.concatenate(model.inputs)
    x = data.arrays[0]
    assert not np.array_equal(seen, x)  # shuffled ...
    np.testing.assert_array_equal(seen[np.lexsort(seen.T)], x[np.lexsort(x.T)])  # ... a permutation of the set


def test_fit_argument_errors():
    t = trainer_for(mlp())
    with pytest.raises(ValueError, match="Trainer.fit: epochs must be a non-negative int, got -1"):
        t.fit(blobs(), -1)
    with pytest.raises(ValueError, match="epochs must be a non-negative int, got 2.5"):
        t.fit(blobs(), 2.5)
    with pytest.raises(TypeError, match="Trainer.fit: expected a DataLoader or a Dataset, got int"):
        t.fit(3, 1)
    with pytest.raises(TypeError, match="Trainer.fit: expected a DataLoader or a Dataset, got None"):
        t.fit(None, 1)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"l1": -1.0}, ValueError, "l1 must be a non-negative number"),
    ({"grad_clip": 0.0}, ValueError, "grad_clip must be a positive number"),
    ({"topk": 0}, ValueError, "topk must be a positive int"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
])
def test_trainer_argument_errors(kwargs, exc, match):
    model = mlp()
    with pytest.raises(exc, match=f"Trainer: {match}"):
        Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), **kwargs)


def test_trainer_type_errors():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="Trainer: model must be a Module"):
        Trainer(3, opt, CrossEntropyLoss())
    with pytest.raises(TypeError, match="Trainer: optimizer must be an Optimizer"):
        Trainer(model, "sgd", CrossEntropyLoss())
    with pytest.raises(TypeError, match="Trainer: loss must be callable"):
        Trainer(model, opt, "ce")


# ----- evaluate and predict -----------------------------------------------------------------------
@pytest.mark.parametrize("start_training", [True, False])
def test_evaluate_in_eval_mode_without_grad_and_restores_mode(start_training):
    data = blobs(n=50, spread=1.5)  # overlapping: some mistakes
    inner = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))
    model = Recorder(inner)
    model.train(start_training)
    t = trainer_for(model, topk=2)
    result = t.evaluate(DataLoader(data, batch_size=20))
    assert [c for c in model.calls] == [(20, False, False), (20, False, False), (10, False, False)]
    assert model.training is start_training and inner[1].training is start_training
    # reference: the whole set at once, in eval mode
    inner.eval()
    x, y = data.arrays
    logits = inner(ck.tensor(x))._data
    ref_loss = CrossEntropyLoss()(ck.tensor(logits), ck.tensor(y)).item()
    assert result["loss"] == pytest.approx(ref_loss, rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == y))
    assert result["top2"] == pytest.approx(np.mean([t_ in np.argsort(-row, kind="stable")[:2]
                                                    for row, t_ in zip(logits, y)]))
    assert result["n"] == 50
    ref = np.zeros((3, 3), np.int64)
    for ti, pi in zip(y, logits.argmax(1)):
        ref[ti, pi] += 1
    np.testing.assert_array_equal(result["confusion"], ref)
    assert 0 < result["accuracy"] < 1


def test_evaluate_restores_mode_after_an_error():
    model = mlp()
    t = trainer_for(model)
    bad = TensorDataset(np.zeros((4, 5), np.float32), np.zeros(4, np.int64))  # wrong feature size
    with pytest.raises(ValueError):
        t.evaluate(bad)
    assert model.training


def test_evaluate_confusion_has_all_classes():
    """The confusion matrix is C × C (C = number of outputs) even if the data misses some classes."""
    data = TensorDataset(np.zeros((3, 4), np.float32), np.zeros(3, np.int64))
    result = trainer_for(mlp(classes=5)).evaluate(data)
    assert result["confusion"].shape == (5, 5) and result["confusion"].sum() == 3


def test_predict_classes_logits_and_batching():
    data = blobs(n=23)
    model = Recorder(mlp())
    t = trainer_for(model, batch_size=8)
    x = data.arrays[0]
    logits = t.predict(x, return_logits=True)
    assert [c for c in model.calls] == [(8, False, False), (8, False, False), (7, False, False)]
    assert model.training
    model.eval()
    with ck.no_grad():
        ref = model.inner(ck.tensor(x))._data
    model.train()
    np.testing.assert_allclose(logits, ref, rtol=1e-6)
    classes = t.predict(ck.tensor(x), batch_size=5)
    assert classes.dtype == np.int64 and classes.shape == (23,)
    np.testing.assert_array_equal(classes, ref.argmax(1))
    np.testing.assert_array_equal(t.predict(x.astype(np.float64)), ref.argmax(1))  # cast to the model's dtype
    with pytest.raises(ValueError, match="Trainer.predict: expected a non-empty batch"):
        t.predict(np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="Trainer.predict: batch_size must be a positive int"):
        t.predict(x, batch_size=0)


# ----- L1, gradient clipping, schedulers ---------------------------------------------------------------
def test_l1_penalty_is_added_with_the_right_gradient():
    ck.manual_seed(1)
    data = blobs(n=16, dtype=np.float64)
    model = mlp().double()
    lam, lr = 0.01, 0.1
    x, y = ck.tensor(data.arrays[0]), ck.tensor(data.arrays[1])
    # reference gradient: cross-entropy only, plus λ·sign(w) for the weights (dims >= 2) by hand
    model.zero_grad()
    ce = CrossEntropyLoss()(model(x), y)
    ce.backward()
    w0 = weights(model)
    expected = {}
    for name, p in model.named_parameters():
        g = p.grad._data.copy()
        if p.ndim >= 2:
            g = g + lam * np.sign(p._data)
        expected[name] = g
    t = Trainer(model, SGD(model.parameters(), lr=lr), CrossEntropyLoss(), l1=lam, quiet=True,
                stream=io.StringIO())
    model.zero_grad()
    objective = t.compute_loss(model(x), y)
    l1 = sum(np.abs(p._data).sum() for p in model.parameters() if p.ndim >= 2)
    assert objective.item() == pytest.approx(ce.item() + lam * l1, rel=1e-12)
    objective.backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad._data, expected[name], rtol=1e-12, atol=1e-15, err_msg=name)
    # one plain SGD step through fit applies exactly that gradient
    t.fit(DataLoader(data, batch_size=16), 1)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p._data, w0[name] - lr * expected[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_grad_clip_limits_the_update():
    ck.manual_seed(2)
    data = blobs(n=16, dtype=np.float64)
    model = mlp().double()
    x, y = ck.tensor(data.arrays[0]), ck.tensor(data.arrays[1])
    CrossEntropyLoss()(model(x), y).backward()
    grads = {n: p.grad._data.copy() for n, p in model.named_parameters()}
    norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
    clip = norm / 4
    model.zero_grad()
    w0 = weights(model)
    t = Trainer(model, SGD(model.parameters(), lr=1.0), CrossEntropyLoss(), grad_clip=clip, quiet=True,
                stream=io.StringIO())
    t.fit(DataLoader(data, batch_size=16), 1)
    step = {n: w0[n] - p._data for n, p in model.named_parameters()}
    step_norm = math.sqrt(sum(float((s ** 2).sum()) for s in step.values()))
    assert step_norm == pytest.approx(clip, rel=1e-5)
    for n in grads:  # the direction is the gradient's
        np.testing.assert_allclose(step[n], grads[n] * (clip / norm), rtol=1e-5, atol=1e-12)


def test_scheduler_is_stepped_once_per_epoch():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    t = Trainer(model, opt, CrossEntropyLoss(), lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), quiet=True,
                stream=io.StringIO())
    t.fit(DataLoader(blobs(), batch_size=32), 3)
    assert [h["lr"] for h in t.history] == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)


class RecordingPlateau(lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics = []

    def step(self, metrics):
        self.metrics.append(metrics)
        super().step(metrics)


@pytest.mark.parametrize("with_val", [True, False])
def test_reduce_lr_on_plateau_gets_the_validation_loss(with_val):
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    sched = RecordingPlateau(opt, patience=0, factor=0.5)
    t = Trainer(model, opt, CrossEntropyLoss(), sched, quiet=True, stream=io.StringIO())
    t.fit(DataLoader(blobs(), batch_size=32), 3, val=blobs(seed=1) if with_val else None)
    key = "val_loss" if with_val else "train_loss"
    assert sched.metrics == [h[key] for h in t.history]


# ----- progress output ----------------------------------------------------------------------------
def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    model = mlp()
    t = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), stream=stream)
    t.fit(DataLoader(blobs(), batch_size=16), 2, val=blobs(seed=1))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    for i, line in enumerate(lines, 1):
        h = t.history[i - 1]
        assert line.startswith(f"epoch {i}/2: loss {h['train_loss']:.4f}, acc {h['train_acc']:.4f}, "
                               f"val loss {h['val_loss']:.4f}, val acc {h['val_acc']:.4f}, lr 0.1, ")
        assert line.endswith("images/s)")


def test_quiet_gives_plain_lines_even_on_a_terminal():
    stream = TTYStream()
    model = mlp()
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), quiet=True, stream=stream).fit(
        DataLoader(blobs(), batch_size=16), 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2: loss ") and "\r" not in stream.getvalue()


def test_progress_line_on_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    stream = TTYStream()
    model = mlp()
    t = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), stream=stream)
    t.fit(DataLoader(blobs(), batch_size=16), 2, val=blobs(seed=1))
    text = stream.getvalue()
    assert "\r" in text and text.endswith("\n")  # the line redraws in place; each epoch ends its line
    # the first and the last batch of each epoch are drawn, within 79 columns, with the running loss and accuracy
    for epoch in (1, 2):
        for n in (1, 6):
            m = re.search(rf"\repoch {epoch}/2 +\d+%\|[^|]*\| {n}/6 (\d+) img/s ETA \d+:\d\d "
                          rf"loss=(\d\.\d+), acc=(\d\.\d+) *(?=[\r\n])", text)
            assert m, (epoch, n, text)
            assert len(m.group(0)) - 1 <= 79 and int(m.group(1)) > 0
    # then the epoch's summary line (as without a terminal), and the run's ETA after epoch 1
    for h in t.history:
        summary = (f"epoch {h['epoch']}/2: loss {h['train_loss']:.4f}, acc {h['train_acc']:.4f}, val loss "
                   f"{h['val_loss']:.4f}, val acc {h['val_acc']:.4f}, lr 0.1,")
        assert summary in text
    assert re.search(r"images/s\), run ETA \d+:\d\d *\n", text)  # after epoch 1: epoch 2 is to come
    assert text.rstrip().endswith("images/s)")  # after the last epoch: nothing left


# ----- metrics log and curve ------------------------------------------------------------------------
def test_csv_log(tmp_path):
    path = tmp_path / "logs" / "metrics.csv"
    t = trainer_for(mlp(), log=path)
    t.fit(DataLoader(blobs(), batch_size=32), 3, val=blobs(seed=1))
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                             "images_per_s"]
    assert len(rows) == 3
    for row, h in zip(rows, t.history):
        assert int(row["epoch"]) == h["epoch"]
        for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s"):
            assert float(row[k]) == h[k]  # written with repr: exact
    # a new run with the same log path starts a new log (not appended to the old one)
    t2 = trainer_for(mlp(), log=path)
    t2.fit(DataLoader(blobs(), batch_size=32), 1)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["val_loss"] == ""


def test_jsonl_log(tmp_path):
    path = tmp_path / "metrics.jsonl"
    t = trainer_for(mlp(), log=path)
    t.fit(DataLoader(blobs(), batch_size=32), 2)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    for line, h in zip(lines, t.history):
        row = json.loads(line)
        assert row["epoch"] == h["epoch"] and row["train_loss"] == h["train_loss"]
        assert row["val_loss"] is None and row["val_acc"] is None and row["lr"] == 0.1


def test_curve_png(tmp_path):
    path = tmp_path / "curve.png"
    t = trainer_for(mlp(), plot=path)
    t.fit(DataLoader(blobs(), batch_size=32), 3, val=blobs(seed=1))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    import matplotlib.image

    img = matplotlib.image.imread(str(path))
    assert img.shape[:2] == (400, 1000)
    assert img[..., :3].std() > 0.05  # not a blank canvas
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary file


# ----- the non-finite guard -----------------------------------------------------------------------------
class NaNOnCall:
    """CrossEntropyLoss, except that call number ``bad`` returns NaN; keeps the model's state (parameters and
    buffers) from just before the forward pass of that batch."""

    def __init__(self, model, bad):
        self.model, self.bad, self.calls = model, bad, 0
        self.ce = CrossEntropyLoss()
        self.weights_at_bad_call = None
        self._before = None
        model.register_forward_pre_hook(self._snapshot)

    def _snapshot(self, module, inputs):
        self._before = weights(module)

    def __call__(self, out, y):
        self.calls += 1
        loss = self.ce(out, y)
        if self.calls == self.bad:
            self.weights_at_bad_call = self._before
            return loss * float("nan")
        return loss


def test_nan_loss_stops_with_epoch_and_batch_and_keeps_weights(tmp_path):
    ck.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    loss = NaNOnCall(model, bad=7)  # 3 batches per epoch: call 7 is epoch 3, batch 1
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    ckpt = tmp_path / "ckpt.safetensors"
    t = Trainer(model, opt, loss, checkpoint=ckpt, quiet=True, stream=io.StringIO())
    with pytest.raises(NonFiniteLossError, match=r"the loss is nan at epoch 3, batch 1; training stopped"):
        t.fit(DataLoader(blobs(), batch_size=32), 5)
    after = weights(model)
    # parameters and BatchNorm's running statistics are those from before the batch (the forward pass of the
    # bad batch had already updated the running statistics: they were put back)
    assert all(np.array_equal(after[k], v) for k, v in loss.weights_at_bad_call.items())
    assert all(np.all(np.isfinite(v)) for v in after.values())
    assert t.epoch == 2 and len(t.history) == 2
    # the last checkpoint (after epoch 2) is finite and holds exactly these weights
    state = ck.io.checkpoint.load(ckpt)
    assert state["epoch"] == 2
    for k, v in state["model"].items():
        assert np.all(np.isfinite(v._data)) and np.array_equal(v._data, after[k])


def test_nan_on_the_third_call_names_the_batch():
    model = mlp()
    loss = NaNOnCall(model, bad=3)
    t = Trainer(model, SGD(model.parameters(), lr=0.1), loss, quiet=True, stream=io.StringIO())
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, batch 3;"):
        t.fit(DataLoader(blobs(), batch_size=16), 2)
    assert all(np.array_equal(v, loss.weights_at_bad_call[k]) for k, v in weights(model).items())


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_huge_learning_rate_makes_weights_non_finite_and_is_undone(tmp_path):
    model = mlp()
    w0 = weights(model)
    opt = SGD(model.parameters(), lr=1e300, momentum=0.9)
    ckpt = tmp_path / "ckpt.safetensors"
    t = Trainer(model, opt, CrossEntropyLoss(), checkpoint=ckpt, quiet=True, stream=io.StringIO())
    with pytest.raises(NonFiniteLossError, match=r"the update at epoch 1, batch 1 made weights non-finite"):
        t.fit(DataLoader(blobs(), batch_size=16), 3)
    assert all(np.array_equal(v, w0[k]) for k, v in weights(model).items())
    assert opt.state == {} or all(not s for s in opt.state.values())  # the momentum buffers were undone too
    assert not ckpt.exists()


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_gradients_are_caught():
    model = mlp()
    w0 = weights(model)

    def loss_fn(out, y):  # finite value (0 added), infinite gradient: d sqrt(u)/du at u = 0
        return CrossEntropyLoss()(out, y) + ck.sqrt(out * 0.0).sum()

    t = Trainer(model, SGD(model.parameters(), lr=0.1), loss_fn, quiet=True, stream=io.StringIO())
    with pytest.raises(NonFiniteLossError, match=r"non-finite gradients at epoch 1, batch 1"):
        t.fit(DataLoader(blobs(), batch_size=16), 1)
    assert all(np.array_equal(v, w0[k]) for k, v in weights(model).items())


def test_save_checkpoint_refuses_nan_weights(tmp_path):
    model = mlp()
    t = trainer_for(model)
    path = tmp_path / "c.safetensors"
    t.save_checkpoint(path)
    good = path.read_bytes()
    model[0].weight._data[1, 2] = np.nan
    with pytest.raises(NonFiniteLossError, match=r"refusing to save a checkpoint .*'0.weight' holds non-finite"):
        t.save_checkpoint(path)
    assert path.read_bytes() == good
    with pytest.raises(NonFiniteLossError):
        t.save_checkpoint(tmp_path / "other.safetensors")
    assert not (tmp_path / "other.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]  # no temporary file left


# ----- a whole run against torch ----------------------------------------------------------------------------
def test_training_run_matches_torch_float64():
    """Two epochs of a small CNN with SGD (momentum, weight decay), StepLR and a fixed batch order: the Trainer's
    weights equal a plain torch training loop's."""
    ck.manual_seed(5)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((24, 1, 8, 8))
    y = rng.integers(0, 3, 24)
    model = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 4, 3)), ("relu", nn.ReLU()),
                                       ("pool", nn.MaxPool2d(2)), ("flat", nn.Flatten()),
                                       ("fc", nn.Linear(36, 3))])).double()
    th = tnn.Sequential(OrderedDict([("conv", tnn.Conv2d(1, 4, 3)), ("relu", tnn.ReLU()),
                                     ("pool", tnn.MaxPool2d(2)), ("flat", tnn.Flatten()),
                                     ("fc", tnn.Linear(36, 3))])).double()
    th.load_state_dict({k: torch.from_numpy(v._data.copy()) for k, v in model.state_dict().items()})
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    t = Trainer(model, opt, CrossEntropyLoss(), lr_scheduler.StepLR(opt, 1, gamma=0.5), quiet=True,
                stream=io.StringIO())
    t.fit(DataLoader(TensorDataset(x, y), batch_size=8), 2)
    topt = torch.optim.SGD(th.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    tsched = torch.optim.lr_scheduler.StepLR(topt, 1, gamma=0.5)
    for _ in range(2):
        for i in range(0, 24, 8):
            topt.zero_grad()
            tnn.functional.cross_entropy(th(torch.from_numpy(x[i:i + 8])), torch.from_numpy(y[i:i + 8])).backward()
            topt.step()
        tsched.step()
    for k, v in th.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k]._data, v.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_adam_and_mse_targets_have_no_accuracy():
    """A regression loss with float targets trains; accuracy is NaN (no class targets) instead of an error."""
    ck.manual_seed(6)
    x = np.random.default_rng(6).standard_normal((32, 4)).astype(np.float32)
    target = (x @ np.ones((4, 2), np.float32)).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 2))
    t = Trainer(model, Adam(model.parameters(), lr=0.05), nn.loss.MSELoss(), quiet=True, stream=io.StringIO())
    t.fit(DataLoader(TensorDataset(x, target), batch_size=8), 5)
    assert t.history[-1]["train_loss"] < t.history[0]["train_loss"]
    assert math.isnan(t.history[-1]["train_acc"])
    result = t.evaluate(TensorDataset(x, target))
    assert math.isnan(result["accuracy"]) and "confusion" not in result
