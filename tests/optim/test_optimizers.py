"""Optimizers against torch.optim: same parameters, same gradient sequence, step by step."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.nn import Parameter
from cnnkit.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from tests.oracle import assert_close

SHAPES = [(4, 3), (5,), (2, 3, 2), (3,)]
STEPS = 20
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
TORCH_CLS = {SGD: torch.optim.SGD, Adam: torch.optim.Adam, AdamW: torch.optim.AdamW, RMSprop: torch.optim.RMSprop}


# ----- helpers --------------------------------------------------------------------------------------

def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ck_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    return ck_params, th_params


def grad_sequence(dtype, steps=STEPS, seed=1):
    """Random gradients; parameter 1 has no gradient at steps 3 and 4, parameter 3 never has one."""
    rng = np.random.default_rng(seed)
    seq = []
    for k in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        if k in (3, 4):
            grads[1] = None
        grads[3] = None
        seq.append(grads)
    return seq


def set_grads(ck_params, th_params, grads):
    for p, q, g in zip(ck_params, th_params, grads):
        p.grad = None if g is None else ck.Tensor(g.copy())
        if q is not None:
            q.grad = None if g is None else torch.from_numpy(g.copy())


def groups(params, spec):
    """The optimizer's ``params`` argument: a plain list, or parameter groups with their own options."""
    if spec is None:
        return list(params)
    return [dict(spec[0], params=params[:2]), dict(spec[1], params=params[2:])]


def to_json(state_dict) -> str:
    def encode(o):
        if isinstance(o, ck.Tensor):
            return {"__array__": o._data.tolist(), "dtype": str(o.dtype), "shape": list(o.shape)}
        raise TypeError(type(o).__name__)
    return json.dumps(state_dict, default=encode, allow_nan=False)


def from_json(text: str):
    def decode(d):
        if "__array__" in d:
            return np.array(d["__array__"], dtype=d["dtype"]).reshape(d["shape"])
        return d
    return json.loads(text, object_hook=decode)


def assert_close_to_torch(actual, expected, rtol, what):
    """float64: the oracle's elementwise relative test. float32: relative to the tensor's magnitude, since
    torch's kernels round differently (fused multiply-add) and a value that cancels to near zero keeps an
    absolute error of an ulp of its operands."""
    a = np.asarray(actual)
    e = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != torch's {e.dtype}"
    if a.dtype == np.float64:
        assert_close(a, e, rtol, what)
        return
    err = np.abs(a.astype(np.float64) - e)
    tol = rtol * (np.abs(e) + np.max(np.abs(e)))
    assert np.all(err <= tol), f"{what}: max |diff| {err.max():.3g} beyond rtol {rtol} of the tensor's scale"


def compare_params(ck_params, th_params, rtol, what):
    for i, (p, q) in enumerate(zip(ck_params, th_params)):
        assert_close_to_torch(p._data, q.detach(), rtol, f"{what}: param {i}")


CONFIGS = [
    (SGD, dict(lr=0.1), None),
    (SGD, dict(lr=0.1, momentum=0.9), None),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.3), None),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), None),
    (SGD, dict(lr=0.1, weight_decay=0.01), None),
    (SGD, dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True), None),
    (SGD, dict(lr=0.1, momentum=0.5, dampening=0.5, weight_decay=0.05, maximize=True), None),
    (SGD, dict(lr=0.1, momentum=0.9), ({"lr": 0.01}, {"momentum": 0.5, "weight_decay": 0.1, "nesterov": True})),
    (Adam, dict(), None),
    (Adam, dict(lr=0.01, amsgrad=True), None),
    (Adam, dict(lr=0.01, weight_decay=0.1), None),
    (Adam, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, maximize=True), None),
    (Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True), None),
    (Adam, dict(lr=0.01, betas=(0.3, 0.99)), None),  # 1 - beta1 >= 0.5: the other side of lerp
    (Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    (Adam, dict(lr=0.01), ({"lr": 0.1, "amsgrad": True}, {"betas": (0.5, 0.9), "weight_decay": 0.01})),
    (AdamW, dict(), None),
    (AdamW, dict(lr=0.01, weight_decay=0.1), None),
    (AdamW, dict(lr=0.01, amsgrad=True, maximize=True), None),
    (AdamW, dict(lr=0.01), ({"weight_decay": 0.5}, {"lr": 0.05, "amsgrad": True})),
    (RMSprop, dict(), None),
    (RMSprop, dict(lr=0.01, alpha=0.9), None),
    (RMSprop, dict(centered=True), None),
    (RMSprop, dict(momentum=0.9), None),
    (RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1), None),
    (RMSprop, dict(lr=0.01, maximize=True, weight_decay=0.05), None),
    (RMSprop, dict(lr=0.01, alpha=0.3, centered=True), None),  # 1 - alpha >= 0.5
    (RMSprop, dict(lr=0.01), ({"momentum": 0.5, "centered": True}, {"lr": 0.001, "alpha": 0.5})),
]
CONFIG_IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}{'-groups' if s else ''}"
              for c, kw, s in CONFIGS]


# ----- step by step against torch --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls,kwargs,spec", CONFIGS, ids=CONFIG_IDS)
def test_matches_torch_step_by_step(cls, kwargs, spec, dtype):
    ck_params, th_params = make_params(dtype)
    ck_opt = cls(groups(ck_params, spec), **kwargs)
    th_opt = TORCH_CLS[cls](groups(th_params, spec), **kwargs)
    for k, grads in enumerate(grad_sequence(dtype)):
        set_grads(ck_params, th_params, grads)
        ck_opt.step()
        th_opt.step()
        compare_params(ck_params, th_params, RTOL[dtype], f"{cls.__name__} step {k + 1}")
    # the parameter that never had a gradient is untouched and has no state
    assert ck_params[3] not in ck_opt.state
    # state arrays keep the parameters' dtype and match torch's
    for i, p in enumerate(ck_params[:3]):
        for key, value in ck_opt.state[p].items():
            ref = th_opt.state[th_params[i]][key]
            if key == "step":
                assert isinstance(value, float) and value == float(ref)
            else:
                assert value.dtype == dtype
                assert_close_to_torch(value, ref, RTOL[dtype] * 10, f"state {key} of param {i}")
        assert set(ck_opt.state[p]) == set(th_opt.state[th_params[i]])


@pytest.mark.parametrize("cls,kwargs,spec", [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), ({"lr": 0.01}, {"weight_decay": 0.1})),
    (Adam, dict(lr=0.01, amsgrad=True), ({"lr": 0.1}, {"betas": (0.5, 0.9)})),
    (AdamW, dict(lr=0.01), ({"weight_decay": 0.5}, {"amsgrad": True})),
    (RMSprop, dict(lr=0.01, momentum=0.9, centered=True), ({"lr": 0.1}, {"alpha": 0.5})),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_dict_round_trip_mid_run(cls, kwargs, spec, dtype):
    """Save after 3 steps (through JSON), load into a new optimizer, continue: identical to one run."""
    seq = grad_sequence(dtype, steps=10)
    ck_params, th_params = make_params(dtype)
    ck_opt = cls(groups(ck_params, spec), **kwargs)
    th_opt = TORCH_CLS[cls](groups(th_params, spec), **kwargs)
    for grads in seq[:3]:
        set_grads(ck_params, th_params, grads)
        ck_opt.step()
        th_opt.step()
    saved = to_json(ck_opt.state_dict())
    # the structure is torch's
    ck_sd, th_sd = ck_opt.state_dict(), th_opt.state_dict()
    assert list(ck_sd) == ["state", "param_groups"]
    assert sorted(ck_sd["state"]) == sorted(th_sd["state"])
    for idx, entry in ck_sd["state"].items():
        assert set(entry) == set(th_sd["state"][idx])
    for g, tg in zip(ck_sd["param_groups"], th_sd["param_groups"]):
        assert set(g) <= set(tg)
        for key in g:
            assert g[key] == tg[key], key
    # resume in a fresh optimizer on fresh parameters holding the same values
    resumed = [Parameter(p._data.copy()) for p in ck_params]
    opt2 = cls(groups(resumed, spec), **kwargs)
    opt2.load_state_dict(from_json(saved))
    for k, grads in enumerate(seq[3:]):
        set_grads(ck_params, th_params, grads)
        set_grads(resumed, [None] * len(resumed), grads)
        ck_opt.step()
        opt2.step()
        th_opt.step()
        for p, r in zip(ck_params, resumed):
            np.testing.assert_array_equal(r.data, p.data, err_msg=f"resumed run differs at step {k + 4}")
        compare_params(resumed, th_params, RTOL[dtype], f"resumed step {k + 4}")
    for p, r in zip(ck_params, resumed):
        for key, value in ck_opt.state[p].items():
            if key == "step":
                assert opt2.state[r][key] == value
            else:
                np.testing.assert_array_equal(opt2.state[r][key], value)
                assert opt2.state[r][key].dtype == dtype


@pytest.mark.parametrize("cls,kwargs", [
    (SGD, dict(lr=0.1, momentum=0.9)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (AdamW, dict(lr=0.01)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_loads_torch_state_dict(cls, kwargs):
    """A torch.optim state dict (tensors, tensor 'step') loads and the runs continue together."""
    seq = grad_sequence(np.float64, steps=8)
    _, th_params = make_params(np.float64)
    th_opt = TORCH_CLS[cls](th_params, **kwargs)
    for grads in seq[:3]:
        set_grads([Parameter(np.zeros(s)) for s in SHAPES], th_params, grads)
        th_opt.step()
    ck_params = [Parameter(q.detach().numpy().copy()) for q in th_params]
    ck_opt = cls(ck_params, **kwargs)
    ck_opt.load_state_dict(th_opt.state_dict())
    for grads in seq[3:]:
        set_grads(ck_params, th_params, grads)
        ck_opt.step()
        th_opt.step()
        compare_params(ck_params, th_params, 1e-12, "after loading torch's state")


def test_state_dict_values_share_memory_and_load_copies():
    p = Parameter(np.ones(3))
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = ck.Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    assert isinstance(sd["state"][0]["momentum_buffer"], ck.Tensor)
    assert np.shares_memory(sd["state"][0]["momentum_buffer"]._data, opt.state[p]["momentum_buffer"])
    q = Parameter(np.ones(3))
    opt2 = SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    assert not np.shares_memory(opt2.state[q]["momentum_buffer"], opt.state[p]["momentum_buffer"])


def test_sgd_without_momentum_has_empty_state_like_torch():
    ck_params, th_params = make_params(np.float64)
    ck_opt, th_opt = SGD(ck_params, lr=0.1), torch.optim.SGD(th_params, lr=0.1)
    set_grads(ck_params, th_params, grad_sequence(np.float64, steps=1)[0])
    ck_opt.step()
    th_opt.step()
    assert ck_opt.state_dict()["state"] == {} == th_opt.state_dict()["state"]


def test_float32_stays_float32():
    p = Parameter(np.ones((2, 2), np.float32))
    for opt in (SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True), Adam([p], amsgrad=True),
                AdamW([p]), RMSprop([p], momentum=0.9, centered=True)):
        for _ in range(2):
            p.grad = ck.Tensor(np.full((2, 2), 0.5, np.float32))
            opt.step()
        assert p._data.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_updates_in_place_and_shared_with_module_state():
    lin = Parameter(np.ones(3))
    view = lin._data
    opt = SGD([lin], lr=0.5)
    lin.grad = ck.Tensor(np.ones(3))
    opt.step()
    assert lin._data is view
    np.testing.assert_array_equal(view, np.full(3, 0.5))


@pytest.mark.parametrize("cls,kwargs", [(c, kw) for c, kw, s in CONFIGS if s is None], ids=[
    i for i, (c, kw, s) in zip(CONFIG_IDS, CONFIGS) if s is None])
def test_step_bumps_versions_and_leaves_gradients_alone(cls, kwargs):
    """A step writes each parameter with a gradient in place: its version count goes up (as torch's does, and as
    caches of a weight rely on), the others' stays; the gradient arrays (scratch buffers are reused) are unchanged."""
    ck_params, _ = make_params(np.float32)
    opt = cls(ck_params, **kwargs)
    for grads in grad_sequence(np.float32, steps=3):
        for p, g in zip(ck_params, grads):
            p.grad = None if g is None else ck.Tensor(g.copy())
        before = [p._version[0] for p in ck_params]
        opt.step()
        for p, g, v in zip(ck_params, grads, before):
            assert p._version[0] == (v if g is None else v + 1)
            if g is not None:
                np.testing.assert_array_equal(p.grad._data, g)


def test_grad_none_skipped_and_no_state_created():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = Adam([p, q], lr=0.1)
    p.grad = ck.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(q._data, np.ones(2))
    assert q not in opt.state and p in opt.state


def test_zero_grad():
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=0.1)
    p.grad = ck.Tensor(np.ones(2))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad._data, np.zeros(2))
    opt.zero_grad()
    assert p.grad is None


def test_closure_is_called_with_grad_enabled_and_loss_returned():
    p = Parameter(np.array([1.0, -2.0]))
    opt = SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        assert ck.is_grad_enabled()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ck.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(p._data, [0.8, -1.6])


def test_add_param_group_and_defaults_like_torch():
    ck_params, th_params = make_params(np.float64)
    ck_opt = SGD(ck_params[:2], lr=0.1, momentum=0.9)
    th_opt = torch.optim.SGD(th_params[:2], lr=0.1, momentum=0.9)
    ck_opt.add_param_group({"params": ck_params[2], "lr": 0.01})
    th_opt.add_param_group({"params": th_params[2], "lr": 0.01})
    assert len(ck_opt.param_groups) == 2
    g, tg = ck_opt.param_groups[1], th_opt.param_groups[1]
    for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"):
        assert g[key] == tg[key]
    for k, grads in enumerate(grad_sequence(np.float64, steps=5)):
        set_grads(ck_params, th_params, grads)
        ck_opt.step()
        th_opt.step()
        compare_params(ck_params, th_params, 1e-12, f"step {k}")


def test_named_parameters_give_param_names():
    ck_params, th_params = make_params(np.float64)
    names = [f"w{i}" for i in range(len(SHAPES))]
    ck_opt = Adam(list(zip(names, ck_params)), lr=0.01)
    th_opt = torch.optim.Adam(list(zip(names, th_params)), lr=0.01)
    names_saved = ck_opt.state_dict()["param_groups"][0]["param_names"]
    assert names_saved == th_opt.state_dict()["param_groups"][0]["param_names"] == names


def test_repr():
    opt = SGD([Parameter(np.ones(2))], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_optimizer_accepts_module_parameters_generator():
    from cnnkit.nn import Module

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.ones((2, 2)))
            self.b = Parameter(np.zeros(2))

    net = Net()
    opt = SGD(net.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2
    assert isinstance(opt, Optimizer)


# ----- errors ------------------------------------------------------------------------------------------

def _p():
    return [Parameter(np.ones(2))]


@pytest.mark.parametrize("make,match", [
    (lambda: SGD(_p(), lr=-0.1), r"SGD: invalid learning rate lr -0.1"),
    (lambda: SGD(_p(), lr=0.1, momentum=-0.5), r"SGD: invalid momentum -0.5"),
    (lambda: SGD(_p(), lr=0.1, weight_decay=-1e-4), r"SGD: invalid weight_decay"),
    (lambda: SGD(_p(), lr=0.1, nesterov=True), r"SGD: Nesterov momentum requires momentum > 0"),
    (lambda: SGD(_p(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), r"SGD: Nesterov.*dampening=0.1"),
    (lambda: SGD(_p(), lr=float("nan")), r"SGD: invalid learning rate"),
    (lambda: Adam(_p(), lr=-1.0), r"Adam: invalid learning rate lr -1.0"),
    (lambda: Adam(_p(), betas=(1.0, 0.999)), r"Adam: invalid betas beta1 1.0"),
    (lambda: Adam(_p(), betas=(0.9, -0.1)), r"Adam: invalid betas beta2 -0.1"),
    (lambda: Adam(_p(), eps=-1e-8), r"Adam: invalid eps"),
    (lambda: Adam(_p(), weight_decay=-0.1), r"Adam: invalid weight_decay"),
    (lambda: AdamW(_p(), weight_decay=-0.1), r"AdamW: invalid weight_decay"),
    (lambda: AdamW(_p(), betas=(0.9, 1.5)), r"AdamW: invalid betas beta2"),
    (lambda: RMSprop(_p(), alpha=-0.1), r"RMSprop: invalid alpha"),
    (lambda: RMSprop(_p(), momentum=-0.1), r"RMSprop: invalid momentum"),
    (lambda: RMSprop(_p(), eps=-1.0), r"RMSprop: invalid eps"),
    (lambda: RMSprop(_p(), lr=-0.01), r"RMSprop: invalid learning rate"),
    (lambda: SGD([], lr=0.1), r"SGD: got an empty parameter list"),
    (lambda: Adam(iter([])), r"Adam: got an empty parameter list"),
    (lambda: SGD([{"params": _p(), "lr": -1.0}], lr=0.1), r"SGD: invalid learning rate lr -1.0"),
    (lambda: SGD([{"params": _p(), "momentum": 0.0, "nesterov": True}], lr=0.1, momentum=0.9), r"Nesterov"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_invalid_options_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_parameter_in_two_groups_or_twice():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(3))
    with pytest.raises(ValueError, match=r"SGD: some parameters appear in more than one parameter group"):
        SGD([{"params": [p, q]}, {"params": [q]}], lr=0.1)
    opt = Adam([p])
    with pytest.raises(ValueError, match=r"Adam: some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match=r"SGD: a parameter group contains the same parameter more than once"):
        SGD([p, p], lr=0.1)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: SGD(Parameter(np.ones(2)), lr=0.1), TypeError, r"SGD: params should be an iterable.*single Tensor"),
    (lambda: SGD([np.ones(2)], lr=0.1), TypeError, r"SGD can only optimize Tensors.*ndarray"),
    (lambda: SGD([ck.tensor([1, 2])], lr=0.1), TypeError, r"SGD: can only optimize floating point.*int64"),
    (lambda: SGD({Parameter(np.ones(2))}, lr=0.1), TypeError, r"ordered collection"),
    (lambda: SGD([{"params": _p()}, Parameter(np.ones(1))], lr=0.1), TypeError, r"SGD: params mixes"),
    (lambda: Adam(_p(), lr="fast"), TypeError, r"Adam: learning rate lr must be a real number, got str"),
    (lambda: Adam(_p(), betas=0.9), TypeError, r"Adam: betas must be a pair"),
    (lambda: SGD(_p(), lr=0.1, nesterov="yes"), TypeError, r"SGD: nesterov must be a bool"),
    (lambda: SGD([{"lr": 0.1}], lr=0.1), ValueError, r"SGD.add_param_group: the group has no 'params'"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_invalid_params_raise(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_non_leaf_tensor_rejected():
    x = ck.tensor(np.ones(2), requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor"):
        SGD([y], lr=0.1)


def _trained_adam():
    ck_params, _ = make_params(np.float64)
    opt = Adam([{"params": ck_params[:2]}, {"params": ck_params[2:], "lr": 0.1}], amsgrad=True)
    set_grads(ck_params, [None] * 4, grad_sequence(np.float64, steps=1)[0])
    opt.step()
    return ck_params, opt


def _mutated(mutate):
    _, opt = _trained_adam()
    sd = from_json(to_json(opt.state_dict()))
    mutate(sd)
    return sd


@pytest.mark.parametrize("mutate,match", [
    (lambda sd: sd["param_groups"].pop(), r"Adam.load_state_dict: loaded state dict has 1 parameter group\(s\), "
                                          r"the optimizer has 2"),
    (lambda sd: sd["param_groups"][1]["params"].pop(), r"loaded parameter group 1 has 1 parameter\(s\), the "
                                                        r"optimizer's group 1 has 2"),
    (lambda sd: sd["state"]["0"].update(exp_avg=np.zeros((3, 4))), r"state 'exp_avg' of parameter 0 has shape "
                                                                  r"\(3, 4\), the parameter has shape \(4, 3\)"),
    (lambda sd: sd["state"].update({"9": {"step": 1.0}}), r"state for parameter id 9, which is in no parameter"),
    (lambda sd: sd["state"]["1"].pop("max_exp_avg_sq"), r"state of parameter 1 lacks 'max_exp_avg_sq'"),
    (lambda sd: sd["param_groups"][0].update(lr=-1.0), r"parameter group 0: Adam: invalid learning rate"),
    (lambda sd: sd["state"]["0"].update(step="x"), r"'step' of parameter 0 must be a number"),
    (lambda sd: sd["param_groups"][0].update(params=[0, 0]), r"parameter id 0 appears more than once"),
    (lambda sd: sd.pop("state"), r"expected a dict with keys 'state' and 'param_groups'"),
    (lambda sd: sd["param_groups"][0].update(params=["a", 1]), r"parameter id 'a' is not an integer"),
])
def test_load_state_dict_validates_before_changing_anything(mutate, match):
    params, opt = _trained_adam()
    before_groups = [dict(g) for g in opt.param_groups]
    before_state = {id(p): {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                    for p, s in opt.state.items()}
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(_mutated(mutate))
    assert [dict(g) for g in opt.param_groups] == before_groups
    for p, s in opt.state.items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, before_state[id(p)][k])


def test_load_state_dict_rejects_non_dict():
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: expected a dict"):
        SGD(_p(), lr=0.1).load_state_dict([1, 2])


# ----- blocks and threads (kernels.parallel.blockwise) -------------------------------------------------

BLOCKWISE_CONFIGS = [(c, kw) for c, kw, s in CONFIGS if s is None] + [
    (ck.optim.Adadelta, dict()), (ck.optim.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    (ck.optim.Adagrad, dict()), (ck.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                                        initial_accumulator_value=0.1, maximize=True)),
]
BLOCKWISE_TORCH = {**TORCH_CLS, ck.optim.Adadelta: torch.optim.Adadelta, ck.optim.Adagrad: torch.optim.Adagrad}


def _run_large(cls, kwargs, dtype, steps=4):
    """Parameters larger than a block (one with a transposed, non-contiguous gradient, one with none at step 2)
    after ``steps`` updates, with the state, next to torch's."""
    rng = np.random.default_rng(3)
    shapes = [(300, 250), (70001,), (129, 257), (5,)]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ck_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    ck_opt, th_opt = cls(ck_params, **kwargs), BLOCKWISE_TORCH[cls](th_params, **kwargs)
    for k in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        grads[2] = np.ascontiguousarray(grads[2].T).T          # Fortran order: updated whole, not in blocks
        if k == 2:
            grads[1] = None
        for p, q, g in zip(ck_params, th_params, grads):
            p.grad = None if g is None else ck.Tensor(g)
            q.grad = None if g is None else torch.from_numpy(g.copy())
        ck_opt.step()
        th_opt.step()
    return ck_params, th_params, ck_opt


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls,kwargs", BLOCKWISE_CONFIGS,
                         ids=[f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
                              for c, kw in BLOCKWISE_CONFIGS])
def test_blockwise_update_is_the_whole_array_update_bit_for_bit(cls, kwargs, dtype, monkeypatch):
    from cnnkit import kernels
    from cnnkit.kernels import parallel
    monkeypatch.setattr(parallel, "BLOCK", 1 << 40)                 # one block per array, one thread
    with kernels.using(threads=1):
        whole, _, whole_opt = _run_large(cls, kwargs, dtype)
    monkeypatch.setattr(parallel, "BLOCK", 1000)                    # many blocks, split over 2 threads
    with kernels.using(threads=2, parallel_min=0, piece_min=1):
        blocked, th_params, blocked_opt = _run_large(cls, kwargs, dtype)
    for i, (a, b) in enumerate(zip(whole, blocked)):
        assert np.array_equal(a._data, b._data), f"param {i}"
        for key, value in whole_opt.state[a].items():
            other = blocked_opt.state[b][key]
            assert np.array_equal(value, other) if key != "step" else value == other, f"state {key} of {i}"
    # against torch, relative to each tensor's scale (178 K values: some cancel). In float32 one value may reach
    # 1e-4: where g + λθ cancels, RMSprop's g / √v magnifies torch's other rounding (fused multiply-add) to 3.9e-5
    # of the scale on one value here (the whole-array code as before gave the same bits); the rest stay within 1e-5
    for i, (p, q) in enumerate(zip(blocked, th_params)):
        e = q.detach().numpy()
        rel = np.abs(p._data - e) / (np.abs(e) + np.max(np.abs(e)))
        assert np.sum(rel > RTOL[dtype]) <= (dtype == np.float32) and rel.max() <= 1e-4, f"param {i}: {rel.max():.3g}"


def test_parameters_over_one_array_are_updated_in_order_not_in_racing_blocks(monkeypatch):
    """Two parameters over one array (each step updates it twice, in order) get the whole-array arithmetic even
    when the blocks would run on two threads."""
    from cnnkit import kernels
    from cnnkit.kernels import parallel

    def run(block, **config):
        monkeypatch.setattr(parallel, "BLOCK", block)
        rng = np.random.default_rng(5)
        shared = rng.standard_normal((300, 200)).astype(np.float32)
        a, b = Parameter(shared), Parameter(np.zeros(1, np.float32))
        b.data = a.data                                  # b's array is a's array
        other = Parameter(rng.standard_normal(50_000).astype(np.float32))
        opt = SGD([a, b, other], lr=0.1, momentum=0.9, weight_decay=0.5)   # b's step reads a's result
        with kernels.using(**config):
            for _ in range(3):
                for p in (a, b, other):
                    p.grad = ck.Tensor(rng.standard_normal(p.shape).astype(np.float32))
                opt.step()
        return a._data.copy(), other._data.copy()

    whole = run(1 << 40, threads=1)
    racing = run(1000, threads=2, parallel_min=0, piece_min=1)
    assert all(np.array_equal(x, y) for x, y in zip(whole, racing))


def test_a_gradient_of_another_shape_is_refused_before_any_update():
    a, b = Parameter(np.ones((3, 4), np.float32)), Parameter(np.ones((2,), np.float32))
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = ck.Tensor(np.ones((3, 4), np.float32))
    b.grad = ck.Tensor(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"SGD\.step: a parameter of shape \(2,\) has a gradient of shape \(1, 2\)"):
        opt.step()
    assert np.array_equal(a._data, np.ones((3, 4), np.float32)) and not opt.state
