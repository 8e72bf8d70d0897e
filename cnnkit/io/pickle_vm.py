"""A pickle interpreter that calls nothing it was not given: the engine of ``load_torch``'s restricted reader.

A pickle is a program for a stack machine: opcodes push constants, build lists, tuples and dicts, look
names up (``GLOBAL module name``) and call them (``REDUCE``: ``f(*args)``). Python's own unpickler
imports whatever a ``GLOBAL`` names, and so runs any function a file asks for. This interpreter decodes
the opcodes with :func:`pickletools.genops` (a disassembler: it builds nothing) and executes them itself:

- a ``GLOBAL`` / ``STACK_GLOBAL`` / ``INST`` name goes to ``find_class(module, name)``, which returns a
  stand-in from its own table or raises; nothing is imported;
- ``REDUCE`` / ``NEWOBJ`` / ``INST`` / ``OBJ`` call a value only if it is one of ``callables`` (the
  stand-ins' rebuild functions and ``OrderedDict``);
- ``BUILD`` (set an object's state) is accepted only for a dict (its state, such as a state dict's
  ``_metadata``, is dropped); persistent ids go to ``persistent_load``;
- extension codes and out-of-band buffers are refused; the memo is a dict, and an index larger than the
  pickle itself is refused as forged.

Every refusal raises :class:`UnpickleError` (a ``ValueError``) with what was refused.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import pickletools

__all__ = ["UnpickleError", "evaluate"]


class UnpickleError(ValueError):
    """A pickle that is malformed, or asks for something this interpreter refuses."""


_CONSTANTS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
              "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
              "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
_FIXED = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_TUPLES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


def python3_name(module: str, name: str) -> tuple:
    """Protocol 2 writes Python 2 names (``__builtin__ eval``): the Python 3 name, as a refusal should say."""
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _Machine:
    def __init__(self, size: int, find_class, persistent_load, callables):
        self.size, self.find_class, self.persistent_load = size, find_class, persistent_load
        self.callables = callables
        self.stack: list = []
        self.marks: list = []
        self.memo: dict = {}

    def pop(self):
        if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
            raise UnpickleError("an opcode reads past the start of its stack frame")
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise UnpickleError("an opcode expects a MARK that is not there")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def call(self, func, args):
        if not any(func is c for c in self.callables):
            raise UnpickleError(f"the pickle calls {func!r}, which is not a rebuild function")
        if not isinstance(args, tuple):
            raise UnpickleError(f"the pickle calls {func!r} with {type(args).__name__} arguments")
        return func(*args)

    def put(self, index):
        if not isinstance(index, int) or not 0 <= index <= self.size:
            raise UnpickleError(f"the pickle stores a value at memo index {index}, more than its {self.size} "
                                f"bytes can hold; refused as corrupt")
        self.memo[index] = self.top(object)

    def get(self, index):
        if index not in self.memo:
            raise UnpickleError(f"the pickle reads memo index {index}, which was never stored")
        self.stack.append(self.memo[index])

    def global_(self, module, name):
        if not isinstance(module, str) or not isinstance(name, str):
            raise UnpickleError("STACK_GLOBAL expects two strings")
        return self.find_class(*python3_name(module, name))

    def step(self, op: str, arg) -> None:
        stack = self.stack
        if op in _CONSTANTS:
            stack.append(arg)
        elif op in _FIXED:
            stack.append(_FIXED[op])
        elif op == "MARK":
            self.marks.append(len(stack))
        elif op in ("PROTO", "FRAME"):
            pass
        elif op == "EMPTY_LIST":
            stack.append([])
        elif op == "EMPTY_DICT":
            stack.append({})
        elif op == "EMPTY_TUPLE":
            stack.append(())
        elif op == "EMPTY_SET":
            stack.append(set())
        elif op in _TUPLES:
            n = _TUPLES[op]
            items = [self.pop() for _ in range(n)][::-1]
            stack.append(tuple(items))
        elif op == "TUPLE":
            stack.append(tuple(self.pop_mark()))
        elif op == "LIST":
            stack.append(self.pop_mark())
        elif op == "FROZENSET":
            stack.append(frozenset(self.pop_mark()))
        elif op in ("DICT", "SETITEMS"):
            items = self.pop_mark()
            if len(items) % 2:
                raise UnpickleError(f"{op} with an odd number of items")
            target = {} if op == "DICT" else self.top(dict)
            for k, v in zip(items[::2], items[1::2]):
                target[k] = v
            if op == "DICT":
                stack.append(target)
        elif op == "SETITEM":
            value, key = self.pop(), self.pop()
            self.top(dict)[key] = value
        elif op == "APPEND":
            value = self.pop()
            self.top(list).append(value)
        elif op == "APPENDS":
            items = self.pop_mark()
            self.top(list).extend(items)
        elif op == "ADDITEMS":
            items = self.pop_mark()
            self.top(set).update(items)
        elif op == "POP":
            if self.marks and len(stack) == self.marks[-1]:
                self.marks.pop()
            else:
                self.pop()
        elif op == "POP_MARK":
            self.pop_mark()
        elif op == "DUP":
            stack.append(self.top(object))
        elif op in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.put(arg)
        elif op == "MEMOIZE":
            self.put(len(self.memo))
        elif op in ("GET", "BINGET", "LONG_BINGET"):
            self.get(arg)
        elif op == "GLOBAL":
            module, name = arg.split(" ", 1)
            stack.append(self.global_(module, name))
        elif op == "STACK_GLOBAL":
            name, module = self.pop(), self.pop()
            stack.append(self.global_(module, name))
        elif op == "REDUCE":
            args, func = self.pop(), self.pop()
            stack.append(self.call(func, args))
        elif op == "NEWOBJ":
            args, cls = self.pop(), self.pop()
            stack.append(self.call(cls, args))
        elif op == "NEWOBJ_EX":
            kwargs, args, cls = self.pop(), self.pop(), self.pop()
            if kwargs:
                raise UnpickleError("NEWOBJ_EX with keyword arguments is refused")
            stack.append(self.call(cls, args))
        elif op == "INST":
            module, name = arg.split(" ", 1)
            cls = self.global_(module, name)
            stack.append(self.call(cls, tuple(self.pop_mark())))
        elif op == "OBJ":
            items = self.pop_mark()
            if not items:
                raise UnpickleError("OBJ without a class")
            stack.append(self.call(items[0], tuple(items[1:])))
        elif op == "BUILD":
            state = self.pop()
            obj = self.top(object)
            if not isinstance(obj, dict):
                raise UnpickleError(f"the pickle sets the state of a {type(obj).__name__}; refused")
            if state is not None and not isinstance(state, (dict, tuple)):
                raise UnpickleError(f"the state of a dict is a {type(state).__name__}")
        elif op == "BINPERSID":
            stack.append(self.persistent_load(self.pop()))
        elif op == "PERSID":
            stack.append(self.persistent_load(arg))
        else:   # EXT1/2/4 (the copyreg extension registry), NEXT_BUFFER, READONLY_BUFFER
            raise UnpickleError(f"the opcode {op} is not supported in a checkpoint")

    def top(self, kind):
        if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
            raise UnpickleError("an opcode reads past the start of its stack frame")
        if not isinstance(self.stack[-1], kind):
            raise UnpickleError(f"an opcode expects a {kind.__name__} on the stack, finds a "
                                f"{type(self.stack[-1]).__name__}")
        return self.stack[-1]


def evaluate(data, find_class, persistent_load=None, callables=(collections.OrderedDict,), start: int = 0):
    """Run the pickle that starts at byte ``start`` of ``data``; returns (its value, the position after its
    STOP). ``find_class(module, name)`` gives the value of a global or raises; ``persistent_load(pid)`` the
    value of a persistent id (None: they are refused); only the values in ``callables`` are ever called."""
    f = io.BytesIO(data if isinstance(data, bytes) else bytes(data))   # shares a bytes object's buffer
    f.seek(start)

    def no_persistent(pid):
        raise UnpickleError(f"unexpected persistent id {pid!r}")

    machine = _Machine(len(data) - start, find_class, persistent_load or no_persistent, tuple(callables))
    for op, arg, pos in pickletools.genops(f):
        if op.name == "STOP":
            if len(machine.stack) != 1 or machine.marks:
                raise UnpickleError(f"the pickle ends with {len(machine.stack)} values on its stack, not one")
            return machine.stack[0], pos + 1
        machine.step(op.name, arg)
    raise UnpickleError("the pickle has no STOP")
