"""The Trainer's steps run on the configured thread count (``deterministic=True``, the default): a weight gradient's
last bits depend on the thread count, and a resumed run must give exactly the weights of an uninterrupted one
(tests/train/test_resume.py). ``deterministic=False`` lets the kernels start fewer threads while other processes
keep cores busy (cnnkit.kernels.contention). Either way, only the steps of ``fit`` see the setting."""
from __future__ import annotations

import io

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import nn
from cnnkit.data import DataLoader, TensorDataset
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD
from cnnkit.train import Trainer

pytestmark = pytest.mark.adaptive_threads  # tests the default, and the Trainer's switch (tests/conftest.py)


class _Recording(nn.Module):
    """A small convolutional classifier that records, at each forward, whether results are bitwise repeatable."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 2)
        self.seen: list = []

    def forward(self, x):
        self.seen.append(ck.are_deterministic_algorithms_enabled())
        return self.fc(ck.flatten(ck.relu(self.conv(x)), 1))


def _fit(**options):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 2, 16)
    model = _Recording()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), quiet=True, stream=io.StringIO(),
                      **options)
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=8), 1, val=TensorDataset(x, y))
    return model.seen


def test_fit_runs_deterministically_by_default():
    assert not ck.are_deterministic_algorithms_enabled()
    seen = _fit()
    assert seen and all(seen)                                   # training and validation steps
    assert not ck.are_deterministic_algorithms_enabled()        # only inside fit


def test_deterministic_false_leaves_the_adaptation_on():
    seen = _fit(deterministic=False)
    assert seen and not any(seen)


def test_deterministic_false_keeps_a_process_wide_choice():
    ck.use_deterministic_algorithms(True)
    try:
        assert all(_fit(deterministic=False))
    finally:
        ck.use_deterministic_algorithms(False)


def test_deterministic_must_be_a_bool():
    model = _Recording()
    with pytest.raises(TypeError, match="Trainer: deterministic must be a bool, got 1"):
        Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), deterministic=1)
