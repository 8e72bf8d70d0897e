"""Fixtures of the serve tests: a LeNet-5 checkpoint trained briefly on the built-in digits (once per session),
the app serving it and a test client."""
import io

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the serve tests need the serve extra (starlette, uvicorn)")

import cnnkit as ck  # noqa: E402

EPOCHS = 6


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
