"""Deep BatchNorm ResNets after a few batches at 8×8: huge or non-finite eval-mode outputs are what the running
statistics give, in PyTorch as in cnnkit.

ResNet-18 at 8×8 has 1×1 feature maps from layer2 on, so train-mode BatchNorm normalizes a batch of 4 values per
channel, far from the statistics of the whole data; eval mode normalizes with the running statistics instead,
which after k batches are still 0.9^k of their initial values (mean 0, variance 1). After one epoch of 6 batches
on 24 digits, the eval-mode logits are about 1e17 (ResNet-50 and -152 reach NaN). The test trains such a run from
the command line (which adds a note to its log), gives PyTorch the identical state (weights and running
statistics) and checks that both evaluate the validation images to the same numbers, at float32's accuracy against
PyTorch's float64, and that those numbers are the huge ones: the behaviour is the running statistics', not a
fault of cnnkit."""
import io

import numpy as np
import pytest

import cnnkit as ck
from cnnkit import cli
from cnnkit.train import restore

torch = pytest.importorskip("torch")
from tests.models.torch_reference import ref_resnet18  # noqa: E402


def digits(train=True, **kwargs):
    d = ck.data.datasets.digits(train=train)
    return ck.data.ArrayDataset(d.arrays[0][:24].copy(), d.arrays[1][:24].copy())


@pytest.mark.slow
def test_eval_of_a_resnet_after_few_batches_matches_torch_on_the_identical_state(tmp_path, torch_one_thread):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["train", "resnet18", "--image-size", "8", "--batch-size", "4", "--epochs", "1", "--lr", "0.001",
                     "--quiet", "--out", str(tmp_path / "run")], stdout=out, stderr=err, datasets={"digits": digits})
    assert code == 0, err.getvalue()
    trained = restore(tmp_path / "run" / "checkpoint.safetensors")
    reference = ref_resnet18(10)
    reference.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)     # grayscale digits: one input channel
    reference.load_state_dict({k: torch.tensor(v.numpy().copy()) for k, v in trained.model.state_dict().items()})
    reference.eval()
    x = np.random.default_rng(0).normal(size=(8, 1, 8, 8)).astype(np.float32)
    ours = trained.logits(x)
    with torch.no_grad():
        theirs = reference(torch.tensor(x)).numpy()
        exact = reference.double()(torch.tensor(x, dtype=torch.float64)).numpy()
    # the float32 runs overflow exactly where the float64 answer is beyond float32 (or NaN); elsewhere they agree
    # with it at float32's accuracy
    beyond = ~(np.abs(exact) < np.finfo(np.float32).max / 10)
    np.testing.assert_array_equal(~np.isfinite(ours), ~np.isfinite(theirs))
    assert np.all(np.isfinite(ours[~beyond])) and np.all(np.isfinite(theirs[~beyond]))
    within = ~beyond & np.isfinite(ours)
    scale = np.abs(exact[within]).max() if within.any() else np.inf
    assert scale > 1e6 or not within.all(), scale                   # the running statistics' answer: huge
    if within.any():
        ours_error = np.abs(ours - exact)[within].max() / scale
        theirs_error = np.abs(theirs - exact)[within].max() / scale
        assert ours_error < 1e-4 and theirs_error < 1e-4, (ours_error, theirs_error)
    val_loss = ck.load(tmp_path / "run" / "checkpoint.safetensors")["history"][0]["val_loss"]
    assert not val_loss < 1e3
    assert (f"note: epoch 1's validation loss is {val_loss:.3g} against a training loss of ") in err.getvalue()
    assert ("in eval mode BatchNorm normalizes with running statistics, which after 6 batch(es) (momentum 0.1) "
            "are still mostly their initial values; train on more batches") in err.getvalue()
