"""Learning-rate schedules against torch.optim.lr_scheduler: the rate of every group at every step."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.nn import Parameter
from cnnkit.optim import SGD, Adam, lr_scheduler
from cnnkit.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

TS = torch.optim.lr_scheduler
LRS = (0.1, 0.05)
STEPS = 30


def make_optimizers(lrs=LRS):
    ck_opt = SGD([{"params": [Parameter(np.ones(2))], "lr": lr} for lr in lrs], lr=1.0, momentum=0.9)
    th_opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(2))], "lr": lr} for lr in lrs],
                             lr=1.0, momentum=0.9)
    return ck_opt, th_opt


def _decay(e):
    return 0.95 ** e


def _step_decay(e):
    return 0.5 ** (e // 4)


# name -> builder(module, optimizer); the same code builds the cnnkit and the torch schedule
SCHEDULES = {
    "StepLR-3-0.5": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "StepLR-1": lambda m, o: m.StepLR(o, 1),
    "MultiStepLR-repeated": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.5),
    "MultiStepLR-default": lambda m, o: m.MultiStepLR(o, milestones=[10, 20]),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR-10": lambda m, o: m.CosineAnnealingLR(o, T_max=10),
    "CosineAnnealingLR-7-eta": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "CosineAnnealingLR-40": lambda m, o: m.CosineAnnealingLR(o, 40, 1e-4),
    "LinearLR-default": lambda m, o: m.LinearLR(o),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=10),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=8),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=10, power=2.0),
    "LambdaLR": lambda m, o: m.LambdaLR(o, _decay),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [_decay, _step_decay]),
    "SequentialLR-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20)], milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.2, total_iters=3), m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=4, gamma=0.5)], milestones=[4, 12]),
}


def assert_lrs(ck_lrs, th_lrs, what):
    assert len(ck_lrs) == len(th_lrs), what
    for a, b in zip(ck_lrs, th_lrs):
        assert isinstance(a, float), f"{what}: {type(a).__name__} is not a float"
        assert abs(a - b) <= 1e-12 * abs(b) + 1e-300, f"{what}: cnnkit {a!r} vs torch {b!r}"


def run_both(ck_opt, th_opt, ck_s, th_s, steps, start=0):
    for k in range(start, start + steps):
        ck_opt.step()
        th_opt.step()
        ck_s.step()
        th_s.step()
        assert_lrs(ck_s.get_last_lr(), th_s.get_last_lr(), f"step {k + 1}")
        assert_lrs([g["lr"] for g in ck_opt.param_groups], [g["lr"] for g in th_opt.param_groups], f"lr {k + 1}")


def json_round_trip(obj):
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_torch_every_step(name):
    ck_opt, th_opt = make_optimizers()
    ck_s, th_s = SCHEDULES[name](lr_scheduler, ck_opt), SCHEDULES[name](TS, th_opt)
    assert_lrs(ck_s.get_last_lr(), th_s.get_last_lr(), "after construction")
    assert [g["initial_lr"] for g in ck_opt.param_groups] == list(LRS)
    run_both(ck_opt, th_opt, ck_s, th_s, STEPS)
    assert ck_s.last_epoch == th_s.last_epoch


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_state_dict_round_trip_mid_run(name):
    """Save optimizer + scheduler after 12 steps (through JSON), rebuild, load, continue: same as torch."""
    ck_opt, th_opt = make_optimizers()
    ck_s, th_s = SCHEDULES[name](lr_scheduler, ck_opt), SCHEDULES[name](TS, th_opt)
    run_both(ck_opt, th_opt, ck_s, th_s, 12)
    sched_sd = json_round_trip(ck_s.state_dict())
    opt_sd = json_round_trip(ck_opt.state_dict())
    th_sd = th_s.state_dict()
    common = set(sched_sd) & set(th_sd)
    assert set(sched_sd) - set(th_sd) <= {"base_lrs", "_step_count"}, set(sched_sd) - set(th_sd)
    for key in common - {"_schedulers", "milestones", "lr_lambdas"}:
        assert sched_sd[key] == th_sd[key], key
    if "milestones" in common:
        assert {int(k): v for k, v in sched_sd["milestones"].items()} == dict(th_sd["milestones"])
    # rebuild (fresh optimizer at its initial lrs), schedule first, then load both states
    opt2 = make_optimizers()[0]
    s2 = SCHEDULES[name](lr_scheduler, opt2)
    s2.load_state_dict(sched_sd)
    opt2.load_state_dict(opt_sd)
    assert s2.get_last_lr() == ck_s.get_last_lr()
    run_both(opt2, th_opt, s2, th_s, STEPS - 12, start=12)


@pytest.mark.parametrize("name", ["StepLR-3-0.5", "MultiStepLR-repeated", "CosineAnnealingLR-10", "LinearLR-warmup",
                                  "ExponentialLR"])
def test_loads_torch_scheduler_state(name):
    ck_opt, th_opt = make_optimizers()
    th_s = SCHEDULES[name](TS, th_opt)
    for _ in range(7):
        th_opt.step()
        th_s.step()
    ck_s = SCHEDULES[name](lr_scheduler, ck_opt)
    ck_s.load_state_dict(th_s.state_dict())
    for g, tg in zip(ck_opt.param_groups, th_opt.param_groups):
        g["lr"] = tg["lr"]
    run_both(ck_opt, th_opt, ck_s, th_s, 10)


@pytest.mark.parametrize("name,epochs", [("StepLR-3-0.5", [4, 9, 2]), ("MultiStepLR-repeated", [5, 3, 12]),
                                         ("ExponentialLR", [3, 7]), ("CosineAnnealingLR-7-eta", [3, 11]),
                                         ("LinearLR-warmup", [4, 15]), ("ConstantLR", [2, 6]),
                                         ("PolynomialLR", [3, 12])])
def test_step_with_epoch_uses_closed_form(name, epochs):
    ck_opt, th_opt = make_optimizers()
    ck_s, th_s = SCHEDULES[name](lr_scheduler, ck_opt), SCHEDULES[name](TS, th_opt)
    for e in epochs:
        with pytest.warns(UserWarning, match="deprecated"):
            ck_s.step(e)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            th_s.step(e)
        assert_lrs(ck_s.get_last_lr(), th_s.get_last_lr(), f"epoch {e}")


def test_resume_with_last_epoch_like_torch():
    ck_opt, th_opt = make_optimizers()
    for o in (ck_opt, th_opt):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    ck_s = StepLR(ck_opt, step_size=3, gamma=0.5, last_epoch=4)
    th_s = TS.StepLR(th_opt, step_size=3, gamma=0.5, last_epoch=4)
    assert_lrs(ck_s.get_last_lr(), th_s.get_last_lr(), "construction")
    run_both(ck_opt, th_opt, ck_s, th_s, 8)


def test_initial_lr_kept_when_already_set():
    ck_opt, _ = make_optimizers()
    ExponentialLR(ck_opt, gamma=0.5)
    ck_opt.step()
    s2 = ExponentialLR(ck_opt, gamma=0.5)
    assert s2.base_lrs == list(LRS)


def test_scheduler_works_with_adam_and_state_dict_has_initial_lr():
    p = Parameter(np.ones(2))
    opt = Adam([p], lr=0.01)
    s = CosineAnnealingLR(opt, T_max=4)
    for _ in range(4):
        opt.step()
        s.step()
    assert abs(s.get_last_lr()[0]) < 1e-15
    assert opt.state_dict()["param_groups"][0]["initial_lr"] == 0.01


# ----- ReduceLROnPlateau ----------------------------------------------------------------------------

METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.94, 0.96, 0.97, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.8, 0.7, 0.71,
           0.72, 0.73, 0.74, 0.75, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
PLATEAU = [
    dict(patience=2, factor=0.5),
    dict(mode="max", patience=1, factor=0.5),
    dict(patience=1, threshold=0.05, threshold_mode="abs"),
    dict(mode="max", patience=0, threshold=0.01, threshold_mode="abs", factor=0.9),
    dict(patience=1, cooldown=2, factor=0.3),
    dict(patience=0, factor=0.5, min_lr=[0.01, 0.02]),
    dict(patience=0, factor=0.5, min_lr=0.02),
    dict(patience=0, factor=0.9, eps=0.006),
    dict(),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_reduce_on_plateau_matches_torch(kwargs):
    ck_opt, th_opt = make_optimizers()
    ck_s, th_s = ReduceLROnPlateau(ck_opt, **kwargs), TS.ReduceLROnPlateau(th_opt, **kwargs)
    assert_lrs(ck_s.get_last_lr(), th_s.get_last_lr(), "construction")
    for k, m in enumerate(METRICS):
        ck_opt.step()
        th_opt.step()
        ck_s.step(ck.tensor(m, dtype=ck.float64) if k % 3 == 0 else m)
        th_s.step(m)
        assert_lrs(ck_s.get_last_lr(), th_s.get_last_lr(), f"step {k + 1}")
        assert (ck_s.best, ck_s.num_bad_epochs, ck_s.cooldown_counter, ck_s.last_epoch) == \
               (th_s.best, th_s.num_bad_epochs, th_s.cooldown_counter, th_s.last_epoch)
        if k == 14:  # round trip through JSON mid-run, into a fresh optimizer + scheduler
            sd = json.loads(json.dumps(ck_s.state_dict()))
            th_sd = th_s.state_dict()
            for key in sd:
                assert key in th_sd and sd[key] == th_sd[key], key
            opt_sd = json.loads(json.dumps(ck_opt.state_dict()))
            ck_opt = make_optimizers()[0]
            ck_s = ReduceLROnPlateau(ck_opt)
            ck_s.load_state_dict(sd)
            ck_opt.load_state_dict(opt_sd)


def test_reduce_on_plateau_reduces_after_patience():
    opt, _ = make_optimizers()
    s = ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for m in [1.0, 1.0, 1.0]:
        s.step(m)
    assert s.get_last_lr() == list(LRS)
    s.step(1.0)
    assert s.get_last_lr() == [0.05, 0.025]


# ----- errors -------------------------------------------------------------------------------------------

def _opt():
    return make_optimizers()[0]


@pytest.mark.parametrize("make,exc,match", [
    (lambda: StepLR(_opt(), step_size=0), ValueError, r"StepLR: step_size must be positive, got 0$"),
    (lambda: StepLR(_opt(), step_size=2.5), TypeError, r"StepLR: step_size must be an int, got 2.5$"),
    (lambda: StepLR(_opt(), 2, gamma="x"), TypeError, r"StepLR: gamma must be a number, got 'x'$"),
    (lambda: StepLR([1, 2], 2), TypeError, r"StepLR: expected an Optimizer, got list"),
    (lambda: StepLR(_opt(), 2, last_epoch=-2), ValueError, r"StepLR: last_epoch must be at least -1, got -2$"),
    (lambda: StepLR(_opt(), 2, last_epoch=3), KeyError, r"initial_lr"),
    (lambda: MultiStepLR(_opt(), milestones=[1, "a"]), ValueError, r"MultiStepLR: milestones must be integers"),
    (lambda: MultiStepLR(_opt(), milestones=3), TypeError, r"MultiStepLR: milestones must be a list"),
    (lambda: LinearLR(_opt(), start_factor=0), ValueError, r"LinearLR: start_factor must be > 0 and <= 1, got 0"),
    (lambda: LinearLR(_opt(), end_factor=1.5), ValueError, r"LinearLR: end_factor must be between 0 and 1"),
    (lambda: LinearLR(_opt(), total_iters=0), ValueError, r"LinearLR: total_iters must be positive, got 0$"),
    (lambda: ConstantLR(_opt(), factor=2.0), ValueError, r"ConstantLR: factor must be between 0 and 1"),
    (lambda: CosineAnnealingLR(_opt(), T_max=0), ValueError, r"CosineAnnealingLR: T_max must be positive, got 0$"),
    (lambda: ExponentialLR(_opt(), gamma=None), TypeError, r"ExponentialLR: gamma must be a number, got None$"),
    (lambda: PolynomialLR(_opt(), total_iters=-1), ValueError, r"PolynomialLR: total_iters must be positive, got -1$"),
    (lambda: ExponentialLR(_opt(), gamma=float("nan")), ValueError, r"ExponentialLR: gamma must be a finite number"),
    (lambda: ConstantLR(_opt(), total_iters=-1), ValueError, r"ConstantLR: total_iters must be non-negative, got -1$"),
    (lambda: LambdaLR(_opt(), [_decay]), ValueError, r"LambdaLR: expected 2 lr_lambdas"),
    (lambda: LambdaLR(_opt(), 0.5), TypeError, r"LambdaLR: lr_lambda must be callable"),
    (lambda: ReduceLROnPlateau(_opt(), factor=1.0), ValueError, r"ReduceLROnPlateau: factor must be >= 0 and < 1.0"),
    (lambda: ReduceLROnPlateau(_opt(), mode="avg"), ValueError, r"ReduceLROnPlateau: mode must be 'min' or 'max'"),
    (lambda: ReduceLROnPlateau(_opt(), threshold_mode="x"), ValueError, r"threshold_mode must be 'rel' or 'abs'"),
    (lambda: ReduceLROnPlateau(_opt(), min_lr=[0.1]), ValueError, r"ReduceLROnPlateau: expected 2 min_lrs"),
    (lambda: ReduceLROnPlateau(_opt(), patience=-1), ValueError, r"ReduceLROnPlateau: patience must be non-negative, got -1$"),
    (lambda: ReduceLROnPlateau(object()), TypeError, r"ReduceLROnPlateau: expected an Optimizer, got object"),
    (lambda: ReduceLROnPlateau(_opt()).step("high"), TypeError, r"ReduceLROnPlateau.step: metrics must be a number"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_invalid_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_sequential_lr_errors():
    opt, other = _opt(), _opt()
    with pytest.raises(ValueError, match=r"SequentialLR: expects one milestone fewer than schedulers"):
        SequentialLR(opt, [StepLR(opt, 2), ExponentialLR(opt, 0.9)], milestones=[])
    with pytest.raises(ValueError, match=r"SequentialLR: scheduler StepLR at index 0 belongs to a different"):
        SequentialLR(opt, [StepLR(other, 2), ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match=r"SequentialLR: ReduceLROnPlateau \(index 1\) is not supported"):
        SequentialLR(opt, [StepLR(opt, 2), ReduceLROnPlateau(opt)], milestones=[3])
    with pytest.raises(ValueError, match=r"SequentialLR: expects at least one scheduler"):
        SequentialLR(opt, [], milestones=[])


@pytest.mark.parametrize("mutate,exc,match", [
    (lambda sd: sd.pop("last_epoch"), ValueError, r"StepLR.load_state_dict: missing key\(s\) 'last_epoch'"),
    (lambda sd: sd.update(base_lrs=[0.1]), ValueError, r"'base_lrs' must be a list with one value per parameter "
                                                       r"group \(2\)"),
    (lambda sd: sd.update(last_epoch="3"), ValueError, r"'last_epoch' must be an integer"),
])
def test_scheduler_load_state_dict_validates(mutate, exc, match):
    opt = _opt()
    s = StepLR(opt, 3)
    sd = s.state_dict()
    mutate(sd)
    before = s.state_dict()
    with pytest.raises(exc, match=match):
        s.load_state_dict(sd)
    assert s.state_dict() == before


def test_plateau_load_state_dict_validates():
    s = ReduceLROnPlateau(_opt())
    sd = s.state_dict()
    sd["mode"] = "median"
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: invalid mode 'median'"):
        s.load_state_dict(sd)
    assert s.mode == "min"
    assert math.isinf(s.best)
