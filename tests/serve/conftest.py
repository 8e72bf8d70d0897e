"""Fixtures of the serve tests: a LeNet-5 checkpoint trained briefly on the built-in digits (once per session),
the app serving it and a test client."""
import io
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the serve tests need the serve extra (starlette, uvicorn)")

import cnnkit as ck

EPOCHS = 6
ROOT = Path(__file__).resolve().parents[2]


def train_lenet5(path, epochs: int = EPOCHS) -> None:
    """LeNet-5 on the built-in digits with `cnnkit train lenet5`'s settings and checkpoint meta (standardized
    with the training set's mean and standard deviation; SGD 0.02, momentum 0.9, weight decay 5e-3, cosine)."""
    from cnnkit.data import DataLoader
    from cnnkit.data import datasets as D
    from cnnkit.data import transforms as T
    from cnnkit.optim.lr_scheduler import CosineAnnealingLR
    from cnnkit.train import Trainer

    ck.manual_seed(0)
    train, test = D.digits(train=True), D.digits(train=False)
    images = np.asarray(train.arrays[0], dtype=np.float64)
    mean, std = images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))
    train.transform = test.transform = T.Normalize(mean, std)
    kwargs = {"num_classes": 10, "classic": False, "in_channels": 1, "input_size": 28}
    model = ck.models.lenet5(**kwargs)
    optimizer = ck.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-3)
    meta = {"model": "lenet5", "model_kwargs": kwargs, "data": "digits", "epochs": epochs, "schedule": "cosine",
            "preprocessing": {"mean": mean.tolist(), "std": std.tolist(), "size": 28, "channels": 1}}
    trainer = Trainer(model, optimizer, ck.nn.CrossEntropyLoss(), CosineAnnealingLR(optimizer, T_max=epochs),
                      checkpoint=path, quiet=True, stream=io.StringIO(), meta=meta)
    trainer.fit(DataLoader(train, batch_size=32, shuffle=True), epochs, val=DataLoader(test, batch_size=256))


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "checkpoint.safetensors"
    train_lenet5(path)
    return path


@pytest.fixture(scope="session")
def app(checkpoint):
    from cnnkit.serve import create_app

    return create_app(checkpoint)


@pytest.fixture
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def server(checkpoint):
    """The URL of `cnnkit serve CHECKPOINT --host 127.0.0.1 --port 0` running in a subprocess (stopped after the
    session)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "cnnkit", "serve", str(checkpoint), "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: ([lines.put(line) for line in proc.stdout], lines.put(None)), daemon=True).start()
    seen = []
    try:
        while True:
            try:
                line = lines.get(timeout=120)
            except queue.Empty:
                pytest.fail(f"cnnkit serve printed no URL within 120 s: {''.join(seen)}")
            if line is None:
                pytest.fail(f"cnnkit serve exited with {proc.wait()}: {''.join(seen)}")
            seen.append(line)
            if "http://" in line:
                url = line[line.index("http://"):].split()[0]
                break
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
