"""Module and Parameter: registration, traversal, modes, dtypes, state dicts and hooks, compared with torch.nn."""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.nn import IncompatibleKeys, Module, Parameter, StateDictError
from tests.nn.module_zoo import make_zoo

CK, TH = make_zoo("ck"), make_zoo("torch")


def pair():
    return CK.Net(), TH.Net()


def names(items):
    return [k for k, _ in items]


def snapshot(m: Module) -> dict:
    """Copies of every parameter and buffer (including non-persistent ones), with their array identity."""
    out = {}
    for k, t in list(m.named_parameters(remove_duplicate=False)) + list(m.named_buffers(remove_duplicate=False)):
        out[k] = (id(t._data), t._data.dtype, t._data.copy())
    return out


def assert_untouched(m: Module, before: dict) -> None:
    after = snapshot(m)
    assert after.keys() == before.keys()
    for k, (ident, dtype, arr) in before.items():
        assert after[k][0] == ident and after[k][1] == dtype, k
        np.testing.assert_array_equal(after[k][2], arr, err_msg=k)


# ===== structure: names and orders equal torch's ==================================================

@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_parameters_match_torch(remove_duplicate):
    c, t = pair()
    cn = list(c.named_parameters(remove_duplicate=remove_duplicate))
    tn = list(t.named_parameters(remove_duplicate=remove_duplicate))
    assert names(cn) == names(tn)
    for (_, cp), (_, tp) in zip(cn, tn):
        assert isinstance(cp, Parameter) and cp.requires_grad
        np.testing.assert_array_equal(cp.numpy(), tp.detach().numpy())
    assert [p for p in c.parameters()] == [p for _, p in c.named_parameters()]


def test_shared_parameter_and_module_reported_once():
    c, _ = pair()
    keys = names(c.named_parameters())
    assert "heads.1.weight" not in keys and "heads.0.weight" in keys
    assert not any(k.startswith("shared.") for k in keys)          # shared is stem: already reported
    ids = [id(p) for p in c.parameters()]
    assert len(ids) == len(set(ids))
    all_keys = names(c.named_parameters(remove_duplicate=False))
    assert "heads.1.weight" in all_keys and "shared.weight" in all_keys


@pytest.mark.parametrize("prefix,recurse", [("", True), ("model", True), ("", False), ("m", False)])
def test_named_parameters_prefix_recurse_match_torch(prefix, recurse):
    c, t = pair()
    assert names(c.named_parameters(prefix=prefix, recurse=recurse)) == \
        names(t.named_parameters(prefix=prefix, recurse=recurse))
    assert names(c.named_buffers(prefix=prefix, recurse=recurse)) == \
        names(t.named_buffers(prefix=prefix, recurse=recurse))
    assert len(list(c.parameters(recurse=recurse))) == len(list(t.parameters(recurse=recurse)))
    assert len(list(c.buffers(recurse=recurse))) == len(list(t.buffers(recurse=recurse)))


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_buffers_match_torch(remove_duplicate):
    c, t = pair()
    cb = list(c.named_buffers(remove_duplicate=remove_duplicate))
    tb = list(t.named_buffers(remove_duplicate=remove_duplicate))
    assert names(cb) == names(tb)
    assert "features.2.0.cache" in names(cb)                          # non-persistent buffers are buffers
    for (_, x), (_, y) in zip(cb, tb):
        assert x.dtype == np.dtype(str(y.dtype).replace("torch.", ""))
        np.testing.assert_array_equal(x.numpy(), y.numpy())


@pytest.mark.parametrize("remove_duplicate", [True, False])
@pytest.mark.parametrize("prefix", ["", "net"])
def test_named_modules_match_torch(remove_duplicate, prefix):
    c, t = pair()
    cm = [(n, type(m).__name__) for n, m in c.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)]
    tm = [(n, type(m).__name__) for n, m in t.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)]
    assert cm == tm
    assert [type(m).__name__ for m in c.modules()] == [type(m).__name__ for m in t.modules()]


def test_children_match_torch():
    c, t = pair()
    assert names(c.named_children()) == names(t.named_children())
    assert [type(m).__name__ for m in c.children()] == [type(m).__name__ for m in t.children()]
    assert "shared" not in names(c.named_children())                   # the same object as 'stem'
    assert list(c.children())[0] is c.stem


def test_apply_order_matches_torch():
    c, t = pair()
    orders = []
    for net in (c, t):
        where = {}
        for n, m in net.named_modules():
            where.setdefault(id(m), n)
        order = []
        assert net.apply(lambda m: order.append(where[id(m)])) is net
        orders.append(order)
    assert orders[0] == orders[1]
    assert orders[0][-1] == "" and orders[0].index("features.2.0") < orders[0].index("features.2")


def test_get_submodule_parameter_buffer():
    c, t = pair()
    for path in ["", "stem", "features.2.1", "heads.3", "table.a.1"]:
        assert type(c.get_submodule(path)).__name__ == type(t.get_submodule(path)).__name__
    assert c.get_submodule("features.2.1") is c.features[2][1]
    assert c.get_submodule("") is c
    assert c.get_parameter("features.2.0.alpha") is c.features[2][0].alpha
    assert c.get_buffer("stem.steps") is c.stem.steps
    assert c.get_buffer("version") is c.version
    with pytest.raises(AttributeError, match="no submodule 'nope'.*features.nope"):
        c.get_submodule("features.nope")
    with pytest.raises(AttributeError, match="no submodule '7'"):
        c.get_submodule("heads.7")
    with pytest.raises(AttributeError, match="no parameter 'steps'"):
        c.get_parameter("stem.steps")
    with pytest.raises(AttributeError, match="no buffer 'weight'"):
        c.get_buffer("stem.weight")
    with pytest.raises(AttributeError, match="no parameter 'unused'"):
        c.get_parameter("features.2.0.unused")


def test_repr_matches_torch():
    c, t = pair()
    assert repr(c) == repr(t)
    assert repr(CK.Affine(4)) == repr(TH.Affine(4)) == "Affine(n=4)"
    assert repr(CK.Act()) == repr(TH.Act()) == "Act()"
    assert repr(CK.TwoLines()) == repr(TH.TwoLines())


def test_forward_and_shared_parameter_gradients_match_torch():
    c, t = pair()
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    yc = c(ck.tensor(x))
    yt = t(torch.tensor(x))
    np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-5)
    yc.sum().backward()
    yt.sum().backward()
    tgrads = dict(t.named_parameters())
    for n, p in c.named_parameters():
        if tgrads[n].grad is None:
            assert p.grad is None, n
        else:
            np.testing.assert_allclose(p.grad.numpy(), tgrads[n].grad.numpy(), rtol=1e-5, err_msg=n)
    assert c.heads[0].weight.grad is c.heads[1].weight.grad   # one parameter, one gradient


# ===== registration on assignment =================================================================

def test_assignment_registers_parameters_modules_buffers():
    m = CK.Act()
    w = Parameter(ck.ones(2))
    m.w = w
    m.sub = CK.Affine(2)
    m.register_buffer("buf", ck.zeros(2))
    m.plain = ck.ones(3)                    # a plain Tensor attribute is neither a parameter nor a buffer
    m.number = 5
    assert m.w is w and m._parameters["w"] is w
    assert names(m.named_parameters()) == ["w", "sub.weight", "sub.bias"]
    assert names(m.named_buffers()) == ["buf", "sub.steps"]
    assert names(m.named_children()) == ["sub"]
    assert list(m.state_dict()) == ["w", "buf", "sub.weight", "sub.bias", "sub.steps"]
    assert "plain" not in m.state_dict() and m.number == 5
    assert {"w", "sub", "buf"} <= set(dir(m))


def _reassign(z):
    nn_ = z.fw.nn
    m = z.Net()
    m.stem.bias = None                                     # Parameter -> None
    m.features[0] = z.Scale()                              # replace a module
    m.gamma = nn_.Parameter(z.fw.float(5))                 # replace a parameter
    m.version = z.fw.float(2)                              # a buffer takes a new tensor
    m.table.a = z.Act()
    m.heads[2].weight = nn_.Parameter(z.fw.float(3))       # untie nothing, replace
    m.empty = None                                         # module slot -> None
    del m.features[2][0].running                           # delete a buffer
    del m.heads[4]
    del m.tail
    keys = list(m.state_dict())
    assert m.stem.bias is None and m.empty is None
    shapes = [tuple(v.shape) for v in m.state_dict().values()]
    return (keys, shapes, names(m.named_parameters()), names(m.named_buffers()),
            names(m.named_modules()), repr(m))


def test_reassignment_matches_torch():
    ck_result = _reassign(CK)
    assert ck_result == _reassign(TH)
    keys = ck_result[0]
    assert "stem.bias" not in keys and "features.2.0.running" not in keys and "version" in keys
    assert "features.0.alpha" in keys and "heads.4.weight" not in keys


def test_reassign_kinds_moves_between_registries():
    m = CK.Affine(2)
    m.weight = CK.Act()                                    # a parameter name now holds a module
    assert "weight" not in m._parameters and m._modules["weight"] is m.weight
    m.weight = Parameter(ck.ones(2))                       # and back to a parameter
    assert "weight" not in m._modules and "weight" in m._parameters
    m.register_buffer("tmp", ck.zeros(1), persistent=False)
    m.tmp = Parameter(ck.ones(1))                          # buffer -> parameter
    assert "tmp" not in m._buffers and "tmp" in list(m.state_dict())
    m.x = 3
    m.x = Parameter(ck.ones(1))                            # plain attribute -> parameter
    assert "x" not in m.__dict__ and m.x is m._parameters["x"]
    del m.x
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'x'"):
        m.x


@pytest.mark.parametrize("fw", ["ck", "torch"])
@pytest.mark.parametrize("slot,value", [("weight", "tensor"), ("weight", 3.0), ("sub", "tensor"),
                                        ("sub", 1), ("steps", 1.5), ("steps", "array")])
def test_bad_assignment_raises_type_error(fw, slot, value):
    z = CK if fw == "ck" else TH
    m = z.Affine(2)
    m.sub = z.Act()
    if value == "tensor":
        value = z.fw.float(2)
    elif value == "array":
        value = np.zeros(2)
    before = names(m.named_parameters()), names(m.named_buffers()), names(m.named_modules())
    with pytest.raises(TypeError, match=slot if fw == "ck" else None):
        setattr(m, slot, value)
    assert (names(m.named_parameters()), names(m.named_buffers()), names(m.named_modules())) == before


@pytest.mark.parametrize("fw", ["ck", "torch"])
@pytest.mark.parametrize("what", ["parameter", "module", "buffer", "register_parameter", "add_module"])
def test_assignment_before_super_init(fw, what):
    z = CK if fw == "ck" else TH
    nn_ = z.fw.nn

    class Early(nn_.Module):
        def __init__(self):
            self.plain = 1                        # plain attributes are fine (as in torch)
            if what == "parameter":
                self.w = nn_.Parameter(z.fw.float(2))
            elif what == "module":
                self.sub = z.Act()
            elif what == "buffer":
                self.register_buffer("b", z.fw.float(2))
            elif what == "register_parameter":
                self.register_parameter("w", None)
            else:
                self.add_module("sub", None)
            super().__init__()

    with pytest.raises(AttributeError, match="before" if fw == "ck" else None):
        Early()


@pytest.mark.parametrize("method", ["register_parameter", "register_buffer", "add_module"])
@pytest.mark.parametrize("name,error", [("a.b", KeyError), ("", KeyError), (3, TypeError),
                                        ("forward", KeyError), ("plain", KeyError), ("taken", KeyError)])
def test_register_name_errors_match_torch(method, name, error):
    results = []
    for z in (CK, TH):
        m = z.Act()
        m.plain = 1
        m.add_module("taken", z.Act()) if method != "add_module" else m.register_buffer("taken", z.fw.float(1))
        before = names(m.named_parameters()), names(m.named_buffers()), names(m.named_modules())
        with pytest.raises(error) as info:
            getattr(m, method)(name, None)
        assert (names(m.named_parameters()), names(m.named_buffers()), names(m.named_modules())) == before
        results.append(type(info.value))
    assert results[0] is results[1]


@pytest.mark.parametrize("method,value", [("register_parameter", "tensor"), ("register_parameter", "module"),
                                          ("register_buffer", "array"), ("register_buffer", "module"),
                                          ("add_module", "tensor"), ("add_module", "param")])
def test_register_value_errors_match_torch(method, value):
    for z in (CK, TH):
        m = z.Act()
        v = {"tensor": z.fw.float(2), "module": z.Act(), "array": np.zeros(2),
             "param": z.fw.nn.Parameter(z.fw.float(2))}[value]
        with pytest.raises(TypeError, match="'x'" if z is CK else None):
            getattr(m, method)("x", v)


def test_register_same_kind_again_replaces():
    m = CK.Affine(2)
    m.register_parameter("weight", None)
    assert m.weight is None and "weight" not in m.state_dict()
    m.register_buffer("steps", ck.ones(2), persistent=False)
    assert "steps" not in m.state_dict() and m.steps.shape == (2,)
    m.register_buffer("steps", ck.ones(3))
    assert list(m.state_dict()) == ["bias", "steps"]


@pytest.mark.parametrize("fw", ["ck", "torch"])
def test_non_persistent_buffer(fw):
    z = CK if fw == "ck" else TH
    s = z.Scale()
    assert names(s.named_buffers()) == ["running", "cache"]
    assert list(s.state_dict()) == ["alpha", "running"]
    s.cache = z.fw.float(4)                               # a new tensor keeps the buffer non-persistent
    assert list(s.state_dict()) == ["alpha", "running"] and tuple(s.cache.shape) == (4,)
    sd = {k: v for k, v in s.state_dict().items()}
    sd["cache"] = z.fw.float(4)
    with pytest.raises(RuntimeError, match="cache"):
        s.load_state_dict(sd)
    del s.cache
    s.register_buffer("cache", z.fw.float(1))             # re-registered: persistent
    assert list(s.state_dict()) == ["alpha", "running", "cache"]


def test_parameter_basics():
    p = Parameter(ck.ones(2, 3))
    assert isinstance(p, ck.Tensor) and p.requires_grad and p.is_leaf and p.shape == (2, 3)
    assert p.dtype == np.float32
    assert not Parameter(ck.ones(2), requires_grad=False).requires_grad
    arr = np.zeros(4, np.float64)
    q = Parameter(ck.from_numpy(arr))
    assert q.dtype == np.float64 and np.shares_memory(q._data, arr)   # shares, as torch's Parameter(t)
    assert Parameter().shape == (0,) and Parameter().dtype == np.float32
    assert repr(Parameter(ck.ones(2))).startswith("Parameter containing:\ntensor(")
    with pytest.raises(RuntimeError, match="floating point"):
        Parameter(ck.tensor([1, 2]))


def test_deepcopy_is_independent_and_keeps_sharing():
    c, _ = pair()
    d = copy.deepcopy(c)
    assert list(d.state_dict()) == list(c.state_dict()) and repr(d) == repr(c)
    assert d.heads[0].weight is d.heads[1].weight and d.shared is d.stem
    assert d.stem.weight is not c.stem.weight
    with ck.no_grad():
        d.stem.weight._data[...] = 9
    assert not np.any(c.stem.weight.numpy() == 9)


def test_forward_not_implemented():
    class NoForward(Module):
        pass
    with pytest.raises(NotImplementedError, match="NoForward"):
        NoForward()(ck.ones(1))


# ===== modes, gradients, dtypes ===================================================================

def test_train_eval_recursive():
    c, _ = pair()
    assert all(m.training for m in c.modules())
    assert c.eval() is c
    assert not any(m.training for _, m in c.named_modules(remove_duplicate=False))
    c.features.train()
    assert c.features[2][1].training and not c.training and not c.heads[0].training
    assert c.train() is c and all(m.training for m in c.modules())
    c.train(False)
    assert not c.stem.training


@pytest.mark.parametrize("fw", ["ck", "torch"])
def test_train_honours_overrides(fw):
    z = CK if fw == "ck" else TH

    class Frozen(z.fw.nn.Module):
        """Stays in eval mode whatever its parent asks (a common idiom for frozen BatchNorm)."""

        def train(self, mode=True):
            return super().train(False)

    m = z.fw.nn.Sequential(z.Act(), Frozen(), z.fw.nn.Sequential(Frozen(), z.Act()))
    m.train()
    assert [mod.training for mod in m.modules()] == [True, True, False, True, False, True]


@pytest.mark.parametrize("fw", ["ck", "torch"])
def test_train_rejects_non_bool(fw):
    m = (CK if fw == "ck" else TH).Net()
    with pytest.raises(ValueError, match="bool" if fw == "ck" else "boolean"):
        m.train("no")
    assert m.training


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    c, _ = pair()
    c(ck.ones(2, 3)).sum().backward()
    grads = {n: p.grad for n, p in c.named_parameters() if p.grad is not None}
    assert len(grads) >= 5 and any(np.any(g.numpy() != 0) for g in grads.values())
    c.zero_grad(set_to_none=set_to_none)
    for n, p in c.named_parameters():
        if n not in grads:
            assert p.grad is None
        elif set_to_none:
            assert p.grad is None
        else:
            assert p.grad is grads[n] and not np.any(p.grad.numpy())
    c(ck.ones(2, 3)).sum().backward()                      # gradients accumulate again from zero
    assert c.stem.weight.grad is not None
    c.zero_grad()                                          # default: set_to_none=True, as in torch
    assert all(p.grad is None for p in c.parameters())


@pytest.mark.parametrize("convert", ["double", "to64", "to64kw", "to_cpu_64", "to_tensor", "float_roundtrip"])
def test_dtype_conversion(convert):
    c, t = pair()
    c(ck.ones(2, 3)).sum().backward()
    params = {n: p for n, p in c.named_parameters()}
    grads = {n: p.grad for n, p in params.items() if p.grad is not None}
    out = {"double": lambda: c.double(), "to64": lambda: c.to(np.float64), "to64kw": lambda: c.to(dtype="float64"),
           "to_cpu_64": lambda: c.to("cpu", np.float64),
           "to_tensor": lambda: c.to(ck.zeros(1, dtype=np.float64)),
           "float_roundtrip": lambda: c.double().float().double()}[convert]()
    assert out is c
    t.double()
    for (n, p), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
        assert p is params[n] and p.dtype == np.float64 and p.requires_grad, n
        assert str(tp.dtype) == "torch.float64"
        if n in grads:
            assert p.grad is grads[n] and p.grad.dtype == np.float64
    for (n, b), (_, tb) in zip(c.named_buffers(), t.named_buffers()):
        assert b.dtype == np.dtype(str(tb.dtype).replace("torch.", "")), n
    assert c.stem.steps.dtype == np.int64 and c.version.dtype == np.int64          # integer buffers stay
    assert c.features[2][0].cache.dtype == np.float64                              # non-persistent too
    assert c(ck.ones(2, 3, dtype=np.float64)).dtype == np.float64


def test_float_and_no_op_conversions():
    c, _ = pair()
    c.double()
    assert c.float() is c and all(p.dtype == np.float32 for p in c.parameters())
    assert c.stem.steps.dtype == np.int64
    before = snapshot(c)
    assert c.to("cpu") is c and c.cpu() is c and c.to() is c
    assert_untouched(c, before)


@pytest.mark.parametrize("fw", ["ck", "torch"])
def test_to_integer_dtype_raises(fw):
    m = (CK if fw == "ck" else TH).Net()
    with pytest.raises(TypeError, match="floating point"):
        m.to(np.int64 if fw == "ck" else torch.int64)


def test_requires_grad_():
    c, _ = pair()
    assert c.requires_grad_(False) is c and not any(p.requires_grad for p in c.parameters())
    c.requires_grad_()
    assert all(p.requires_grad for p in c.parameters())


# ===== state_dict ==================================================================================

@pytest.mark.parametrize("prefix", ["", "model.", "m"])
def test_state_dict_keys_and_values_match_torch(prefix):
    c, t = pair()
    cs, ts = c.state_dict(prefix=prefix), t.state_dict(prefix=prefix)
    assert isinstance(cs, OrderedDict)
    assert list(cs) == list(ts)
    for k in cs:
        assert cs[k].shape == tuple(ts[k].shape), k
        np.testing.assert_array_equal(cs[k].numpy(), ts[k].numpy(), err_msg=k)
    assert list(cs)[:4] == [prefix + "gamma", prefix + "version", prefix + "stem.weight", prefix + "stem.bias"]


def test_state_dict_shares_memory_and_is_detached():
    c, _ = pair()
    sd = c.state_dict()
    assert not any(v.requires_grad for v in sd.values())
    assert not any(isinstance(v, Parameter) for v in sd.values())
    assert np.shares_memory(sd["stem.weight"].numpy(), c.stem.weight._data)
    assert np.shares_memory(sd["shared.weight"].numpy(), c.stem.weight._data)   # both names, one tensor
    sd["features.2.1.bias"]._data[...] = 42
    assert np.all(c.features[2][1].bias.numpy() == 42)
    kv = c.state_dict(keep_vars=True)
    assert kv["stem.weight"] is c.stem.weight and kv["version"] is c.version
    dest = OrderedDict(extra=1)
    assert c.state_dict(destination=dest) is dest and list(dest)[0] == "extra" and len(dest) == len(sd) + 1


def test_load_torch_state_dict_into_cnnkit():
    c, t = pair()
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.randn(p.shape))
        t.version.fill_(7)
    ids = {k: id(v._data) for k, v in c.state_dict(keep_vars=True).items()}
    result = c.load_state_dict(t.state_dict())
    assert isinstance(result, IncompatibleKeys) and result == ([], []) and result.missing_keys == []
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(c.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert {k: id(v._data) for k, v in c.state_dict(keep_vars=True).items()} == ids    # copied in place
    assert c.version.item() == 7 and c.version.dtype == np.int64


@pytest.mark.parametrize("source", ["ck", "numpy", "lists"])
def test_load_cnnkit_and_numpy_values(source):
    a, _ = pair()
    b, _ = pair()
    for p in a.parameters():
        with ck.no_grad():
            p._data[...] = np.random.standard_normal(p.shape)
    sd = a.state_dict()
    if source == "numpy":
        sd = {k: v.numpy().copy() for k, v in sd.items()}
    elif source == "lists":
        sd = {k: v.numpy().tolist() for k, v in sd.items()}
    b.load_state_dict(sd)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)


def test_cnnkit_state_dict_loads_into_torch():
    c, t = pair()
    for p in c.parameters():
        with ck.no_grad():
            p._data[...] = np.random.standard_normal(p.shape)
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in c.state_dict().items()})
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(c(ck.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-5)


def test_load_float64_into_float32_keeps_float32():
    c, _ = pair()
    sd = {k: v.numpy().astype(np.float64) + 0.1 if v.dtype == np.float32 else v.numpy()
          for k, v in c.state_dict().items()}
    c.load_state_dict(sd)
    assert all(p.dtype == np.float32 for p in c.parameters())
    np.testing.assert_array_equal(c.gamma.numpy(), sd["gamma"].astype(np.float32))


def test_load_integral_floats_into_integer_buffer():
    c, _ = pair()
    sd = c.state_dict()
    sd["version"] = np.array(12.0)
    sd["stem.steps"] = ck.tensor(3.0)
    c.load_state_dict(sd)
    assert c.version.item() == 12 and c.version.dtype == np.int64 and c.stem.steps.item() == 3


def test_load_same_state_dict_is_a_no_op():
    c, _ = pair()
    before = snapshot(c)
    c.load_state_dict(c.state_dict())
    assert_untouched(c, before)


# Each case: (key, bad value factory, strict, exception, message regex). The good key is loaded with new
# values in the same call; after the error the whole module must be unchanged.
BAD_CASES = {
    "shape": ("stem.bias", lambda: np.zeros(4, np.float32), False, StateDictError,
              r"size mismatch for 'stem\.bias': expected shape \(3,\), found \(4,\)"),
    "shape_strict": ("heads.3.running", lambda: ck.zeros(3, 1), True, StateDictError,
                     r"'heads\.3\.running'.*expected shape \(3,\), found \(3, 1\)"),
    "shape_scalar": ("version", lambda: np.zeros(1), False, StateDictError,
                     r"'version'.*expected shape \(\), found \(1,\)"),
    "shape_torch": ("features.0.weight", lambda: torch.zeros(2, 3), True, StateDictError,
                    r"'features\.0\.weight'.*expected shape \(3,\), found \(2, 3\)"),
    "missing": ("features.0.weight", None, True, StateDictError, r"missing key\(s\): 'features\.0\.weight'"),
    "unexpected": ("features.9.weight", lambda: np.zeros(3), True, StateDictError,
                   r"unexpected key\(s\): 'features\.9\.weight'"),
    "string": ("stem.bias", lambda: "abc", False, StateDictError, r"'stem\.bias'.*numbers"),
    "none": ("stem.bias", lambda: None, False, StateDictError, r"'stem\.bias'.*numbers.*NoneType"),
    "object": ("stem.bias", lambda: {"a": 1}, False, StateDictError, r"'stem\.bias'.*numbers.*dict"),
    "string_array": ("version", lambda: np.array("7"), False, StateDictError, r"'version'.*numbers.*<U1"),
    "complex": ("stem.bias", lambda: np.zeros(3, complex), True, StateDictError, r"'stem\.bias'.*complex128"),
    "non_integer": ("version", lambda: np.array(2.5), True, StateDictError, r"'version'.*integers.*int64"),
    "nan_into_int": ("stem.steps", lambda: ck.tensor(float("nan")), True, StateDictError,
                     r"'stem\.steps'.*integers"),
    "int_range": ("version", lambda: np.array(2.0 ** 80, np.float32), True,
                  StateDictError, r"'version'.*range of int64"),
}


@pytest.mark.parametrize("bad_first", [False, True])
@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_load_error_leaves_module_untouched(case, bad_first):
    key, value, strict, error, message = BAD_CASES[case]
    c, _ = pair()
    good = {k: v.numpy() + 1 for k, v in c.state_dict().items() if k != key}
    bad = {} if value is None else {key: value()}
    sd = {**bad, **good} if bad_first else {**good, **bad}
    before = snapshot(c)
    with pytest.raises(error, match=message):
        c.load_state_dict(sd, strict=strict)
    assert_untouched(c, before)


@pytest.mark.parametrize("strict", [True, False])
def test_one_good_key_one_bad_key(strict):
    """The issue's example: after the error the good key's parameter is unchanged."""
    c, _ = pair()
    w = c.stem.weight.numpy().copy()
    sd = dict(c.state_dict()) if strict else {}
    sd.update({"stem.weight": np.full(3, 5.0), "heads.0.bias": np.zeros(2)})
    with pytest.raises(StateDictError, match=r"'heads\.0\.bias': expected shape \(3,\), found \(2,\)"):
        c.load_state_dict(sd, strict=strict)
    np.testing.assert_array_equal(c.stem.weight.numpy(), w)


def test_state_dict_error_is_value_and_runtime_error():
    c, t = pair()
    sd = {"gamma": np.zeros(5)}
    with pytest.raises(ValueError):
        c.load_state_dict(sd, strict=False)
    with pytest.raises(RuntimeError):                          # what torch raises, so torch habits work
        c.load_state_dict(sd, strict=False)
    with pytest.raises(RuntimeError, match="size mismatch for gamma"):
        t.load_state_dict({"gamma": torch.zeros(5)}, strict=False)


def test_strict_false_returns_missing_and_unexpected_like_torch():
    c, t = pair()
    cs = {k: v.numpy() - 3 for k, v in c.state_dict().items()
          if k not in ("heads.2.bias", "features.2.0.running", "version")}
    cs["extra.weight"] = np.zeros(2)
    cs["features.2.0.cache"] = np.zeros(2)                    # non-persistent: unexpected
    ts = {k: torch.tensor(v) for k, v in cs.items()}
    heads_bias = c.heads[2].bias.numpy().copy()
    rc = c.load_state_dict(cs, strict=False)
    rt = t.load_state_dict(ts, strict=False)
    assert isinstance(rc, tuple) and rc._fields == ("missing_keys", "unexpected_keys")
    assert rc.missing_keys == rt.missing_keys
    assert sorted(rc.unexpected_keys) == sorted(rt.unexpected_keys) == ["extra.weight", "features.2.0.cache"]
    assert sorted(rc.missing_keys) == ["features.2.0.running", "heads.2.bias", "version"]
    np.testing.assert_array_equal(c.heads[2].bias.numpy(), heads_bias)         # missing: left as it was
    np.testing.assert_array_equal(c.gamma.numpy(), cs["gamma"])                # present: loaded
    np.testing.assert_array_equal(c.features[2][0].cache.numpy(), np.arange(2, dtype=np.float32) / 7)


def test_strict_error_names_all_missing_and_unexpected_keys():
    c, _ = pair()
    sd = {k: v for k, v in c.state_dict().items() if k not in ("stem.bias", "gamma")}
    sd["zzz"] = np.zeros(1)
    with pytest.raises(StateDictError, match=r"for Net: 2 missing key\(s\): 'gamma', 'stem\.bias'; "
                                             r"1 unexpected key\(s\): 'zzz'"):
        c.load_state_dict(sd)


@pytest.mark.parametrize("value", [[("gamma", np.zeros(3))], "gamma", 3])
def test_load_state_dict_non_mapping(value):
    c, _ = pair()
    with pytest.raises(TypeError, match="load_state_dict: expected a mapping"):
        c.load_state_dict(value)


# ===== hooks =======================================================================================

def _run_hooks(z, lib):
    m = z.Affine(2)
    log = []

    def pre(mod, args):
        log.append(("pre", type(mod).__name__, len(args)))
        return args[0] * 2                                   # a single value replaces the inputs

    def pre2(mod, args):
        log.append(("pre2", args[0].sum().item()))

    def post(mod, args, out):
        log.append(("post", args[0].sum().item(), out.sum().item()))
        return out + 1

    def post2(mod, args, out):
        log.append(("post2", out.sum().item()))

    x = lib.ones(2)
    plain = m(x).sum().item()
    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_pre_hook(pre2)
    h3 = m.register_forward_hook(post)
    h4 = m.register_forward_hook(post2)
    hooked = m(x).sum().item()
    h1.remove()
    h3.remove()
    h3.remove()                                              # removing twice is harmless
    after = m(x).sum().item()
    h2.remove()
    h4.remove()
    assert m(x).sum().item() == plain and after == plain
    return plain, hooked, after, log


def test_forward_hooks_match_torch():
    plain, hooked, after, log = _run_hooks(CK, ck)
    assert (plain, hooked, after, log) == _run_hooks(TH, torch)
    w, b = np.array([1, 8 / 7]), np.array([0, 1 / 7])            # Affine(2) of the zoo
    assert hooked == pytest.approx(np.sum(2 * w + b + 1), rel=1e-6)  # input doubled, output + 1
    assert plain == pytest.approx(np.sum(w + b), rel=1e-6) and after == plain
    assert [entry[0] for entry in log] == ["pre", "pre2", "post", "post2", "pre2", "post2"]


def test_hook_handle_context_manager_and_tuple_pre_hook():
    class Add(Module):
        def forward(self, a, b):
            return a + b

    m = Add()
    with m.register_forward_pre_hook(lambda mod, args: (args[1], args[1])):
        assert m(ck.tensor(1.0), ck.tensor(5.0)).item() == 10.0
    assert m(ck.tensor(1.0), ck.tensor(5.0)).item() == 6.0
    seen = []
    h = m.register_forward_hook(lambda mod, args, out: seen.append((mod, len(args), out.item())))
    m(ck.tensor(1.0), ck.tensor(2.0))
    assert seen == [(m, 2, 3.0)]
    h.remove()
    m(ck.tensor(1.0), ck.tensor(2.0))
    assert len(seen) == 1


def test_hooks_of_children_run_inside_parent():
    c, _ = pair()
    order = []
    for name in ["stem", "features.0", "features.2.1", "heads.5"]:
        c.get_submodule(name).register_forward_hook(lambda mod, args, out, name=name: order.append(name))
    c(ck.ones(1, 3))
    assert order == ["stem", "features.0", "features.2.1", "heads.5"]
