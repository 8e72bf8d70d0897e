"""``cnnkit eval`` and ``cnnkit predict`` on a checkpoint of a real (one-epoch) ``cnnkit train`` run on the built-in
digits: eval's figures equal the Trainer's evaluate; predict on PNG/JPEG files written here from digits test
images gives the model's own classes and probabilities on the same (8-bit) pixels; --invert, the digit framing,
transparency, 16-bit images, class names, and the error paths (one line, exit 1)."""
import gzip
import re
import struct

import numpy as np
import pytest
from PIL import Image

import cnnkit as ck
from cnnkit import cli, models
from cnnkit.data import DataLoader
from cnnkit.data import datasets as D
from cnnkit.data import transforms as T
from cnnkit.data.images import prepare_image
from cnnkit.nn.loss import CrossEntropyLoss
from cnnkit.optim import SGD
from cnnkit.train import Trainer

ACCURACY = re.compile(r"^test accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\), test loss (\d+\.\d{4})$", re.M)
TOP3 = re.compile(r"^top-3 accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\)$", re.M)
PREDICTION = re.compile(r"^(?P<path>.+): (?P<label>.+?)   top-(?P<k>\d+): (?P<top>.+)$")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A LeNet-5 trained for one epoch on the digits by the command itself."""
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "--epochs", "1", "--quiet", "--schedule", "none", "--out", str(out)]) == 0
    return out / "checkpoint.safetensors"


@pytest.fixture(scope="module")
def digit_images():
    """The first 16 digits test images (16, 1, 28, 28) in [0, 1] and their labels."""
    test = D.digits(train=False)
    return test.arrays[0][:16], test.arrays[1][:16]


class Reference:
    """The checkpoint's model rebuilt by hand (independently of the command), on images in [0, 1]."""

    def __init__(self, path):
        state = ck.load(path)
        meta = state["meta"]
        self.model = models.get(meta["model"], **meta["model_kwargs"])
        self.model.load_state_dict(state["model"])
        self.model.eval()
        self.normalize = T.Normalize(meta["preprocessing"]["mean"], meta["preprocessing"]["std"])

    def probabilities(self, images01):
        with ck.no_grad():
            logits = self.model(ck.tensor(self.normalize(np.asarray(images01, dtype=np.float32))))._data
        z = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def run(args, capsys):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def parse_predictions(out):
    rows = []
    for line in out.strip().splitlines():
        m = PREDICTION.match(line)
        assert m, line
        top = [part.rsplit(" ", 1) for part in m.group("top").split(" | ")]
        assert len(top) == int(m.group("k")) and top[0][0] == m.group("label")
        rows.append((m.group("path"), [(name, float(p.rstrip("%"))) for name, p in top]))
    return rows


def assert_predictions(out, paths, probabilities, names=None):
    """The printed lines are, per file, the top classes of ``probabilities`` with their percentages."""
    rows = parse_predictions(out)
    assert [r[0] for r in rows] == [str(p) for p in paths]
    for (_, top), p in zip(rows, probabilities):
        order = np.argsort(-p, kind="stable")[:len(top)]
        expected = [(names[c] if names else str(c)) for c in order]
        assert [name for name, _ in top] == expected
        assert np.allclose([pct for _, pct in top], 100 * p[order], atol=0.0051)


def quantize(images01):
    """Images in [0, 1] -> uint8, as an 8-bit PNG stores them."""
    return np.clip(np.rint(np.asarray(images01) * 255), 0, 255).astype(np.uint8)


def write_pngs(folder, pixels, prefix="digit", **save_kwargs):
    paths = []
    for i, p in enumerate(pixels):
        path = folder / f"{prefix}{i}.png"
        Image.fromarray(p).save(path, **save_kwargs)
        paths.append(path)
    return paths


def one_line_error(code, out, err, command):
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"cnnkit {command}: error: ") and len(err.strip().splitlines()) == 1, err
    return err


# ----- eval -------------------------------------------------------------------------------------------------------
def test_eval_equals_the_trainers_evaluate(checkpoint, capsys):
    code, out, err = run(["eval", checkpoint, "--batch-size", "50"], capsys)
    assert code == 0, err
    assert err == "evaluating lenet5 (epoch 1, trained on digits) on the digits test set: 360 images\n"
    ref = Reference(checkpoint)
    test = D.digits(train=False)
    test.transform = ref.normalize
    result = Trainer(ref.model, SGD(ref.model.parameters(), lr=0.1), CrossEntropyLoss(), topk=3).evaluate(
        DataLoader(test, batch_size=100))
    percent, correct, n, loss = ACCURACY.search(out).groups()
    assert int(n) == 360 and int(correct) == round(result["accuracy"] * 360)
    assert percent == f"{100 * result['accuracy']:.2f}" and loss == f"{result['loss']:.4f}"
    assert int(TOP3.search(out).group(2)) == round(result["top3"] * 360) >= int(correct)
    lines = out.splitlines()
    start = lines.index("confusion matrix (rows: true class, columns: predicted class):")
    assert lines[start + 1].split() == [str(i) for i in range(10)] + ["correct"]
    printed = np.array([[int(v) for v in line.split()[1:11]] for line in lines[start + 2:start + 12]])
    assert np.array_equal(printed, result["confusion"]) and printed.sum() == 360
    assert [line.split()[0] for line in lines[start + 2:start + 12]] == [str(i) for i in range(10)]
    recall = [float(line.split()[-1].rstrip("%")) for line in lines[start + 2:start + 12]]
    assert np.allclose(recall, 100 * np.diag(printed) / printed.sum(axis=1), atol=0.051)


def write_idx(path, array, ndim_code):
    header = struct.pack(">BBBB", 0, 0, 8, ndim_code) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_eval_on_other_data_from_idx_files(checkpoint, digit_images, tmp_path, capsys):
    """--data mnist --data-dir: the digits model on IDX files of 16 (quantized) digits images."""
    images, labels = digit_images
    pixels = quantize(images[:, 0])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", pixels, 3)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 1)
    code, out, err = run(["eval", checkpoint, "--data", "mnist", "--data-dir", tmp_path], capsys)
    assert code == 0, err
    assert "on the mnist test set: 16 images" in err
    predicted = Reference(checkpoint).probabilities(pixels[:, None] / 255.0).argmax(axis=1)
    correct = int((predicted == labels).sum())
    assert ACCURACY.search(out).group(2, 3) == (str(correct), "16")


def _save_untrained(path, meta, **model_kwargs):
    """A checkpoint of an untrained model (seeded) with ``meta`` as `cnnkit train` writes it."""
    ck.manual_seed(3)
    model = models.get("lenet5", **model_kwargs)
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), meta=meta).save_checkpoint(path)
    return model


def _meta(data, channels, size, mean, std, **kwargs):
    return {"model": "lenet5", "data": data, "epochs": 1, "schedule": "none",
            "model_kwargs": {"num_classes": 10, "classic": False, "in_channels": channels, "input_size": size,
                             **kwargs},
            "preprocessing": {"mean": mean, "std": std, "size": size, "channels": channels}}


def test_eval_errors(checkpoint, tmp_path, capsys):
    cases = []
    cases.append((tmp_path / "missing.safetensors", "load: no checkpoint at {path}"))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(checkpoint.read_bytes()[:-100])
    cases.append((truncated, "load: {path} is truncated or corrupt"))
    text = tmp_path / "text.safetensors"
    text.write_text("hello")
    cases.append((text, "load: {path} is not a checkpoint"))
    no_meta = tmp_path / "no_meta.safetensors"
    ck.save({"model": ck.load(checkpoint)["model"], "epoch": 1}, no_meta)
    cases.append((no_meta, "{path} has no 'meta' entry, so it does not say which model it holds"))
    weights_only = tmp_path / "weights.safetensors"
    ck.save(ck.load(checkpoint)["model"], weights_only)
    cases.append((weights_only, "{path} is not a training checkpoint (it has no 'model' weights)"))
    state = ck.load(checkpoint)
    for name, change, message in [
        ("unknown_model", {"model": "lenet6"}, "{path}: cannot rebuild its model: models.get: unknown model 'lenet6'"),
        ("classic", {"model_kwargs": {"num_classes": 10, "classic": True}}, "{path}: its weights do not fit lenet5"),
        ("bad_std", {"preprocessing": {"mean": [0.1], "std": [0.0], "size": 28, "channels": 1}},
         "{path} has an invalid 'meta' entry: expected 1 finite channel means and positive standard deviations"),
        ("bad_size", {"preprocessing": {"mean": [0.1], "std": [1.0], "size": "28", "channels": 1}},
         "{path} has an invalid 'meta' entry: preprocessing channels and size must be positive ints"),
    ]:
        path = tmp_path / f"{name}.safetensors"
        ck.save({**state, "meta": {**state["meta"], **change}}, path)
        cases.append((path, message))
    for path, message in cases:
        err = one_line_error(*run(["eval", path], capsys), "eval")
        assert message.format(path=path) in err, err
        err = one_line_error(*run(["predict", path, __file__], capsys), "predict")
        assert message.format(path=path) in err, err


def test_eval_data_mismatch(tmp_path, capsys):
    rgb = tmp_path / "rgb.safetensors"
    _save_untrained(rgb, _meta("cifar10", 3, 32, [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]), in_channels=3, input_size=32)
    err = one_line_error(*run(["eval", rgb, "--data", "digits"], capsys), "eval")
    assert err == (f"cnnkit eval: error: data mismatch: {rgb} holds lenet5 (trained on cifar10) for 3×32×32 images, "
                   f"the digits test set has 1×28×28 images\n")
    # the data it was trained on, whose folder is missing
    err = one_line_error(*run(["eval", rgb, "--data-dir", tmp_path / "none"], capsys), "eval")
    assert f"no cifar10 data: the folder {tmp_path / 'none'} does not exist" in err
    # a model with fewer classes than the data's labels
    few = tmp_path / "few.safetensors"
    meta = _meta("digits", 1, 28, [0.2], [0.3])
    meta["model_kwargs"]["num_classes"] = 5
    _save_untrained(few, meta, num_classes=5)
    err = one_line_error(*run(["eval", few], capsys), "eval")
    assert "data mismatch" in err and "with 5 classes, the digits test set has labels up to 9" in err


# ----- predict ----------------------------------------------------------------------------------------------------
def test_predict_png_gives_the_models_classes(checkpoint, digit_images, tmp_path, capsys):
    images, labels = digit_images
    pixels = quantize(images[:, 0])
    paths = write_pngs(tmp_path, pixels)
    code, out, err = run(["predict", checkpoint, *paths], capsys)
    assert code == 0 and err == ""  # light digits on black: no note
    probabilities = Reference(checkpoint).probabilities(pixels[:, None] / 255.0)
    assert_predictions(out, paths, probabilities)
    accuracy = np.mean(probabilities.argmax(axis=1) == labels)
    assert accuracy > 0.3  # a real (if short) training run: far above chance
    # --top
    code, out, _ = run(["predict", checkpoint, paths[0], "--top", "5"], capsys)
    assert code == 0 and parse_predictions(out)[0][1][0][0] == str(probabilities[0].argmax())
    assert_predictions(out, paths[:1], probabilities[:1])
    code, out, _ = run(["predict", checkpoint, paths[0], "--top", "50"], capsys)
    assert code == 0 and len(parse_predictions(out)[0][1]) == 10


def test_predict_jpeg(checkpoint, digit_images, tmp_path, capsys):
    """An RGB JPEG (lossy) is read, converted to grayscale like Pillow's L mode, and classified."""
    pixels = quantize(digit_images[0][:6, 0])
    paths = []
    for i, p in enumerate(pixels):
        paths.append(tmp_path / f"d{i}.jpg")
        Image.fromarray(p).convert("RGB").save(paths[-1], quality=90)
    code, out, err = run(["predict", checkpoint, *paths], capsys)
    assert code == 0, err
    decoded = np.stack([np.asarray(Image.open(p).convert("L")) for p in paths])
    assert not np.array_equal(decoded, pixels)  # lossy: the test does not just see the PNG pixels again
    assert_predictions(out, paths, Reference(checkpoint).probabilities(decoded[:, None] / 255.0))


def test_invert(checkpoint, digit_images, tmp_path, capsys):
    pixels = quantize(digit_images[0][:4, 0])
    light = write_pngs(tmp_path, pixels, "light")
    dark = write_pngs(tmp_path, 255 - pixels, "dark")  # black strokes on white, as a user draws
    _, expected, _ = run(["predict", checkpoint, *light], capsys)
    code, out, err = run(["predict", checkpoint, *dark, "--invert"], capsys)
    assert code == 0 and err == ""
    assert out == expected.replace("light", "dark")
    # without --invert: a note per dark-on-light file says what to do (and the predictions are different)
    code, out, err = run(["predict", checkpoint, *dark], capsys)
    assert code == 0 and out != expected.replace("light", "dark")
    assert err.splitlines() == [f"note: {p} has a light background, the model was trained on light on black; pass "
                                f"--invert for dark drawings on a light background" for p in dark]
    code, _, err = run(["predict", checkpoint, light[0], "--invert"], capsys)
    assert code == 0 and "it looked light on dark before --invert: drop --invert?" in err


def test_digit_framing_of_a_drawing(checkpoint, digit_images, tmp_path, capsys):
    """A digit drawn at another size and place on a large white canvas is cropped, scaled to 20×20 and centred
    like the training digits: the same pixels wherever it is drawn; --no-frame resizes the whole canvas."""
    digit = quantize(digit_images[0][0, 0, 4:24, 4:24])  # the 20×20 box of a framed digit
    big = np.kron(digit, np.ones((5, 5), dtype=np.uint8))  # 100×100
    canvases = []
    for top, left, shape in [(10, 20, (180, 150)), (70, 45, (240, 300))]:
        canvas = np.zeros(shape, dtype=np.uint8)
        canvas[top:top + 100, left:left + 100] = big
        canvases.append(255 - canvas)  # black on white
    paths = write_pngs(tmp_path, canvases, "canvas")
    framed = [prepare_image(255 - c, 28, frame=True) for c in canvases]
    assert np.array_equal(framed[0], framed[1])
    x = framed[0][0]
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert not x[:4].any() and not x[-4:].any() and not x[:, :4].any() and not x[:, -4:].any()
    code, out, err = run(["predict", checkpoint, *paths, "--invert"], capsys)
    assert code == 0 and err == ""
    rows = parse_predictions(out)
    assert rows[0][1] == rows[1][1]
    assert_predictions(out, paths, Reference(checkpoint).probabilities(np.stack(framed)))
    # the same digit at its training size: the framing of the 100×100 drawing is close to the original
    original = digit_images[0][0, 0]
    assert np.abs(x - original).mean() < 0.05
    # --no-frame: the whole canvas is resized (bilinear) to 28×28
    code, out, _ = run(["predict", checkpoint, paths[1], "--invert", "--no-frame"], capsys)
    resized = np.asarray(Image.fromarray(canvases[1]).resize((28, 28), Image.Resampling.BILINEAR))
    assert code == 0
    assert_predictions(out, paths[1:], Reference(checkpoint).probabilities((255 - resized)[None, None] / 255.0))


def test_transparent_and_16_bit_images(checkpoint, digit_images, tmp_path, capsys):
    pixels = quantize(digit_images[0][:3, 0])
    reference = write_pngs(tmp_path, 255 - pixels, "white")
    # black strokes on a transparent background: laid on white
    rgba = np.zeros(pixels.shape + (4,), dtype=np.uint8)
    rgba[..., 3] = pixels  # opaque black where the digit is
    transparent = write_pngs(tmp_path, rgba, "alpha")
    # 16-bit grayscale PNGs, v · 257: the same 8-bit values
    sixteen = []
    for i, p in enumerate(255 - pixels):
        sixteen.append(tmp_path / f"deep{i}.png")
        Image.fromarray(p.astype(np.uint16) * 257).save(sixteen[-1])
    assert Image.open(sixteen[0]).mode.startswith("I")
    _, expected, _ = run(["predict", checkpoint, *reference, "--invert"], capsys)
    for paths, name in ((transparent, "alpha"), (sixteen, "deep")):
        code, out, err = run(["predict", checkpoint, *paths, "--invert"], capsys)
        assert code == 0 and err == ""
        assert out == expected.replace("white", name)


def test_class_names_and_rgb_resizing(tmp_path, capsys):
    """Fashion-MNIST's and CIFAR-10's class names; a 3-channel model gets RGB, resized to 32×32 and standardized
    per channel (distinct statistics per channel catch a channel-order mix-up)."""
    rng = np.random.default_rng(0)
    rgb_ckpt = tmp_path / "cifar.safetensors"
    mean, std = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]
    _save_untrained(rgb_ckpt, _meta("cifar10", 3, 32, mean, std), in_channels=3, input_size=32)
    photo = rng.integers(0, 256, size=(45, 60, 3), dtype=np.uint8)
    photo[:, :, 0] //= 3  # channels with different statistics
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    code, out, err = run(["predict", rgb_ckpt, path], capsys)
    assert code == 0 and err == ""
    resized = np.asarray(Image.fromarray(photo).resize((32, 32), Image.Resampling.BILINEAR))
    ref = Reference(rgb_ckpt)
    assert_predictions(out, [path], ref.probabilities(resized.transpose(2, 0, 1)[None] / 255.0), D.CIFAR10_CLASSES)
    # a grayscale file for an RGB model: replicated to 3 channels, as Pillow's RGB conversion
    gray = tmp_path / "gray.png"
    Image.fromarray(photo[..., 1]).save(gray)
    code, out, _ = run(["predict", rgb_ckpt, gray], capsys)
    as_rgb = np.repeat(np.asarray(Image.fromarray(photo[..., 1]).resize((32, 32), Image.Resampling.BILINEAR))
                       [None], 3, axis=0)
    assert code == 0
    assert_predictions(out, [gray], ref.probabilities(as_rgb[None] / 255.0), D.CIFAR10_CLASSES)

    fashion = tmp_path / "fashion.safetensors"
    _save_untrained(fashion, _meta("fashion-mnist", 1, 28, [0.29], [0.35]))
    item = tmp_path / "item.png"
    Image.fromarray(rng.integers(0, 256, size=(28, 28), dtype=np.uint8)).save(item)
    code, out, _ = run(["predict", fashion, item], capsys)
    assert code == 0
    pixels = np.asarray(Image.open(item))
    assert_predictions(out, [item], Reference(fashion).probabilities(pixels[None, None] / 255.0),
                       D.FASHION_MNIST_CLASSES)
    code, out, _ = run(["predict", fashion, item, "--top", "10"], capsys)
    assert code == 0 and sorted(name for name, _ in parse_predictions(out)[0][1]) == sorted(D.FASHION_MNIST_CLASSES)


def test_predict_errors(checkpoint, digit_images, tmp_path, capsys):
    good = write_pngs(tmp_path, quantize(digit_images[0][:1, 0]))[0]
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    truncated = tmp_path / "truncated.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(64, 64), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    for path, message in [
        (tmp_path / "missing.png", "no such image file: {path}"),
        (text, "{path} is not an image file that Pillow can read (PNG, JPEG, ...)"),
        (fake, "{path}"),
        (truncated, "cannot read the image {path}: "),
    ]:
        # the bad file after a good one: the good one is classified, the bad one reported, the exit code 1
        code, out, err = run(["predict", checkpoint, good, path], capsys)
        assert code == 1 and PREDICTION.match(out.strip()).group("path") == str(good) and len(out.splitlines()) == 1
        lines = err.splitlines()
        assert len(lines) == 2 and lines[0].startswith("cnnkit predict: error: ") and "Traceback" not in err
        assert message.format(path=path) in lines[0], err
        assert lines[1] == "cnnkit predict: 1 of 2 inputs could not be classified"
        err = one_line_error(*run(["predict", checkpoint, path], capsys), "predict")  # alone: one line
        assert message.format(path=path) in err, err
    rgb_ckpt = tmp_path / "four_channels.safetensors"
    _save_untrained(rgb_ckpt, _meta("cifar10", 4, 32, [0.5] * 4, [0.2] * 4), in_channels=4, input_size=32)
    err = one_line_error(*run(["predict", rgb_ckpt, good], capsys), "predict")
    assert "for 4-channel inputs; image files give 1 (grayscale) or 3 (RGB) channels" in err


@pytest.mark.parametrize("args, message", [
    (["predict"], "the following arguments are required: CHECKPOINT, IMAGE"),
    (["predict", "c.safetensors"], "the following arguments are required: IMAGE"),
    (["predict", "c.safetensors", "a.png", "--top", "0"], "argument --top: expected a positive integer, got 0"),
    (["eval"], "the following arguments are required: CHECKPOINT"),
    (["eval", "c.safetensors", "--data", "imagenet"], "argument --data/--dataset: invalid choice: 'imagenet'"),
    (["eval", "c.safetensors", "--batch-size", "0"], "argument --batch-size: expected a positive integer, got 0"),
])
def test_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert err.endswith(f"(see 'cnnkit {args[0]} --help')\n")


def test_help(capsys):
    for command in ("eval", "predict"):
        with pytest.raises(SystemExit) as e:
            cli.main([command, "--help"])
        assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cnnkit eval" in out and "confusion matrix" in out
    assert "usage: cnnkit predict" in out and "a digit drawn in black on white needs --invert" in out
