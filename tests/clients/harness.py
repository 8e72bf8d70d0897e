"""Run one client program twice, once on PyTorch and once on cnnkit (``torch`` resolved to cnnkit by the same
import hook as ``cnnkit run``), with the same initial weights: torch's initial state dict is loaded into the cnnkit
model. The program's own classes and functions are called; nothing in them is changed."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import sys
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


# --- public models: the same batch and training loop on PyTorch and on cnnkit ---------------------------------------

BATCH, SGD_LR, ADAM_LR = 8, 0.005, 3e-4


def generated_batch(size: int, classes: int, seed: int = 0):
    """A batch with a learnable signal: each class adds its own fixed pattern to noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(BATCH) % classes
    patterns = rng.standard_normal((classes, 3, size, size))
    x = 0.5 * rng.standard_normal((BATCH, 3, size, size)) + patterns[y]
    return x.astype(np.float32), y.astype(np.int64)


def _train_mode(torch_like, model, dropout: bool) -> None:
    """Training mode; without ``dropout`` the Dropout layers are held in eval mode (deterministic runs)."""
    model.train()
    if not dropout:
        for m in model.modules():
            if isinstance(m, torch_like.nn.Dropout):
                m.eval()


def first_gradients(torch_like, model, x, y) -> tuple[float, dict]:
    """One training-mode forward and backward (Dropout held in eval mode): the loss and every parameter's gradient
    as a float64 array."""
    _train_mode(torch_like, model, dropout=False)
    loss = torch_like.nn.functional.cross_entropy(model(torch_like.tensor(x)), torch_like.tensor(y))
    loss.backward()
    return loss.item(), {n: np.asarray(p.grad.numpy(), dtype=np.float64) for n, p in model.named_parameters()}


def assert_gradients_as_close_as_torch(ours: dict, torch32: dict, reference: dict, what: str,
                                      torch_reference: dict | None = None) -> None:
    """The float32 rule of tests/nn/test_float32_accuracy.py for a whole network: per parameter the error
    max|g32 − g64| / max|g64| against torch float64; cnnkit's worst and median over the parameters no more than
    twice torch float32's (two float32 results are never compared with each other). ``reference`` is the float64
    gradient cnnkit's is judged against; ``torch_reference`` the one torch float32's is (default the same)."""
    def errors(grads, ref64):
        return np.array([np.max(np.abs(grads[n] - ref)) / np.max(np.abs(ref)) if np.any(ref) else
                         np.max(np.abs(grads[n])) for n, ref in ref64.items()])

    e_ours, e_torch = errors(ours, reference), errors(torch32, reference if torch_reference is None else torch_reference)
    worst = list(reference)[int(np.argmax(e_ours))]
    report = (f"{what}: cnnkit float32 gradient error worst {e_ours.max():.3g} ({worst}) median {np.median(e_ours):.3g}; "
              f"torch float32 worst {e_torch.max():.3g} median {np.median(e_torch):.3g}")
    assert np.all(np.isfinite(e_ours)), report
    assert e_ours.max() <= 2 * e_torch.max() and np.median(e_ours) <= 2 * np.median(e_torch), report


def decisions(torch_like, model) -> tuple[dict, list]:
    """Forward hooks on every ``nn.ReLU`` and ``nn.MaxPool2d`` module of ``model`` recording, call by call, the
    decisions its forward took: where a ReLU's output is positive (a bool array), which input element each max-pool
    window took (its flat indices per plane, as ``return_indices=True`` gives them). Returns ({module name: [per
    call]}, the hooks' handles: remove them after the run)."""
    recorded, handles = {}, []
    for name, module in model.named_modules():
        if type(module) is torch_like.nn.ReLU:
            def record(mod, inputs, output, name=name):
                recorded.setdefault(name, []).append(np.asarray(output.detach().numpy()) > 0)
        elif type(module) is torch_like.nn.MaxPool2d and not module.return_indices:
            def record(mod, inputs, output, name=name):
                _, taken = torch_like.nn.functional.max_pool2d(
                    inputs[0].detach(), mod.kernel_size, mod.stride, mod.padding, mod.dilation, mod.ceil_mode,
                    return_indices=True)
                recorded.setdefault(name, []).append(np.asarray(taken.numpy()).astype(np.int64))
        else:
            continue
        handles.append(module.register_forward_hook(record))
    return recorded, handles


def replaying(model, recorded: dict):
    """``model`` (a torch float64 copy) with each module of :func:`decisions` replaced by one that repeats the
    recorded float32 run's decisions call by call: a ReLU computes x·[decision], a max pool takes the recorded
    elements. Its gradient is then the float64 gradient of the same piecewise-linear function the float32 run
    chose. Where an activation lies within float32's rounding of 0 (or two window values within rounding of each
    other), two correct float32 runs can decide it differently, and one such flip moves a whole weight gradient
    by up to 1e-2 of its scale (measured: torch float32 against torch float64 on the pytorchcv DenseNet-40 client,
    batches of seeds 4 and 5); judging each run against the float64 gradient of its own decisions keeps the rule
    about the arithmetic, not about which side of a tie a rounding fell on."""
    import torch

    class ReplayReLU(torch.nn.Module):
        def __init__(self, masks):
            super().__init__()
            self.masks = iter(masks)

        def forward(self, x):
            return x * torch.from_numpy(next(self.masks)).to(x.dtype)

    class ReplayMaxPool(torch.nn.Module):
        def __init__(self, taken):
            super().__init__()
            self.taken = iter(taken)

        def forward(self, x):
            idx = torch.from_numpy(next(self.taken))
            return x.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)

    for name, calls in recorded.items():
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        kind = ReplayReLU if isinstance(getattr(owner, child), torch.nn.ReLU) else ReplayMaxPool
        setattr(owner, child, kind(calls))
    return model


def train_steps(torch_like, model, x, y, steps: int, dropout: bool, optimizer: str = "SGD") -> list:
    """``steps`` optimizer steps on one batch with the framework ``torch_like`` (torch or cnnkit); the losses.
    Plain SGD for the comparison with PyTorch (its update is the gradient itself, so the loss after it checks the
    gradient), Adam for the training run (it trains every one of these models within a few steps). Without
    ``dropout`` the Dropout layers are held in eval mode (deterministic runs)."""
    _train_mode(torch_like, model, dropout)
    opt = (torch_like.optim.SGD(model.parameters(), lr=SGD_LR) if optimizer == "SGD"
           else torch_like.optim.Adam(model.parameters(), lr=ADAM_LR))
    xt, yt = torch_like.tensor(x), torch_like.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch_like.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def import_from_tree(tree, name: str, on_cnnkit: bool):
    """Module ``name`` of a package unpacked in ``tree`` (a directory), imported unedited on cnnkit or on PyTorch.
    The package's modules are removed from ``sys.modules`` afterwards (and any earlier import of the same package
    is put back), so the two imports are independent."""
    top = name.split(".")[0]

    def ours():
        return [k for k in sys.modules if k == top or k.startswith(top + ".")]

    saved = {k: sys.modules.pop(k) for k in ours()}
    sys.path.insert(0, str(tree))
    try:
        with torch_resolved_to_cnnkit() if on_cnnkit else contextlib.nullcontext():
            module = importlib.import_module(name)
    finally:
        sys.path.remove(str(tree))
        for k in ours():
            del sys.modules[k]
        sys.modules.update(saved)
    return module


def check_public_model(name: str, build_torch, build_cnnkit, size: int, classes: int) -> dict:
    """The check of every public model: PyTorch builds it (seed 0) and its initial state dict is loaded into the
    cnnkit build; each takes one training-mode forward and backward on the same generated batch (BatchNorm in
    training mode, Dropout layers in eval mode so both runs are deterministic). The first-step loss must equal
    torch's within 1e-4 relative and the gradients must meet the float32 rule against torch in float64 (worst and
    median per-parameter error within twice torch float32's), each float32 run judged against the float64
    gradient of its own ReLU and max-pool decisions (:func:`replaying`). Then cnnkit trains on (Adam) and the loss must fall.
    Returns the losses (for the report)."""
    import copy

    import torch

    torch.manual_seed(0)
    tm, cm = build_torch(), build_cnnkit()
    copy_weights(tm, cm)
    base = copy.deepcopy(tm)
    x, y = generated_batch(size, classes)
    (decided_torch, hooks_torch), (decided_ours, hooks_ours) = decisions(torch, tm), decisions(cnnkit, cm)
    expected, g32 = first_gradients(torch, tm, x, y)
    got, g_ours = first_gradients(cnnkit, cm, x, y)
    for handle in hooks_torch + hooks_ours:
        handle.remove()
    exact, g64_torch = first_gradients(torch, replaying(copy.deepcopy(base).double(), decided_torch),
                                       x.astype(np.float64), y)
    _, g64 = first_gradients(torch, replaying(copy.deepcopy(base).double(), decided_ours), x.astype(np.float64), y)
    assert_same_loss(got, expected, what=f"{name}: first-step loss")
    assert_gradients_as_close_as_torch(g_ours, g32, g64, what=name, torch_reference=g64_torch)
    later = train_steps(cnnkit, cm, x, y, 8, dropout=False, optimizer="Adam")
    assert np.mean(later[-2:]) < got, f"{name}: the loss did not fall: {[got, *later]}"
    return {"cnnkit": got, "torch": expected, "torch64": exact, "training": later}
