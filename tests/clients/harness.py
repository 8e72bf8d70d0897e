"""Run one client program twice, once on PyTorch and once on cnnkit (``torch`` resolved to cnnkit by the same
import hook as ``cnnkit run``), with the same initial weights: torch's initial state dict is loaded into the cnnkit
model. The program's own classes and functions are called; nothing in them is changed."""
from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import numpy as np

import cnnkit
from cnnkit.run import torch_resolved_to_cnnkit

HERE = Path(__file__).resolve().parent


def load(name: str, on_cnnkit: bool):
    """The program ``name`` imported as a module (its ``main`` not run), on cnnkit or on PyTorch."""
    path = HERE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"client_{name}_{'cnnkit' if on_cnnkit else 'torch'}", path)
    module = importlib.util.module_from_spec(spec)
    with torch_resolved_to_cnnkit() if on_cnnkit else contextlib.nullcontext():
        spec.loader.exec_module(module)
    assert (module.torch is cnnkit) == on_cnnkit
    return module


def copy_weights(torch_model, cnnkit_model) -> None:
    """torch's state dict (parameters and buffers) into the cnnkit model, by name, strictly."""
    state = {k: cnnkit.tensor(v.detach().numpy().copy()) for k, v in torch_model.state_dict().items()}
    cnnkit_model.load_state_dict(state, strict=True)


def quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with its printing captured; returns (result, printed text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def assert_same_loss(ours: float, theirs: float, rtol: float = 1e-4, what: str = "loss") -> None:
    """Two float32 scalar losses after a few layers: equal within 1e-4 relative (far above float32 rounding of
    a mean over a batch, far below any difference of weights, data or formula)."""
    assert np.isfinite(ours) and abs(ours - theirs) <= rtol * abs(theirs), f"{what}: cnnkit {ours} vs torch {theirs}"
