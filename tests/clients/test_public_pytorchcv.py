"""Public client programs: CIFAR-10 models of pytorchcv, from its wheel, on cnnkit.

Source: github.com/osmr/imgclsmob (the pytorch/ part, published on PyPI as pytorchcv), files
pytorchcv/models/<module>.py with the blocks they import (pytorchcv/models/common/*.py, resnet.py, preresnet.py,
seresnet.py, densenet.py), taken from the wheel pytorchcv 0.0.74 (file and SHA-256 in tests/clients/public.py),
fetched at test time and never committed. The package is imported as it is: its only torch imports are
``torch``, ``torch.nn`` and ``torch.nn.functional``, which resolve to cnnkit through the import hook of
``cnnkit run``.

Each model is checked by harness.check_public_model (first-step loss equal to torch's on torch's initial
weights, the float32 gradients as close to torch float64's as torch float32's within 2x, the loss falls). Three of them also run under
``cnnkit run`` with no edit at all: our driver (pytorchcv_driver.py, a torch script) imports the model from the
unpacked wheel and trains it in a ``cnnkit run`` subprocess.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.clients.harness import HERE, check_public_model, import_from_tree
from tests.clients.public import require

ROOT = HERE.parent.parent

# client -> (module of pytorchcv.models, slow?)
MODELS = {
    "resnet20_cifar10": ("resnet_cifar", False),
    "preresnet20_cifar10": ("preresnet_cifar", False),
    "seresnet20_cifar10": ("seresnet_cifar", True),
    "nin_cifar10": ("nin_cifar", True),
    "densenet40_k12_cifar10": ("densenet_cifar", True),
}
RUN_UNEDITED = ["resnet20_cifar10", "preresnet20_cifar10", "seresnet20_cifar10"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if slow else [], id=n)
                                  for n, (_, slow) in MODELS.items()])
def test_pytorchcv_model_trains_like_torch(name):
    tree = require("pytorchcv")
    module = f"pytorchcv.models.{MODELS[name][0]}"
    theirs, ours = import_from_tree(tree, module, on_cnnkit=False), import_from_tree(tree, module, on_cnnkit=True)
    assert ours.nn.__name__ == "cnnkit.nn" and theirs.nn.__name__ == "torch.nn"
    check_public_model(name, getattr(theirs, name), getattr(ours, name), 32, 10)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUN_UNEDITED)
def test_cnnkit_run_trains_a_public_model_without_any_edit(name):
    tree = require("pytorchcv")
    out = subprocess.run([sys.executable, "-m", "cnnkit", "run", str(HERE / "pytorchcv_driver.py"), str(tree),
                          MODELS[name][0], name, "--steps", "8"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "'torch' resolved to cnnkit" in out.stderr and f"{name} trained on cnnkit" in out.stdout, out.stdout
    losses = [float(v) for v in re.findall(r"loss ([0-9.]+)", out.stdout)]
    assert len(losses) == 8 and sum(losses[-2:]) / 2 < losses[0], out.stdout
