"""Optimizer: the base of every gradient-descent rule (PyTorch's ``torch.optim.Optimizer`` API).

An optimizer holds *parameter groups*: dicts with a ``'params'`` list and the options of the rule
(``lr``, ``momentum``, ...). Options missing from a group take the optimizer's defaults, so one model
can train its layers with different learning rates::

    opt = SGD([{'params': model.features.parameters()},
               {'params': model.classifier.parameters(), 'lr': 1e-3}], lr=1e-2, momentum=0.9)

Per-parameter state (momentum buffers, Adam's moments, step counts) lives in ``optimizer.state[p]``.
Updates are applied in place to ``p._data`` (plain NumPy arithmetic, no graph is recorded), so
modules and state dicts that share the arrays see the new values; as in PyTorch, ``step()`` bumps each
updated parameter's version (and drops the kernels' packed copies of its weight). Parameters whose ``.grad`` is
``None`` are skipped by ``step()``.

``state_dict()`` has PyTorch's structure: ``{'state': {index: {...}}, 'param_groups': [{..., 'params':
[indices]}]}`` where a parameter is referred to by its position across all groups. Scalars are Python
numbers (``'step'`` is a float), arrays are ``Tensor``s sharing memory with the live state.
"""
from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..ops import validate
from ..ops.inplace import changed
from ..tensor import Tensor


class _Required:
    """Marker for an option without default that every group must give."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _to_array(value):
    """A state value as an ndarray (Tensor, ndarray, torch tensor or nested lists), or None if not array-like."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor, without importing torch
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):
            return None
        return arr if arr.dtype.kind in "biuf" else None
    return None


def _as_index(key) -> int | None:
    """A state-dict parameter id as an int, or None if it is not one. Ids are ints; JSON turns dict keys
    into strings, so '3' is accepted too."""
    if validate.is_int(key):
        return int(key)
    if isinstance(key, str) and key.strip().lstrip("-").isdigit():
        return int(key)
    return None


class Optimizer:
    """Base class of the optimizers.

    Subclasses call ``super().__init__(params, defaults)``, implement ``_validate_group(group)``
    (raise ``ValueError`` for bad options) and ``_step_group(group)`` (update every parameter of the
    group that has a gradient), and may list ``_required_state(group)`` (state keys that a loaded state
    dict must provide for a parameter with state).
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._validate_group({k: v for k, v in self.defaults.items() if v is not required})
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        who = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{who}: params should be an iterable of Tensors or dicts, got a single Tensor "
                            f"(wrap it in a list)")
        self._reject_set(params)
        if isinstance(params, (dict, str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"{who}: params should be an iterable of Tensors or dicts, "
                            f"got {type(params).__name__}")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{who}: got an empty parameter list")
        n_dicts = sum(isinstance(g, dict) for g in groups)
        if n_dicts == 0:
            groups = [{"params": groups}]
        elif n_dicts != len(groups):
            raise TypeError(f"{who}: params mixes parameter-group dicts and Tensors; give either a list of "
                            f"Tensors or a list of dicts")
        for group in groups:
            self.add_param_group(group)

    # ----- to be provided by subclasses --------------------------------------------------------
    def _validate_group(self, group: dict) -> None:
        """Raise ValueError/TypeError for invalid options in ``group`` (only the keys present)."""

    def _step_group(self, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _required_state(self, group: dict) -> tuple:
        return ()

    # ----- helpers for subclasses ----------------------------------------------------------------
    def _check_number(self, group: dict, name: str, *, low=0.0, high=None, low_open=False,
                      high_open=False, label: str | None = None) -> None:
        """Check ``group[name]`` is a real number within [low, high] (open ends if asked)."""
        if name not in group:
            return
        value = group[name]
        who, label = type(self).__name__, label or name
        if not validate.is_real(value):
            raise TypeError(f"{who}: {label} must be a real number, got {type(value).__name__} ({value!r})")
        bad = value != value  # NaN
        if low is not None:
            bad = bad or (value <= low if low_open else value < low)
        if high is not None:
            bad = bad or (value >= high if high_open else value > high)
        if bad:
            lo = "" if low is None else (f"{low} < " if low_open else f"{low} <= ")
            hi = "" if high is None else (f" < {high}" if high_open else f" <= {high}")
            raise ValueError(f"{who}: invalid {label} {value!r} (expected {lo}{label}{hi})")

    def _check_bool(self, group: dict, name: str) -> None:
        if name in group:
            group[name] = validate.flag(group[name], name, type(self).__name__)

    def _counted_states(self, group: dict, buffers: tuple, fill: float = 0.0):
        """(param, grad array, state) for each parameter of ``group`` with a gradient, its state made at its first
        step (``'step'`` 0.0, then each of ``buffers`` an array of the parameter's shape filled with ``fill``, in C
        order) and its ``'step'`` counted up by one."""
        for p, grad in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0.0
                for name in buffers:
                    state[name] = np.full_like(p._data, fill, order="C")
            state["step"] += 1.0
            yield p, grad, state

    @staticmethod
    def _params_with_grad(group: dict):
        """(param, grad array) for the parameters of ``group`` that have a gradient; the caller updates the param's
        array in place (:meth:`step` then bumps its version and drops the kernels' copies of it)."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.grad._data

    # ----- parameter groups -----------------------------------------------------------------------
    def _reject_set(self, params) -> None:
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: parameters must be given in an ordered collection (a list), "
                            f"not a set: the order of a set changes between runs")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (a dict with ``'params'`` and optional per-group options) to ``param_groups``.

        Missing options take the defaults. A parameter may belong to one group only.
        """
        who = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{who}.add_param_group: param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{who}.add_param_group: the group has no 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        self._reject_set(params)
        if isinstance(params, (dict, str, bytes)) or not hasattr(params, "__iter__"):
            raise TypeError(f"{who}: a group's 'params' must be an iterable of Tensors, "
                            f"got {type(params).__name__}")
        params = list(params)
        tensors, names = [], []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                item = item[1]
            tensors.append(item)
        if names and len(names) != len(tensors):
            raise ValueError(f"{who}: either all parameters of a group are named (name, param) or none is")
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(f"{who} can only optimize Tensors, but one of the params is a {type(p).__name__}")
            if p.creator is not None and not p._retains_grad:
                raise ValueError(f"{who}: can't optimize a non-leaf Tensor (it was computed by "
                                 f"{type(p.creator).__name__}); optimize the leaves it came from")
            if not np.issubdtype(p._data.dtype, np.floating):
                raise TypeError(f"{who}: can only optimize floating point Tensors, got dtype {p._data.dtype}")
        group["params"] = tensors
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{who}: parameter group didn't specify a value of required option '{name}'")
            group.setdefault(name, default)
        self._validate_group(group)
        ids = [id(p) for p in tensors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{who}: a parameter group contains the same parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{who}: some parameters appear in more than one parameter group")
        for g in self.param_groups:
            if ("param_names" in g) != ("param_names" in group):
                raise ValueError(f"{who}: all parameter groups must be either named or unnamed; cannot add a "
                                 f"group {'with' if names else 'without'} names")
        self.param_groups.append(group)

    # ----- the update --------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: ``.grad = None`` (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad._data.flags.writeable:
                    p.grad._data[...] = 0
                else:
                    p.grad = Tensor._wrap(np.zeros_like(p.grad._data))

    def step(self, closure=None):
        """Perform one update of every parameter with a gradient.

        ``closure``, if given, re-evaluates the model and returns the loss (it runs with gradients
        enabled); its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:        # every gradient checked before any parameter changes
            for p in group["params"]:
                if p.grad is not None and p.grad._data.shape != p._data.shape:
                    raise ValueError(f"{type(self).__name__}.step: a parameter of shape {p._data.shape} has a "
                                     f"gradient of shape {p.grad._data.shape} (expected the parameter's shape)")
        for group in self.param_groups:
            self._step_group(group)
            for p in group["params"]:          # written in place: a new version, packed weights dropped
                if p.grad is not None:
                    changed(p)
        return loss

    # ----- state dict -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [...]}`` with parameters referred to by index.

        Arrays in ``'state'`` are Tensors sharing memory with the optimizer (like PyTorch, the dict is a
        view: serialize it or ``copy.deepcopy`` it to keep a snapshot).
        """
        index: dict[int, int] = {}
        groups = []
        start = 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k not in ("params", "param_names")}
            if "param_names" in g:
                packed["param_names"] = list(g["param_names"])
            for i, p in enumerate(g["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in g["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) not in index:
                continue
            state[index[id(p)]] = {k: (Tensor._wrap(v) if isinstance(v, np.ndarray) else v) for k, v in s.items()}
        state = dict(sorted(state.items()))
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict from ``state_dict()`` (or from ``torch.optim``'s of the same optimizer).

        The number of groups, the size of each group, the parameter ids, the shapes of the state arrays
        and the group options are checked before anything changes: on error the optimizer is untouched.
        Arrays are copied (cast to the parameter's dtype); ``'step'`` becomes a float.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "keys") or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{who}: expected a dict with keys 'state' and 'param_groups', got "
                             f"{type(state_dict).__name__}"
                             + (f" with keys {sorted(map(str, state_dict.keys()))}" if hasattr(state_dict, "keys")
                                else ""))
        saved_groups = state_dict["param_groups"]
        saved_state = state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) for g in saved_groups):
            raise ValueError(f"{who}: 'param_groups' must be a list of dicts")
        if not hasattr(saved_state, "items"):
            raise ValueError(f"{who}: 'state' must be a dict from parameter id to per-parameter state")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{who}: loaded state dict has {len(saved_groups)} parameter group(s), "
                             f"the optimizer has {len(self.param_groups)}")
        id_map: dict[int, Tensor] = {}
        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            ids = saved.get("params")
            if not isinstance(ids, (list, tuple)):
                raise ValueError(f"{who}: parameter group {gi} has no list of parameter ids under 'params'")
            if len(ids) != len(group["params"]):
                raise ValueError(f"{who}: loaded parameter group {gi} has {len(ids)} parameter(s), the optimizer's "
                                 f"group {gi} has {len(group['params'])}")
            for saved_id, p in zip(ids, group["params"]):
                idx = _as_index(saved_id)
                if idx is None:
                    raise ValueError(f"{who}: parameter id {saved_id!r} is not an integer")
                if idx in id_map:
                    raise ValueError(f"{who}: parameter id {idx} appears more than once in 'param_groups'")
                id_map[idx] = p
            new = copy.deepcopy({k: v for k, v in saved.items() if k not in ("params", "param_names")})
            for name, default in self.defaults.items():
                if name not in new:
                    if default is required:
                        raise ValueError(f"{who}: parameter group {gi} has no value for required option '{name}'")
                    new[name] = default
            if "betas" in new and isinstance(new["betas"], list):
                new["betas"] = tuple(new["betas"])
            try:
                self._validate_group(new)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{who}: parameter group {gi}: {e}") from None
            new["params"] = group["params"]
            if "param_names" in saved:
                new["param_names"] = list(saved["param_names"])
            elif "param_names" in group:
                new["param_names"] = group["param_names"]
            new_groups.append(new)
        group_of = {id(p): g for g in new_groups for p in g["params"]}
        new_state: defaultdict = defaultdict(dict)
        for key, entry in saved_state.items():
            idx = _as_index(key)
            if idx is None:
                raise ValueError(f"{who}: parameter id {key!r} is not an integer")
            if idx not in id_map:
                raise ValueError(f"{who}: state for parameter id {idx}, which is in no parameter group "
                                 f"(ids: {sorted(id_map)})")
            if not hasattr(entry, "items"):
                raise ValueError(f"{who}: state of parameter {idx} must be a dict, got {type(entry).__name__}")
            p = id_map[idx]
            loaded = {}
            for name, value in entry.items():
                if name == "step":
                    arr = _to_array(value)
                    try:
                        loaded[name] = float(np.asarray(value if arr is None else arr).reshape(()))
                    except (TypeError, ValueError):
                        raise ValueError(f"{who}: 'step' of parameter {idx} must be a number, "
                                         f"got {value!r}") from None
                    continue
                arr = _to_array(value)
                if arr is None:
                    loaded[name] = copy.deepcopy(value)
                    continue
                if arr.shape != p._data.shape:
                    raise ValueError(f"{who}: state '{name}' of parameter {idx} has shape {tuple(arr.shape)}, "
                                     f"the parameter has shape {tuple(p._data.shape)}")
                if arr.dtype.kind not in "biuf":
                    raise ValueError(f"{who}: state '{name}' of parameter {idx} has dtype {arr.dtype}, "
                                     f"expected numbers")
                loaded[name] = np.array(arr, dtype=p._data.dtype, copy=True)
            if loaded:
                missing = [k for k in self._required_state(group_of[id(p)]) if k not in loaded]
                if missing:
                    raise ValueError(f"{who}: state of parameter {idx} lacks {', '.join(map(repr, missing))}")
            new_state[p] = loaded
        self.state = new_state
        self.param_groups = new_groups

    # ----- printing -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray | None = None) -> None:
    """start <- start + weight * (end - start), in place, with PyTorch's two-sided formula.

    For |weight| < 0.5 it is ``start + w (end - start)``, otherwise ``end - (end - start)(1 - w)``; the
    weight is rounded to the array's dtype first (float32 stays float32). ``scratch`` (start's shape and dtype)
    holds the difference instead of a new array.
    """
    w = start.dtype.type(weight)
    diff = np.subtract(end, start, out=scratch)
    if abs(w) < 0.5:
        diff *= w
        start += diff
    else:
        diff *= start.dtype.type(1) - w
        np.subtract(end, diff, out=start)
