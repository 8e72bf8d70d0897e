"""The pickle interpreter behind load_torch: plain values come back as pickle.loads gives them (every protocol,
shared references kept), and whatever is not plain is refused without being called."""
from __future__ import annotations

import collections
import os
import pickle

import pytest

from cnnkit.io.pickle_vm import UnpickleError, evaluate


def refuse(module, name):
    raise UnpickleError(f"global {module}.{name}")


def plain_value(protocol):
    shared = [1, 2.5, "x"]
    value = {"int": 7, "big": 2 ** 100, "neg": -(2 ** 70), "float": -1.5e-300, "str": "ünï", "none": None,
             "flags": (True, False), "nested": [[], {}, (), [(1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)]],
             "a": shared, "b": shared, "long_list": list(range(2000)), "dict": {i: str(i) for i in range(1200)}}
    if protocol >= 3:
        value["bytes"] = b"\x00\xff" * 300
    if protocol >= 4:
        value["sets"] = ({1, 2}, frozenset({"a"}))
    if protocol >= 5:
        value["bytearray"] = bytearray(b"abc")
    return value


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_values_equal_pickle_loads(protocol):
    value = plain_value(protocol)
    data = pickle.dumps(value, protocol=protocol)
    got, end = evaluate(data, refuse)
    assert got == pickle.loads(data) == value and end == len(data)
    assert got["a"] is got["b"]                    # the memo keeps shared references shared


def test_a_pickle_inside_a_longer_buffer():
    first, second = pickle.dumps([1, 2], protocol=2), pickle.dumps({"k": "v"}, protocol=2)
    data = b"junk" + first + second
    value, end = evaluate(data, refuse, start=4)
    assert value == [1, 2] and end == 4 + len(first)
    assert evaluate(data, refuse, start=end) == ({"k": "v"}, len(data))


def test_deep_nesting_needs_no_recursion():
    # (pickle.dumps itself recurses, so the pickle is written by hand)
    data = b"\x80\x02" + b"]" * 50_001 + b"a" * 50_000 + b"."   # EMPTY_LIST × n+1, APPEND × n, STOP
    got, _ = evaluate(data, refuse)
    depth = 0
    while got:
        got, depth = got[0], depth + 1
    assert depth == 50_000


class Payload:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def test_globals_go_to_find_class_and_only_given_callables_are_called(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"x": Payload(os.system, f"touch {marker}")}, protocol=2)
    seen = []

    def find(module, name):
        seen.append((module, name))
        return print                               # a real function, but not among the callables
    with pytest.raises(UnpickleError, match="calls <built-in function print>, which is not a rebuild function"):
        evaluate(data, find)
    assert seen == [("posix", "system")] and not marker.exists()
    with pytest.raises(UnpickleError, match="global builtins.eval"):   # protocol 2's __builtin__ named as in 3
        evaluate(pickle.dumps(Payload(eval, "1"), protocol=2), refuse)
    od = pickle.dumps(collections.OrderedDict(a=1), protocol=2)
    assert evaluate(od, lambda m, n: collections.OrderedDict)[0] == collections.OrderedDict(a=1)


@pytest.mark.parametrize("data,match", [
    (b"\x80\x02K\x01K\x02b.", "sets the state of a int"),                          # BUILD on an int
    (b"\x80\x02\x82\x01.", "opcode EXT1 is not supported"),                     # the copyreg extension registry
    (b"\x80\x02]r\x00\x00\x00\x80.", "memo index 2147483648"),                  # a forged memo index
    (b"\x80\x02h\x05.", "memo index 5, which was never stored"),
    (b"\x80\x02K\x01K\x02.", "ends with 2 values on its stack"),
    (b"\x80\x02K\x01(e.", "expects a list on the stack"),                         # APPENDS without a list
    (b"\x80\x02a.", "reads past the start"),                                    # APPEND on an empty stack
    (b"\x80\x02K\x01Q.", "unexpected persistent id 1"),
])
def test_malformed_or_refused_opcodes(data, match):
    with pytest.raises(UnpickleError, match=match):
        evaluate(data, refuse)


def test_truncated_pickle():
    data = pickle.dumps({"k": list(range(10))}, protocol=2)
    with pytest.raises(ValueError):
        evaluate(data[:-3], refuse)
