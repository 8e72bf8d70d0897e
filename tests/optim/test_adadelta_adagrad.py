"""Adadelta and Adagrad against torch.optim, step by step (same helpers and tolerances as test_optimizers.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnkit.nn import Parameter
from cnnkit.optim import Adadelta, Adagrad
from tests.optim.test_optimizers import (
    RTOL,
    assert_close_to_torch,
    compare_params,
    from_json,
    grad_sequence,
    groups,
    make_params,
    set_grads,
    to_json,
)

TORCH_CLS = {Adadelta: torch.optim.Adadelta, Adagrad: torch.optim.Adagrad}
CONFIGS = [
    (Adadelta, dict(), None),
    (Adadelta, dict(lr=0.5, rho=0.8, eps=1e-4), None),
    (Adadelta, dict(weight_decay=0.1, maximize=True), None),
    (Adadelta, dict(lr=1.0), ({"rho": 0.5}, {"lr": 0.1, "weight_decay": 0.01})),
    (Adagrad, dict(), None),
    (Adagrad, dict(lr=0.1, lr_decay=0.05), None),
    (Adagrad, dict(lr=0.1, initial_accumulator_value=0.3, eps=1e-6), None),
    (Adagrad, dict(lr=0.05, weight_decay=0.1, maximize=True), None),
    (Adagrad, dict(lr=0.1), ({"lr_decay": 0.1}, {"lr": 0.01, "weight_decay": 0.05})),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}{'-groups' if s else ''}"
       for c, kw, s in CONFIGS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls,kwargs,spec", CONFIGS, ids=IDS)
def test_matches_torch_step_by_step(cls, kwargs, spec, dtype):
    ck_params, th_params = make_params(dtype)
    ck_opt = cls(groups(ck_params, spec), **kwargs)
    th_opt = TORCH_CLS[cls](groups(th_params, spec), **kwargs)
    for k, grads in enumerate(grad_sequence(dtype)):
        set_grads(ck_params, th_params, grads)
        ck_opt.step()
        th_opt.step()
        compare_params(ck_params, th_params, RTOL[dtype], f"{cls.__name__} step {k + 1}")
    for i, p in enumerate(ck_params[:3]):
        ref_state = th_opt.state[th_params[i]]
        assert set(ck_opt.state[p]) == set(ref_state)
        for key, value in ck_opt.state[p].items():
            if key == "step":
                assert value == float(ref_state[key])
            else:
                assert value.dtype == dtype
                assert_close_to_torch(value, ref_state[key], RTOL[dtype] * 10, f"state {key} of param {i}")


@pytest.mark.parametrize("cls,kwargs", [(Adadelta, dict(rho=0.8)), (Adagrad, dict(lr=0.1, lr_decay=0.1))])
def test_state_dict_round_trip_and_torch_state(cls, kwargs):
    seq = grad_sequence(np.float64, steps=8)
    ck_params, th_params = make_params(np.float64)
    ck_opt, th_opt = cls(ck_params, **kwargs), TORCH_CLS[cls](th_params, **kwargs)
    for grads in seq[:3]:
        set_grads(ck_params, th_params, grads)
        ck_opt.step()
        th_opt.step()
    resumed = [Parameter(p._data.copy()) for p in ck_params]
    opt2 = cls(resumed, **kwargs)
    opt2.load_state_dict(from_json(to_json(ck_opt.state_dict())))
    from_torch = [Parameter(q.detach().numpy().copy()) for q in th_params]
    opt3 = cls(from_torch, **kwargs)
    opt3.load_state_dict({"state": {k: v for k, v in th_opt.state_dict()["state"].items() if k != 3},
                          "param_groups": th_opt.state_dict()["param_groups"]})
    for grads in seq[3:]:
        for ps in (ck_params, resumed, from_torch):
            set_grads(ps, th_params if ps is ck_params else [None] * 4, grads)
        for opt in (ck_opt, opt2, opt3, th_opt):
            opt.step()
        compare_params(resumed, th_params, 1e-12, "resumed")
        compare_params(from_torch, th_params, 1e-12, "loaded from torch")


@pytest.mark.parametrize("make, match", [
    (lambda p: Adadelta(p, lr=-1), "lr"), (lambda p: Adadelta(p, rho=1.5), "rho"),
    (lambda p: Adagrad(p, lr_decay=-0.1), "lr_decay"), (lambda p: Adagrad(p, eps=-1), "eps"),
    (lambda p: Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value")])
def test_invalid_options(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter(np.zeros(2))])
