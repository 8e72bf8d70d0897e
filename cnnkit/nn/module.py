"""Module: the building block of networks (PyTorch's ``nn.Module`` API; ``Parameter`` is in :mod:`.parameter`).

A ``Module`` owns ``Parameter``s (tensors to learn), buffers (state that is
saved but not learned, e.g. BatchNorm's running mean) and sub-modules, all
registered automatically when assigned as attributes. ``state_dict()`` names
them with dotted paths (``features.0.weight``) exactly as PyTorch does, so
weights move between cnnkit and PyTorch by name.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..device import check_device
from ..device import device as Device
from ..ops.inplace import changed
from ..tensor import Tensor
from .hooks import RemovableHandle
from .mismatch import mismatch_message
from .parameter import Parameter
from .state_dict import IncompatibleKeys, StateDictError, state_array


def name_error(error: BaseException, module) -> BaseException:
    """Prefix ``error``'s message with the label of ``module`` (its repr, or its class name when the repr spans
    several lines), unless an inner module already named it; the exception keeps its type and traceback.

    ``Module.__call__`` does this for the ValueError/TypeError/IndexError raised while a module runs, so that an
    op's message (``max_pool2d: expected ...``) reaches the user as
    ``MaxPool2d(kernel_size=2, ...): max_pool2d: expected ...``, named by the innermost module only.
    Pass ``module=None`` to mark an error that already names its source (e.g. a model's own input check).
    """
    if getattr(error, "_cnnkit_named", False):
        return error
    if module is not None and error.args and isinstance(error.args[0], str):
        label = repr(module)
        if "\n" in label:
            label = type(module).__name__
        error.args = (f"{label}: {error.args[0]}",) + error.args[1:]
    try:
        error._cnnkit_named = True
    except AttributeError:  # an exception type without a __dict__: left as it is
        pass
    return error


class Module:
    """Base class of every layer and network. Subclasses call ``super().__init__()`` and define ``forward``."""

    _hook_counter = 0

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["training"] = True

    # ----- registration -----------------------------------------------------------------------
    def _registries(self, name: str):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign '{name}' before {type(self).__name__}.__init__() called "
                                 f"super().__init__()")
        return self.__dict__["_parameters"], self.__dict__["_buffers"], self.__dict__["_modules"]

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            params, buffers, modules = self._registries(name)
            buffers.pop(name, None)
            d["_non_persistent"].discard(name)
            modules.pop(name, None)
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params, buffers, modules = self._registries(name)
            params.pop(name, None)
            buffers.pop(name, None)
            d["_non_persistent"].discard(name)
            d.pop(name, None)
            modules[name] = value
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as parameter "
                                f"'{name}' (a Parameter or None is expected)")
            d["_parameters"][name] = None
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as child module "
                                f"'{name}' (a Module or None is expected)")
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as buffer "
                                f"'{name}' (a Tensor or None is expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, ()):
                del self.__dict__[registry][name]
                self.__dict__["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def _check_name(self, name, kind: str, registry: str) -> None:
        """PyTorch's rules: a string, not empty, no '.', and not already an attribute of another kind."""
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: {kind} name must be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{type(self).__name__}: {kind} name must be non-empty and contain no '.', "
                           f"got '{name}'")
        if hasattr(self, name) and name not in self.__dict__[registry]:
            raise KeyError(f"{type(self).__name__}: attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, e.g. a bias that is switched off) under ``name``."""
        self._registries(name)
        self._check_name(name, "parameter", "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register state that is saved in ``state_dict`` (unless not persistent) but is not learned."""
        self._registries(name)
        self._check_name(name, "buffer", "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (or ``None``) under ``name``."""
        self._registries(name)
        self._check_name(name, "module", "_modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    # ----- running ----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for hook in tuple(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        try:
            out = self.forward(*args, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            name_error(e, self)
            raise
        for hook in tuple(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def _add_hook(self, registry: dict, hook) -> RemovableHandle:
        Module._hook_counter += 1
        registry[Module._hook_counter] = hook
        return RemovableHandle(registry, Module._hook_counter)

    def register_forward_hook(self, hook) -> RemovableHandle:
        """``hook(module, inputs, output)`` runs after every forward; returning a value replaces the output."""
        return self._add_hook(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, inputs)`` runs before every forward; returning a value replaces the inputs."""
        return self._add_hook(self._forward_pre_hooks, hook)

    # ----- traversal --------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) for this module and every descendant, depth first (names are dotted paths)."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(name + ("." if name else "") + k, m) for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_name, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_name + ("." if mod_name else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The sub-module at a dotted path (``'features.0'``); ``''`` is the module itself."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (looking up '{target}')")
            module = module._modules[part]
        return module

    def _get_member(self, target: str, registry: str, kind: str):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        value = module.__dict__[registry].get(name)
        if value is None:
            raise AttributeError(f"{type(module).__name__} has no {kind} '{name}' (looking up '{target}')")
        return value

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path (``'features.0.weight'``)."""
        return self._get_member(target, "_parameters", "parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path (``'bn.running_mean'``)."""
        return self._get_member(target, "_buffers", "buffer")

    def apply(self, fn) -> Module:
        """Call ``fn(m)`` on every sub-module (children first) and on self, e.g. for custom initialization."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----- modes, gradients, dtypes -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and (through their own ``train``) on all its descendants."""
        if not isinstance(mode, bool):
            raise ValueError(f"{type(self).__name__}.train: mode must be a bool, got {type(mode).__name__}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def to(self, *args, dtype=None, device=None, non_blocking: bool = False, **kwargs) -> Module:
        """Convert floating parameters and buffers to ``dtype``; the only device is the CPU (another raises)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, Device)) or (isinstance(a, int) and not isinstance(a, bool)):
                device = a
            else:
                dtype = a
        check_device(device, f"{type(self).__name__}.to")
        if dtype is None:
            return self
        d = backend.as_dtype(dtype)
        if not backend.is_floating(d):
            raise TypeError(f"{type(self).__name__}.to: only floating point dtypes are allowed, got {d}")
        for t in list(self.parameters()) + list(self.buffers()):
            if backend.is_floating(t._data.dtype) and t._data.dtype != d:
                t._data = t._data.astype(d)
                if t.grad is not None:
                    t.grad._data = t.grad._data.astype(d)
        return self

    def cpu(self) -> Module:
        """cnnkit runs on the CPU: nothing to move."""
        return self

    def cuda(self, device=None) -> Module:
        """Refused: cnnkit runs on the CPU only."""
        check_device("cuda" if device is None or isinstance(device, int) else device, f"{type(self).__name__}.cuda")
        return self

    def float(self) -> Module:
        return self.to(backend.float32)

    def double(self) -> Module:
        return self.to(backend.float64)

    # ----- state dict -------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (tensors share memory with the module)."""
        out = OrderedDict() if destination is None else destination
        for mod_name, module in self.named_modules(remove_duplicate=False):
            dot = prefix + (mod_name + "." if mod_name else "")
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else Tensor._wrap(p._data)
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[dot + name] = b if keep_vars else Tensor._wrap(b._data)
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, by name.

        Every key, shape and value is checked before anything changes: on any error the module is untouched.
        With ``strict=False`` missing and unexpected keys are returned instead of raised. A misfit raises
        :class:`StateDictError` with a short message: each kind counted, the first few named (``nn/mismatch.py``).
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a mapping of names to tensors, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        module_name = type(self).__name__
        staged, mismatched = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            arr = state_array(state_dict[key], key, module_name)
            if arr.shape != target._data.shape:
                mismatched.append((key, tuple(target._data.shape), tuple(arr.shape)))
                continue
            kind = target._data.dtype.kind
            if kind in "iu" and arr.dtype.kind == "f":
                if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                    raise StateDictError(f"load_state_dict for {module_name}: '{key}' must hold integers "
                                         f"(dtype {target._data.dtype}), found non-integer values")
            if kind in "iu" and arr.size and arr.dtype.kind in "iuf":
                info = np.iinfo(target._data.dtype)
                if arr.min() < info.min or arr.max() > info.max:
                    raise StateDictError(f"load_state_dict for {module_name}: '{key}' has values outside the range of "
                                         f"{target._data.dtype} [{info.min}, {info.max}]")
            staged.append((target, arr))
        if mismatched or (strict and (missing or unexpected)):
            raise StateDictError(mismatch_message(module_name, missing if strict else [],
                                                  unexpected if strict else [], mismatched))
        with no_grad():
            for target, arr in staged:
                np.copyto(target._data, arr, casting="unsafe")
                changed(target)
        return IncompatibleKeys(missing, unexpected)

    # ----- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))
