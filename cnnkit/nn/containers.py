"""Containers: ``Sequential`` (layers applied in order), ``ModuleList``, ``ModuleDict`` and ``Identity``."""
from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from .activation import ReLU
from .conv import Conv2d
from .fusion import conv_bn, conv_relu, conv_relu_fusable
from .module import Module
from .normalization import BatchNorm2d


class Identity(Module):
    """y = x (any constructor arguments are accepted and ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


def _index(idx, n: int, fn: str) -> int:
    """A position in [0, n) from an index in [-n, n) (anything ``operator.index`` accepts, as in PyTorch)."""
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{fn} indices must be integers or slices, got {type(idx).__name__}") from None
    if not -n <= idx < n:
        raise IndexError(f"{fn} index {idx} is out of range for {n} modules")
    return idx % n


def _check_module(module, fn: str) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{fn}: expected a Module, got {type(module).__name__}")


class Sequential(Module):
    """Modules applied one after another: ``Sequential(conv, relu, pool)`` names them '0', '1', '2'.

    ``Sequential(OrderedDict([('conv', conv), ...]))`` uses the given names. When no gradient is recorded, a
    ``Conv2d`` followed by a ``ReLU``, an evaluation-mode ``BatchNorm2d`` or both runs as one convolution
    (:mod:`cnnkit.nn.fusion`).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, expected a Module")
                self.add_module(str(i), m)

    def forward(self, x):
        mods = tuple(self._modules.values())
        i, n = 0, len(mods)
        while i < n:                  # Conv2d [+ BatchNorm2d] [+ ReLU] as one convolution when it may (nn/fusion.py)
            m = mods[i]
            after = mods[i + 1] if i + 1 < n else None
            if type(m) is Conv2d and type(after) is BatchNorm2d:    # conv_bn folds, or calls the modules in turn
                relu = mods[i + 2] if i + 2 < n and isinstance(mods[i + 2], ReLU) else None
                x = conv_bn(m, after, relu, x)
                i += 2 if relu is None else 3
            elif after is not None and conv_relu_fusable(m, after, x):
                x = conv_relu(m, x)
                i += 2
            else:
                x = m(x)
                i += 1
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self._modules), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx) -> None:
        """Remove modules; as in PyTorch the remaining ones are renamed '0', '1', ... (even named ones)."""
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), "Sequential")]]):
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def _renumber(self, mods: list) -> None:
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index`` (-len <= index <= len).

        At ``index == len`` this is ``append``; otherwise the modules are renamed '0', '1', ... (PyTorch
        shifts integer names the same way; it fails on named Sequentials, cnnkit renames them).
        """
        _check_module(module, "Sequential.insert")
        n = len(self)
        index = operator.index(index)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} modules")
        if index == n:
            return self.append(module)
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._renumber(mods)
        return self

    def extend(self, modules) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def pop(self, idx) -> Module:
        m = self[idx]
        del self[idx]
        return m

    def __add__(self, other) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential + : expected a Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)

    def __iadd__(self, other) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential += : expected a Sequential, got {type(other).__name__}")
        return self.extend(list(other))


class ModuleList(Module):
    """A list of modules whose parameters are registered (names '0', '1', ...)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[_index(idx, len(mods), "ModuleList")]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        del mods[idx if isinstance(idx, slice) else _index(idx, len(mods), "ModuleList")]
        self._renumber(mods)

    def _renumber(self, mods: list) -> None:
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend: expected an iterable of Modules, got {type(modules).__name__}")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (Python list semantics; names become '0', '1', ...)."""
        _check_module(module, "ModuleList.insert")
        mods = list(self._modules.values())
        mods.insert(operator.index(index), module)
        self._renumber(mods)

    def pop(self, idx) -> Module:
        m = self[idx]
        del self[idx]
        return m

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other) -> ModuleList:
        return ModuleList([*self, *other])

    def __repr__(self) -> str:
        """PyTorch's ModuleList repr: runs of identical children are folded, e.g. ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return f"{type(self).__name__}()"
        runs = []  # [first, last, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for first, last, r in runs:
            head = f"({first})" if first == last else f"({first}-{last}): {last - first + 1} x"
            lines.append((f"{head}: {r}" if first == last else f"{head} {r}").replace("\n", "\n  "))
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is a container; call its modules in your own forward()")


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules) -> None:
        """Add (or overwrite) entries from a mapping or an iterable of (name, module) pairs, in their order."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable):
            pairs = []
            for j, pair in enumerate(modules):
                if not isinstance(pair, Iterable) or isinstance(pair, (str, Module)):
                    raise TypeError(f"ModuleDict.update: element #{j} should be a (name, module) pair, "
                                    f"got {type(pair).__name__}")
                pair = tuple(pair)
                if len(pair) != 2:
                    raise ValueError(f"ModuleDict.update: element #{j} has length {len(pair)}, 2 is required")
                pairs.append(pair)
        else:
            raise TypeError(f"ModuleDict.update: expected a mapping or an iterable of (name, module) pairs, "
                            f"got {type(modules).__name__}")
        for name, m in pairs:
            self[name] = m

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def pop(self, key: str) -> Module:
        m = self[key]
        del self[key]
        return m

    def clear(self) -> None:
        self._modules.clear()

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict is a container; call its modules in your own forward()")
