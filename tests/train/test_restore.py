"""``cnnkit.train.restore``: a model trained by a Trainer comes back from its checkpoint with the same logits, the
preprocessing its ``meta`` recorded, and clear errors for checkpoints that do not say how to rebuild it."""
import io

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import models
from cnnkit.data import ArrayDataset, DataLoader
from cnnkit.data import transforms as T
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD
from cnnkit.train import Restored, Trainer, restore


def meta_for(**changes):
    meta = {"model": "lenet5", "data": "digits", "epochs": 1,
            "model_kwargs": {"num_classes": 10, "classic": False, "in_channels": 1, "input_size": 28},
            "preprocessing": {"mean": [0.2], "std": [0.3], "size": 28, "channels": 1}}
    meta.update(changes)
    return meta


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A LeNet-5 trained for one epoch on 64 random images, its checkpoint and the images."""
    ck.manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.random((64, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    meta = meta_for()
    model = models.get("lenet5", **meta["model_kwargs"])
    data = ArrayDataset(images, labels, transform=T.Normalize([0.2], [0.3]))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.05, momentum=0.9), CrossEntropyLoss(), quiet=True,
                      stream=io.StringIO(), meta=meta)
    path = tmp_path_factory.mktemp("restore") / "checkpoint.safetensors"
    trainer.fit(DataLoader(data, batch_size=16, shuffle=True), 1)
    trainer.save_checkpoint(path)
    return model, path, images


def test_restore_gives_the_trained_models_logits(trained):
    model, path, images = trained
    r = restore(path)
    assert isinstance(r, Restored) and not r.model.training and r.model is not model
    assert (r.name, r.data, r.channels, r.size, r.num_classes, r.epoch) == ("lenet5", "digits", 1, 28, 10, 1)
    assert r.describe() == "lenet5 (epoch 1, trained on digits)"
    assert np.array_equal(r.mean, [0.2]) and np.array_equal(r.std, [0.3])
    x = r.normalize(images)
    assert np.array_equal(x, T.Normalize([0.2], [0.3])(images))
    model.eval()
    with ck.no_grad():
        expected = model(ck.tensor(x))._data
    assert np.array_equal(r.logits(x), expected)
    # in batches of 7: the same logits up to float32 rounding (BLAS sums in another order)
    assert np.allclose(r.logits(x, batch_size=7), expected, rtol=1e-5, atol=1e-6)
    # data names the caller recognizes
    assert restore(path, data_names=("mnist",)).data is None
    assert restore(path, data_names=("mnist",)).describe() == "lenet5 (epoch 1)"


def test_restore_errors(trained, tmp_path):
    _, path, _ = trained
    state = ck.load(path)
    cases = [
        (state["model"], "is not a training checkpoint (it has no 'model' weights)"),
        ({"model": state["model"]}, "has no 'meta' entry"),
        ({**state, "meta": meta_for(model=3)}, "has an invalid 'meta' entry: it needs 'model' (a name)"),
        ({**state, "meta": meta_for(preprocessing={"mean": [0.2], "std": [0.3], "size": 0, "channels": 1})},
         "preprocessing channels and size must be positive ints, got 1 and 0"),
        ({**state, "meta": meta_for(preprocessing={"mean": [0.2, 0.1], "std": [0.3], "size": 28, "channels": 1})},
         "expected 1 finite channel means and positive standard deviations"),
        ({**state, "meta": meta_for(model="lenet6")}, "cannot rebuild its model: models.get: unknown model 'lenet6'"),
        ({**state, "meta": meta_for(model_kwargs={"num_classes": 5})}, "its weights do not fit lenet5"),
    ]
    for i, (content, message) in enumerate(cases):
        bad = tmp_path / f"bad{i}.safetensors"
        ck.save(content, bad)
        with pytest.raises(ValueError) as e:
            restore(bad)
        assert str(e.value).startswith(str(bad)) and message in str(e.value), e.value
