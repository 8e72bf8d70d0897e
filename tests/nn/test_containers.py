"""Sequential, ModuleList, ModuleDict and Identity, compared with torch.nn's containers."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import cnnkit as ck
import cnnkit.nn as nn
from tests.nn.module_zoo import make_zoo

CK, TH = make_zoo("ck"), make_zoo("torch")
ZOOS = {"ck": CK, "torch": TH}


def make_ops(fw):
    """AddConst / MulConst modules of one framework (to check that Sequential chains in order)."""
    base = ZOOS[fw].fw.nn.Module

    class AddConst(base):
        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, x):
            return x + self.c

        def extra_repr(self):
            return f"c={self.c}"

    class MulConst(AddConst):
        def forward(self, x):
            return x * self.c

    return AddConst, MulConst


def keys(m):
    return list(m._modules)


def tags(m):
    """What each child is, by its extra_repr tag (``n=..``/``c=..``) or class name."""
    return [(k, repr(v)) for k, v in m._modules.items()]


def build(fw, kind, spec, named=False):
    """A container of framework ``fw`` holding Affine(n) for each n in ``spec``."""
    z = ZOOS[fw]
    mods = [z.Affine(n) for n in spec]
    nn_ = z.fw.nn
    if kind == "Sequential":
        if named:
            return nn_.Sequential(OrderedDict((f"m{n}", m) for n, m in zip(spec, mods)))
        return nn_.Sequential(*mods)
    return nn_.ModuleList(mods)


# ===== Sequential ==================================================================================

def test_sequential_integer_names_and_forward_order():
    for fw, lib in (("ck", ck), ("torch", torch)):
        Add, Mul = make_ops(fw)
        s = ZOOS[fw].fw.nn.Sequential(Add(1), Mul(2), Add(-3))
        assert keys(s) == ["0", "1", "2"]
        x = lib.ones(2, 2)
        assert np.all(np.asarray(s(x).tolist()) == (1 + 1) * 2 - 3)
    Add, Mul = make_ops("ck")
    assert nn.Sequential(Mul(2), Add(1))(ck.ones(1)).item() == 3.0
    assert nn.Sequential(Add(1), Mul(2))(ck.ones(1)).item() == 4.0
    x = ck.ones(3)
    assert nn.Sequential()(x) is x                                  # empty: the input itself, as torch


def test_sequential_ordered_dict_names():
    s = nn.Sequential(OrderedDict([("conv", CK.Affine(2)), ("act", CK.Act()), ("out", CK.Affine(2))]))
    t = torch.nn.Sequential(OrderedDict([("conv", TH.Affine(2)), ("act", TH.Act()), ("out", TH.Affine(2))]))
    assert keys(s) == ["conv", "act", "out"] and s.conv is s[0] and s.out is s[-1]
    assert list(s.state_dict()) == list(t.state_dict())
    assert repr(s) == repr(t)


@pytest.mark.parametrize("idx", [0, 2, -1, -3, np.int64(1), np.int32(-2), True])
def test_sequential_indexing(idx):
    s = nn.Sequential(*[CK.Affine(n) for n in (1, 2, 3)])
    t = torch.nn.Sequential(*[TH.Affine(n) for n in (1, 2, 3)])
    assert repr(s[idx]) == repr(t[idx])
    assert s[idx] is list(s)[int(idx)]


@pytest.mark.parametrize("kind", ["Sequential", "ModuleList"])
@pytest.mark.parametrize("idx,error", [(3, IndexError), (-4, IndexError), (100, IndexError),
                                       ("0", TypeError), (1.0, TypeError), (None, TypeError)])
def test_bad_index_raises_like_torch(kind, idx, error):
    for fw in ("ck", "torch"):
        m = build(fw, kind, (1, 2, 3))
        with pytest.raises(error, match=f"{kind} ind" if fw == "ck" else None):
            m[idx]
        with pytest.raises(error):
            m[idx] = ZOOS[fw].Act()
        with pytest.raises(error):
            del m[idx]
        assert len(m) == 3


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("sl", [slice(1, None), slice(None, 2), slice(None, None, -1), slice(0, 3, 2),
                                slice(-2, None), slice(5, 9)])
def test_sequential_slicing_matches_torch(sl, named):
    s, t = build("ck", "Sequential", (1, 2, 3), named), build("torch", "Sequential", (1, 2, 3), named)
    ss, ts = s[sl], t[sl]
    assert type(ss) is nn.Sequential and tags(ss) == tags(ts)       # original names are kept, as torch
    assert all(a is b for a, b in zip(ss, list(s)[sl]))             # the same module objects


def test_sequential_len_iter_setitem_append():
    s = nn.Sequential(CK.Affine(1), CK.Act())
    assert len(s) == 2 and [type(m).__name__ for m in s] == ["Affine", "Act"]
    new = CK.Affine(5)
    s[-1] = new
    assert s[1] is new and keys(s) == ["0", "1"]
    assert s.append(CK.Act()) is s and keys(s) == ["0", "1", "2"] and len(s) == 3
    assert list(s.state_dict()) == ["0.weight", "0.bias", "0.steps", "1.weight", "1.bias", "1.steps"]
    with pytest.raises(TypeError, match="Module"):
        s.append(3)
    with pytest.raises(TypeError, match="argument 1 is a int"):
        nn.Sequential(CK.Act(), 3)
    with pytest.raises(TypeError, match="'1' must be a Module"):
        s[1] = np.zeros(2)
    assert len(s) == 3


# Container edits, run identically on cnnkit and torch; the resulting names and children must agree.
EDITS = {
    "del_0": lambda m, z: m.__delitem__(0),
    "del_neg": lambda m, z: m.__delitem__(-2),
    "del_slice": lambda m, z: m.__delitem__(slice(1, 3)),
    "del_step": lambda m, z: m.__delitem__(slice(None, None, 2)),
    "del_all": lambda m, z: m.__delitem__(slice(None)),
    "pop": lambda m, z: m.pop(1),
    "pop_neg": lambda m, z: m.pop(-1),
    "append": lambda m, z: m.append(z.Affine(7)),
    "insert_0": lambda m, z: m.insert(0, z.Affine(7)),
    "insert_mid": lambda m, z: m.insert(2, z.Affine(7)),
    "insert_end": lambda m, z: m.insert(4, z.Affine(7)),
    "extend": lambda m, z: m.extend([z.Affine(7), z.Act()]),
    "setitem": lambda m, z: m.__setitem__(1, z.Scale()),
    "iadd": lambda m, z: m.__iadd__(type(m)([z.Affine(8)]) if type(m).__name__ == "ModuleList"
                                    else z.fw.nn.Sequential(z.Affine(8))),
}
SEQ_ONLY = {"insert_neg": lambda m, z: m.insert(-1, z.Affine(7)),
            "insert_neg_len": lambda m, z: m.insert(-4, z.Affine(7))}


# torch raises KeyError inserting before the end of a named Sequential (see test_sequential_insert_named)
EDIT_CASES = [(kind, edit, named) for kind in ("Sequential", "ModuleList") for named in (False, True)
              for edit in sorted(EDITS) + sorted(SEQ_ONLY)
              if not (kind == "ModuleList" and (named or edit in SEQ_ONLY))
              and not (named and edit.startswith("insert") and edit != "insert_end")]


@pytest.mark.parametrize("kind,edit,named", EDIT_CASES)
def test_container_edits_match_torch(kind, edit, named):
    fn = {**EDITS, **SEQ_ONLY}[edit]
    results = []
    for fw in ("ck", "torch"):
        m = build(fw, kind, (1, 2, 3, 4), named)
        out = fn(m, ZOOS[fw])
        results.append((tags(m), list(m.state_dict()), repr(m), repr(out) if edit.startswith("pop") else None))
    assert results[0] == results[1]


def test_sequential_insert_errors():
    s = nn.Sequential(CK.Affine(1), CK.Affine(2))
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s.insert(3, CK.Act())
    with pytest.raises(IndexError, match="index -3 is out of range"):
        s.insert(-3, CK.Act())
    with pytest.raises(TypeError, match="Sequential.insert: expected a Module, got int"):
        s.insert(0, 5)
    assert tags(s) == [("0", "Affine(n=1)"), ("1", "Affine(n=2)")]


@pytest.mark.parametrize("index", [0, 1, -1])
def test_sequential_insert_named(index):
    """torch fails (KeyError) inserting into a named Sequential before the end; cnnkit renames 0, 1, ..."""
    s = nn.Sequential(OrderedDict(a=CK.Affine(1), b=CK.Affine(2)))
    new = CK.Act()
    assert s.insert(index, new) is s
    assert keys(s) == ["0", "1", "2"] and s[index if index >= 0 else -2] is new
    s.insert(3, CK.Scale())
    assert keys(s) == ["0", "1", "2", "3"]
    with pytest.raises(KeyError):
        torch.nn.Sequential(OrderedDict(a=TH.Affine(1), b=TH.Affine(2))).insert(index, TH.Act())


def test_sequential_add():
    a, b = nn.Sequential(CK.Affine(1)), nn.Sequential(CK.Affine(2), CK.Act())
    c = a + b
    assert type(c) is nn.Sequential and keys(c) == ["0", "1", "2"] and c[1] is b[0]
    assert keys(a) == ["0"]
    with pytest.raises(ValueError, match="expected a Sequential, got list"):
        a + [CK.Act()]
    with pytest.raises(ValueError, match="expected a Sequential"):
        a += nn.ModuleList([CK.Act()])


def test_nested_sequential_repr_and_keys_match_torch():
    def net(z):
        nn_ = z.fw.nn
        return nn_.Sequential(nn_.Sequential(z.Affine(2), z.Act()), z.Scale(),
                              nn_.Sequential(OrderedDict(a=nn_.Sequential(z.Affine(3)), b=z.TwoLines())),
                              nn_.Identity(), nn_.ModuleList([z.Act(), z.Act()]), nn_.Sequential())
    c, t = net(CK), net(TH)
    assert repr(c) == repr(t)
    assert list(c.state_dict()) == list(t.state_dict())
    assert [n for n, _ in c.named_modules()] == [n for n, _ in t.named_modules()]


# ===== ModuleList ==================================================================================

def test_module_list_basics():
    ml = nn.ModuleList()
    assert len(ml) == 0 and list(ml) == [] and repr(ml) == repr(torch.nn.ModuleList()) == "ModuleList()"
    a, b = CK.Affine(1), CK.Affine(2)
    assert ml.append(a) is ml
    ml.extend(m for m in (b, CK.Act()))                      # any iterable, e.g. a generator
    assert keys(ml) == ["0", "1", "2"] and ml[0] is a and ml[-2] is b and ml[np.int64(1)] is b
    assert list(ml) == [a, b, ml[2]] and len(ml) == 3
    sub = ml[1:]
    assert type(sub) is nn.ModuleList and keys(sub) == ["0", "1"] and sub[0] is b   # renumbered, as torch
    assert names_params(ml) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ml += [CK.Affine(3)]
    assert keys(ml) == ["0", "1", "2", "3"]
    both = ml + nn.ModuleList([CK.Act()])
    assert type(both) is nn.ModuleList and len(both) == 5 and both[0] is a and len(ml) == 4
    assert CK.Act() not in ml and a in ml


def names_params(m):
    return [n for n, _ in m.named_parameters()]


def test_module_list_insert_negative_and_beyond():
    ml = nn.ModuleList([CK.Affine(1), CK.Affine(2)])
    ml.insert(-1, CK.Affine(3))                              # Python list semantics
    ml.insert(10, CK.Affine(4))
    assert [repr(m) for m in ml] == ["Affine(n=1)", "Affine(n=3)", "Affine(n=2)", "Affine(n=4)"]
    assert keys(ml) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("call", ["insert", "append", "extend_item", "setitem", "init"])
def test_module_list_rejects_non_modules_untouched(call):
    ml = nn.ModuleList([CK.Affine(1), CK.Affine(2)])
    before = tags(ml)
    with pytest.raises(TypeError, match="Module"):
        if call == "insert":
            ml.insert(0, "conv")
        elif call == "append":
            ml.append(np.zeros(2))
        elif call == "extend_item":
            ml.extend([3])
        elif call == "setitem":
            ml[0] = 1.5
        else:
            nn.ModuleList([CK.Act(), 7])
    assert tags(ml) == before


def test_module_list_extend_non_iterable():
    for lib_nn in (nn, torch.nn):
        with pytest.raises(TypeError, match="iterable" if lib_nn is nn else None):
            lib_nn.ModuleList().extend(5)


def test_module_list_has_no_forward():
    for lib_nn in (nn, torch.nn):
        with pytest.raises(NotImplementedError):
            lib_nn.ModuleList([])(1)


@pytest.mark.parametrize("spec", [
    ("A1", "A1", "A1"),
    ("A1",),
    ("A1", "A2", "A1", "A1", "S", "S", "X", "A2", "A2"),
    ("Q", "Q", "Q2", "L", "L"),
    ("X", "N", "X"),
])
def test_module_list_repr_folds_repeats_like_torch(spec):
    """torch prints runs of identical children once: ``(0-2): 3 x Affine(n=1)``."""
    def make(z):
        nn_ = z.fw.nn
        parts = {"A1": lambda: z.Affine(1), "A2": lambda: z.Affine(2), "S": z.Scale, "X": z.Act,
                 "Q": lambda: nn_.Sequential(z.Affine(1), z.Act()),
                 "Q2": lambda: nn_.Sequential(z.Affine(2), z.Act()),
                 "L": lambda: nn_.ModuleList([z.Act(), z.Act(), z.TwoLines()]),
                 "N": lambda: nn_.ModuleList([nn_.ModuleList([z.Affine(1)] * 2), z.Act()])}
        return nn_.ModuleList([parts[p]() for p in spec])
    c, t = make(CK), make(TH)
    assert repr(c) == repr(t)
    outer = nn.Sequential(c, CK.Act())
    assert repr(outer) == repr(torch.nn.Sequential(t, TH.Act()))


def test_module_list_repr_example():
    ml = nn.ModuleList([CK.Affine(1), CK.Affine(1), CK.Affine(1), CK.Act()])
    assert repr(ml) == "ModuleList(\n  (0-2): 3 x Affine(n=1)\n  (3): Act()\n)"


# ===== ModuleDict ==================================================================================

@pytest.mark.parametrize("source", ["dict", "ordered", "pairs", "lists", "moduledict"])
def test_module_dict_construction_matches_torch(source):
    def make(z):
        nn_ = z.fw.nn
        items = [("b", z.Affine(1)), ("a", z.Scale()), ("c", nn_.Sequential(z.Act()))]
        arg = {"dict": lambda: dict(items), "ordered": lambda: OrderedDict(items), "pairs": lambda: items,
               "lists": lambda: [list(p) for p in items],
               "moduledict": lambda: nn_.ModuleDict(items)}[source]()
        return nn_.ModuleDict(arg)
    c, t = make(CK), make(TH)
    assert list(c.keys()) == list(t.keys()) == ["b", "a", "c"]
    assert list(c.state_dict()) == list(t.state_dict())
    assert repr(c) == repr(t)


def test_module_dict_operations():
    a, s = CK.Affine(1), CK.Scale()
    d = nn.ModuleDict({"a": a})
    d["s"] = s
    assert d["a"] is a and "s" in d and "x" not in d and len(d) == 2
    assert list(d) == ["a", "s"] and list(d.values()) == [a, s] and list(d.items()) == [("a", a), ("s", s)]
    assert d.a is a                                          # also an attribute, as in torch
    d.update([("x", CK.Act()), ("a", CK.Affine(4))])         # overwrite keeps the position
    assert list(d) == ["a", "s", "x"] and repr(d["a"]) == "Affine(n=4)"
    assert d.pop("s") is s and list(d) == ["a", "x"]
    del d["x"]
    assert list(d) == ["a"] and [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == []
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(NotImplementedError):
        d(1)


@pytest.mark.parametrize("bad,error,message", [
    (5, TypeError, "expected a mapping or an iterable"),
    ([CK.Act()], TypeError, "element #0 should be a \\(name, module\\) pair"),
    (["ab"], TypeError, "element #0 should be a \\(name, module\\) pair, got str"),
    ([("a", CK.Act(), 1)], ValueError, "element #0 has length 3, 2 is required"),
    ([("a", CK.Act()), ("b",)], ValueError, "element #1 has length 1"),
    ({"a": 3}, TypeError, "'a' must be a Module"),
    ({"a.b": CK.Act()}, KeyError, "no '.'"),
    ({"update": CK.Act()}, KeyError, "attribute 'update' already exists"),
])
def test_module_dict_update_errors(bad, error, message):
    d = nn.ModuleDict({"k": CK.Affine(1)})
    with pytest.raises(error, match=message):
        d.update(bad)
    assert list(d) == ["k"]


def test_module_dict_errors_are_torch_errors():
    cases = [5, [("a", 1, 2)], {"a.b": None}, {"update": None}]
    for case in cases:
        raised = []
        for lib_nn, z in ((nn, CK), (torch.nn, TH)):
            arg = {k: z.Act() for k in case} if isinstance(case, dict) else case
            try:
                lib_nn.ModuleDict(arg)
            except Exception as e:
                raised.append(type(e))
        assert len(raised) == 2 and raised[0] is raised[1], case


# ===== Identity ====================================================================================

def test_identity():
    x = ck.ones(2, 3, requires_grad=True)
    i = nn.Identity(54, unused="anything")
    assert i(x) is x
    assert repr(i) == repr(torch.nn.Identity(54)) == "Identity()"
    assert list(i.parameters()) == [] and list(i.state_dict()) == []
    y = nn.Sequential(nn.Identity(), nn.Identity())(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3), np.float32))
