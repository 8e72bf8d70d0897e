"""Client programs (README.md here) on cnnkit: the loss at the first step equals PyTorch's on the same initial
weights and data, and the loss falls when the program trains on cnnkit."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.clients.harness import HERE, assert_same_loss, copy_weights, load, quiet

ROOT = HERE.parent.parent


def test_mnist_convnet():
    th, ck = load("mnist_convnet", False), load("mnist_convnet", True)
    torch.manual_seed(0)
    tm, cm = th.Net(), ck.Net()
    copy_weights(tm, cm)
    # the program's test() at the initial weights (eval mode: dropout off), same generated data
    theirs, _ = quiet(th.test, tm, th.torch.device("cpu"), th.DataLoader(th.make_data(128, 1), batch_size=64))
    ours, _ = quiet(ck.test, cm, ck.torch.device("cpu"), ck.DataLoader(ck.make_data(128, 1), batch_size=64))
    assert_same_loss(ours, theirs, what="initial test loss")
    # the program's main on cnnkit: its test loss falls epoch after epoch
    losses, printed = quiet(ck.main, ["--epochs", "2"])
    assert losses[-1] < 0.5 * losses[0], losses
    assert "Train Epoch: 1" in printed


# program -> (its arguments, the regex of the losses it prints)
RUN_UNEDITED = {"mnist_convnet": (["--epochs", "2"], r"Average loss: ([0-9.]+)"),
                "cifar_convnet": (["--epochs", "3"], r"loss: ([0-9.]+)"),
                "d2l_style_resnet": (["--epochs", "3"], r"loss ([0-9.]+)"),
                "dcgan_small": (["--iters", "30"], r"Loss_D: ([0-9.]+)")}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUN_UNEDITED))
def test_cnnkit_run_without_any_edit(name):
    """`cnnkit run PROGRAM.py` (a subprocess, the program file as it is): it runs and its printed loss falls."""
    args, pattern = RUN_UNEDITED[name]
    out = subprocess.run([sys.executable, "-m", "cnnkit", "run", str(HERE / f"{name}.py"), *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=600,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    losses = [float(v) for v in re.findall(pattern, out.stdout)]
    assert len(losses) >= 2 and losses[-1] < losses[0], out.stdout
    assert "'torch' resolved to cnnkit" in out.stderr


def _one_batch(module, loader):
    """A loader of the first batch only, built with the program's own DataLoader class."""
    first = next(iter(loader))
    return module.torch.utils.data.DataLoader(module.torch.utils.data.TensorDataset(*first), batch_size=len(first[0]))


def test_cifar_convnet():
    th, ck = load("cifar_convnet", False), load("cifar_convnet", True)
    torch.manual_seed(0)
    tm, cm = th.Net(), ck.Net()
    copy_weights(tm, cm)
    losses = []
    for mod, model in ((th, tm), (ck, cm)):
        batch = _one_batch(mod, mod.make_loader(256, 0, 16, False))
        opt = mod.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        history, _ = quiet(mod.train, model, batch, mod.nn.CrossEntropyLoss(), opt, 2, log_every=1)
        losses.append(history)
    assert_same_loss(losses[1][0], losses[0][0], what="first-step loss")
    assert_same_loss(losses[1][1], losses[0][1], what="second-step loss (after one SGD step)")
    (history, acc), printed = quiet(ck.main, ["--epochs", "3"])
    assert np.mean(history[-8:]) < 0.7 * np.mean(history[:8]) and acc > 0.5, (history, acc)
    assert "Finished Training" in printed


def test_dcgan_small():
    th, ck = load("dcgan_small", False), load("dcgan_small", True)
    torch.manual_seed(999)
    nets = {}
    for mod in (th, ck):
        g, d = mod.Generator(), mod.Discriminator()
        g.apply(mod.weights_init)
        d.apply(mod.weights_init)
        nets[mod] = (g, d)
    copy_weights(nets[th][0], nets[ck][0])
    copy_weights(nets[th][1], nets[ck][1])
    noise = np.random.default_rng(5).standard_normal((32, th.nz, 1, 1)).astype(np.float32)
    steps = {}
    for mod in (th, ck):
        g, d = nets[mod]
        opt_d = mod.optim.Adam(d.parameters(), lr=0.002, betas=(0.5, 0.999))
        opt_g = mod.optim.Adam(g.parameters(), lr=0.002, betas=(0.5, 0.999))
        real = mod.real_images(32, 0)
        z = mod.torch.tensor(noise)
        steps[mod] = [mod.train_step(d, g, opt_d, opt_g, mod.nn.BCELoss(), real, z) for _ in range(2)]
    for k in range(2):
        assert_same_loss(steps[ck][k][0], steps[th][k][0], what=f"discriminator loss at step {k + 1}")
        assert_same_loss(steps[ck][k][1], steps[th][k][1], what=f"generator loss at step {k + 1}")
    history, _ = quiet(ck.main, ["--iters", "30"])
    d_losses = [h[0] for h in history]
    assert np.mean(d_losses[-10:]) < d_losses[0], d_losses


def test_d2l_style_resnet():
    th, ck = load("d2l_style_resnet", False), load("d2l_style_resnet", True)
    tm, cm = th.build(), ck.build()
    assert type(cm[0]).__name__ == "Conv2d" and type(cm[-1]).__name__ == "Linear"
    copy_weights(tm, cm)
    first = []
    for mod, model in ((th, tm), (ck, cm)):
        loader = _one_batch(mod, mod.load_array(mod.synthetic(192, 0), 32, is_train=False))
        history, _ = quiet(mod.train, model, loader, 0.1, 2)
        first.append(history)
    assert_same_loss(first[1][0], first[0][0], what="first-step loss")
    assert_same_loss(first[1][1], first[0][1], what="loss after one hand-written SGD step")
    history, _ = quiet(ck.main, ["--epochs", "3"])
    assert history[-1] < 0.5 * history[0], history
