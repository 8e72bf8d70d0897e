"""``cnnkit filter``, ``cnnkit explain conv|pool|learn-edge`` and ``cnnkit visualize`` through ``cli.main``: the
printed numbers and the written pictures against scipy and torch (computed here from the same inputs), and the
error paths (argparse errors exit 2, run-time errors exit 1, one line each)."""
import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image
from scipy import ndimage

import cnnkit as ck
from cnnkit import cli
from cnnkit.data import ArrayDataset
from cnnkit.data import datasets as D
from cnnkit.insight import explain_conv, sample_image, summary
from cnnkit.insight.visualize import tile_origin


def run(args, datasets=None):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], datasets=datasets, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def one_line_error(args, command, match, datasets=None):
    code, out, err = run(args, datasets)
    assert code == 1 and "Traceback" not in err, err
    assert err.startswith(f"cnnkit {command}: error: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(match, err), err
    return err


def usage_error(args, command, match, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f"cnnkit {command}: error: ") and err.count("\n") == 1, err
    assert re.search(match, err), err


def correlate_same(image, kernel):
    """The float64 'same' cross-correlation of every channel, zeros outside (scipy), rounded and clipped to uint8."""
    planes = image.astype(np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    if planes.ndim == 2:
        out = ndimage.correlate(planes, k, mode="constant", cval=0.0)
    else:
        out = np.stack([ndimage.correlate(planes[..., c], k, mode="constant", cval=0.0) for c in range(3)], axis=2)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def matrix_after(text, header, rows):
    """The ``rows`` lines of numbers printed after the line that starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 1
    return np.array([[float(v) for v in line.split()] for line in lines[start:start + rows]])


# ----- filter ---------------------------------------------------------------------------------------------
def test_filter_default_photo_gaussian(tmp_path):
    out = tmp_path / "blur.png"
    code, text, err = run(["filter", "--kernel", "gaussian", "--size", "5", "--sigma", "2", "--out", out])
    assert code == 0 and err == ""
    a = np.arange(5) - 2
    g = np.exp(-(a[:, None] ** 2 + a[None, :] ** 2) / 8.0)
    g /= g.sum()
    np.testing.assert_allclose(matrix_after(text, "kernel gaussian (5×5):", 5), g, rtol=5e-4)   # 4 digits printed
    assert f"wrote {out}: scikit-learn's sample photo china.jpg (640×427) | filtered" in text
    photo = sample_image()
    written = np.asarray(Image.open(out))
    assert written.shape == (427, 2 * 640 + 8, 3)
    np.testing.assert_array_equal(written[:, :640], photo)
    assert (written[:, 640:648] == 255).all()
    np.testing.assert_array_equal(written[:, 648:], correlate_same(photo, g))


def test_filter_gray_file_with_npy_literal_and_name(tmp_path):
    src = tmp_path / "in.png"
    gray = np.random.default_rng(3).integers(0, 256, size=(9, 11), dtype=np.uint8)
    Image.fromarray(gray).save(src)
    sharpen = np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    npy = tmp_path / "k.npy"
    np.save(npy, sharpen)
    for spec in (npy, "[[0,-1,0],[-1,5,-1],[0,-1,0]]", "sharpen"):
        out = tmp_path / "o.png"
        code, text, _ = run(["filter", src, "--kernel", spec, "--out", out])
        assert code == 0 and "(11×9, grayscale)" in text
        np.testing.assert_array_equal(matrix_after(text, "kernel ", 3), sharpen)
        with Image.open(out) as im:
            assert im.mode == "L"
            written = np.asarray(im)
        np.testing.assert_array_equal(written[:, :11], gray)
        np.testing.assert_array_equal(written[:, 19:], correlate_same(gray, sharpen))
    # a 1×3 edge kernel on the notes' white-to-black edge: +255 (clipped) where white turns black
    edge = np.tile(np.array([255, 255, 255, 0, 0, 0], np.uint8), (4, 1))
    Image.fromarray(edge).save(src)
    assert run(["filter", src, "--kernel", "edge_1x3", "--out", tmp_path / "e.png"])[0] == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "e.png"))[:, 14:],
                                  np.tile([0, 0, 255, 255, 0, 0], (4, 1)))


def test_filter_errors(tmp_path, capsys):
    out = tmp_path / "x.png"
    one_line_error(["filter", "--kernel", "gaussian", "--size", "4", "--out", out], "filter", "size must be odd")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.ones((2, 2)))
    one_line_error(["filter", "--kernel", bad, "--out", out], "filter", r"kernel file .*bad\.npy: expected odd")
    np.save(bad, np.ones((3, 3, 3)))
    one_line_error(["filter", "--kernel", bad, "--out", out], "filter", "expected a 2-D array")
    one_line_error(["filter", "--kernel", tmp_path / "none.npy", "--out", out], "filter", "no such file")
    one_line_error(["filter", "--kernel", "[[1, 2], [3]]", "--out", out], "filter", "2-D array")
    one_line_error(["filter", "--kernel", "blurry", "--out", out], "filter", "unknown kernel 'blurry'")
    one_line_error(["filter", "--kernel", "sharpen", "--size", "5", "--out", out], "filter", "fixed 3×3")
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    one_line_error(["filter", fake, "--kernel", "sharpen", "--out", out], "filter", "not an image file")
    one_line_error(["filter", tmp_path / "missing.png", "--kernel", "sharpen", "--out", out], "filter",
                   "no such image file")
    one_line_error(["filter", "--kernel", "sharpen", "--out", tmp_path / "x.jpg"], "filter", "expected a .png")
    assert not out.exists()
    usage_error(["filter", "--kernel", "gaussian", "--size", "0"], "filter", "--size: expected a positive integer",
                capsys)
    usage_error(["filter", "--kernel", "gaussian", "--sigma", "-1"], "filter", "--sigma: expected a finite positive",
                capsys)
    usage_error(["filter"], "filter", "required: --kernel", capsys)


# ----- explain conv ---------------------------------------------------------------------------------------
STEP = re.compile(r"^step \d+: o\[(\d+), (\d+), (\d+)\]")
SUM = re.compile(r"^  sum: .* = (-?\d+(?:\.\d+)?)$")


def printed_steps(text):
    """{(filter, row, col): the printed sum} of every step."""
    steps, key = {}, None
    for line in text.splitlines():
        if m := STEP.match(line):
            key = tuple(int(v) for v in m.groups())
        elif (m := SUM.match(line)) and key is not None:
            steps[key] = float(m.group(1))
            key = None
    return steps


@pytest.mark.parametrize("argv, shape, kernel, stride, padding, dilation, k", [
    (["--input", "5x5x3", "--padding", "1", "--stride", "2", "--channels-out", "2"], (5, 5, 3), 3, 2, 1, 1, 2),
    (["--input", "4x4", "--padding", "1"], (4, 4), 3, 1, 1, 1, 1),
    (["--input", "7×6x2", "--kernel", "2x2", "--dilation", "2", "--seed", "5"], (7, 6, 2), 2, 1, 0, 2, 1),
])
def test_explain_conv_every_sum_and_the_gemm_equal_torch(argv, shape, kernel, stride, padding, dilation, k):
    code, text, _ = run(["explain", "conv", *argv])
    assert code == 0
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 0
    ex = explain_conv(shape, kernel, stride, padding, dilation, k, seed)      # the same seeded numbers
    d = shape[2] if len(shape) == 3 else 1
    np.testing.assert_array_equal(matrix_after(text, "input channel 0", ex.padded.shape[1]), ex.padded[0])
    ref = TF.conv2d(torch.from_numpy(ex.input[None]), torch.from_numpy(ex.weight), torch.from_numpy(ex.bias),
                    stride=stride, padding=padding, dilation=dilation)[0].numpy()
    steps = printed_steps(text)
    assert len(steps) == ref.size
    for (o, i, j), total in steps.items():
        assert total == ref[o, i, j]
    ho, wo = ref.shape[1:]
    gemm = matrix_after(text, "one GEMM:", ho * wo)
    np.testing.assert_array_equal(gemm.T.reshape(ref.shape), ref)
    cols = matrix_after(text, "im2col:", ho * wo)
    assert cols.shape == (ho * wo, d * kernel * kernel)
    assert f"parameters: (F·F·D + 1)·K = ({kernel}·{kernel}·{d} + 1)·{k} = {(kernel * kernel * d + 1) * k}" in text
    assert f"→  {ho}×{wo}×{k}" in text and "agree: yes" in text


def test_explain_conv_the_notes_examples():
    """Seeds 001/002/004: 5×5×3, padding 1, two 3×3×3 filters, stride 2 -> 3×3×2; 4×4 padded by 1 keeps 4×4."""
    _, text, _ = run(["explain", "conv", "--input", "5x5x3", "--padding", "1", "--stride", "2", "--channels-out", "2"])
    assert "H' = (H − F + 2P)/S + 1 = (5 − 3 + 2·1)/2 + 1 = 3" in text and "→  3×3×2" in text
    assert "(3·3·3 + 1)·2 = 56" in text and len(printed_steps(text)) == 18
    _, text, _ = run(["explain", "conv", "--input", "4x4", "--padding", "1"])
    assert "(4 − 3 + 2·1)/1 + 1 = 4" in text and "→  4×4×1 (the input's size)" in text


def test_explain_conv_png(tmp_path):
    png = tmp_path / "steps.png"
    code, text, _ = run(["explain", "conv", "--input", "4x4", "--padding", "1", "--png", png])
    assert code == 0 and text.rstrip().endswith(f"wrote {png}")
    with Image.open(png) as im:          # 16 steps and the output: 17 frames, 6 per row, 3 rows of 2.5 in at 80 dpi
        assert im.format == "PNG" and im.size == (round(6 * 2.4 * 80), round((3 * 2.5 + 0.4) * 80))


def test_explain_conv_errors(tmp_path, capsys):
    one_line_error(["explain", "conv", "--input", "2x2", "--kernel", "3"], "explain", "does not fit the 2×2 input")
    one_line_error(["explain", "conv", "--input", "80x80"], "explain", "for small layers")
    one_line_error(["explain", "conv", "--input", "4x4", "--png", tmp_path / "a.jpg"], "explain", "expected a .png")
    usage_error(["explain", "conv", "--input", "5"], "explain conv", "--input: expected HxW or HxWxC", capsys)
    usage_error(["explain", "conv", "--input", "5x5x3x2"], "explain conv", "--input: expected", capsys)
    usage_error(["explain", "conv", "--input", "5x5", "--kernel", "3x2"], "explain conv", "square", capsys)
    usage_error(["explain", "conv", "--input", "5x5", "--stride", "0"], "explain conv", "--stride", capsys)
    usage_error(["explain", "conv", "--input", "5x5", "--padding", "-1"], "explain conv", "--padding", capsys)
    usage_error(["explain", "conv"], "explain conv", "required: --input", capsys)
    usage_error(["explain", "deconv"], "explain", "invalid choice: 'deconv'", capsys)


# ----- explain pool ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("argv, shape, k, s", [
    (["--input", "4x4"], (4, 4), 2, 2),
    (["--input", "5x6", "--kernel", "3", "--stride", "1"], (5, 6), 3, 1),
    (["--input", "6x5", "--kernel", "3x3", "--stride", "2", "--seed", "4"], (6, 5), 3, 2),
])
def test_explain_pool_routed_error_equals_torch_autograd(mode, argv, shape, k, s):
    code, text, _ = run(["explain", "pool", *argv, "--mode", mode])
    assert code == 0 and "same as cnnkit's autograd: yes" in text
    ho, wo = (shape[0] - k) // s + 1, (shape[1] - k) // s + 1
    x = matrix_after(text, "input x:", shape[0])
    dy = matrix_after(text, "upstream error dy", ho)
    assert x.shape == shape and dy.shape == (ho, wo)
    xt = torch.from_numpy(x[None, None]).requires_grad_(True)
    y = (TF.max_pool2d if mode == "max" else TF.avg_pool2d)(xt, k, s)
    y.backward(torch.from_numpy(dy[None, None]))
    # printed with 4 significant digits: within half a unit of the 4th digit
    np.testing.assert_allclose(matrix_after(text, "output y:", ho), y.detach().numpy()[0, 0], rtol=5e-4, atol=0)
    np.testing.assert_allclose(matrix_after(text, "routed error dx", shape[0]), xt.grad.numpy()[0, 0], rtol=5e-4,
                               atol=0)
    assert f"{ho}×{wo}" in text


def test_explain_pool_errors(capsys):
    one_line_error(["explain", "pool", "--input", "4x4", "--kernel", "5"], "explain", "5×5 window does not fit")
    usage_error(["explain", "pool", "--input", "4x4x1"], "explain pool", "--input: expected HxW", capsys)
    usage_error(["explain", "pool", "--input", "4x4", "--mode", "min"], "explain pool", "invalid choice", capsys)
    usage_error(["explain", "pool", "--input", "4x4", "--stride", "0"], "explain pool", "--stride", capsys)


# ----- explain learn-edge ---------------------------------------------------------------------------------
def test_explain_learn_edge_ends_near_the_true_kernel(capsys):
    code, text, _ = run(["explain", "learn-edge"])
    assert code == 0
    losses = [float(v) for v in re.findall(r"^step +\d+: loss (\d+\.\d+)", text, re.M)]
    assert len(losses) == 8 and all(b <= a for a, b in zip(losses, losses[1:])) and losses[0] > losses[-1]
    k = [float(v) for v in re.search(r"^learned K = \[(-?\d\.\d+), (-?\d\.\d+)\]", text, re.M).groups()]
    assert abs(k[0] - 1) < 1e-2 and abs(k[1] + 1) < 1e-2
    code, text, _ = run(["explain", "learn-edge", "--steps", "6", "--every", "3", "--lr", "0.01", "--seed", "2"])
    assert code == 0 and re.findall(r"^step +(\d+)", text, re.M) == ["3", "6"]
    usage_error(["explain", "learn-edge", "--lr", "2"], "explain learn-edge", "learning rate in", capsys)
    usage_error(["explain", "learn-edge", "--steps", "0"], "explain learn-edge", "--steps", capsys)


# ----- visualize ------------------------------------------------------------------------------------------
def _digits_slice(train=True, **kwargs):
    d = D.digits(train=train)
    n = 64 if train else 8
    return ArrayDataset(d.arrays[0][:n].copy(), d.arrays[1][:n].copy())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A LeNet-5 checkpoint written by `cnnkit train` (one epoch on 64 digits) and the data sets it used."""
    out = tmp_path_factory.mktemp("run")
    datasets = {"digits": _digits_slice}
    code, _, err = run(["train", "--epochs", "1", "--quiet", "--schedule", "none", "--out", out], datasets)
    assert code == 0, err
    return out / "checkpoint.safetensors", datasets


def torch_c1(checkpoint, image01):
    """features.c1's maps (6, 28, 28) for one image in [0, 1], in torch float64 from the checkpoint's numbers."""
    state = ck.load(checkpoint)
    prep = state["meta"]["preprocessing"]
    x = (np.asarray(image01, np.float64) - prep["mean"][0]) / prep["std"][0]
    w, b = (torch.from_numpy(np.asarray(state["model"][f"features.c1.{n}"], np.float64)) for n in ("weight", "bias"))
    return TF.conv2d(torch.from_numpy(x.reshape(1, 1, 28, 28)), w, b, padding=2)[0].numpy(), state


def minmax255(a):
    return (a - a.min()) / (a.max() - a.min()) * 255


def test_visualize_test_image(trained, tmp_path):
    checkpoint, datasets = trained
    out = tmp_path / "vis"
    code, text, err = run(["visualize", checkpoint, "--index", "3", "--filters", "--feature-maps",
                           "--receptive-field", "features.c3:4,5", "--out", out], datasets)
    assert code == 0 and err == "", err
    image, label = _digits_slice(train=False).arrays[0][3], _digits_slice(train=False).arrays[1][3]
    assert text.startswith(f"lenet5 (epoch 1, trained on digits) on digits test image 3 (class {label}):\n")
    names = ["filters_features.c1.png"] + [f"features_features.{n}.png" for n in ("c1", "s2", "c3", "s4", "c5")]
    names += ["receptive_field_features.c3.png", "index.md"]
    assert text.splitlines()[1:] == [f"wrote {out / n}" for n in names]
    maps, state = torch_c1(checkpoint, image)

    # the filter grid: 6 tiles (2 rows of 3), each the min-max normalized 5×5 kernel
    grid = np.asarray(Image.open(out / "filters_features.c1.png"))
    scale = grid.shape[1] // (1 + 3 * 6)
    assert grid.shape == (scale * (1 + 2 * 6), scale * (1 + 3 * 6))
    grid = grid[::scale, ::scale].astype(np.float64)
    weight = np.asarray(state["model"]["features.c1.weight"], np.float64)
    tiles = [grid[r:r + 5, c:c + 5] for r, c in (tile_origin(i, 6, (5, 5)) for i in range(6))]
    assert len(tiles) == 6 and (grid[0] == 255).all()
    for tile, w in zip(tiles, weight[:, 0]):
        np.testing.assert_allclose(tile, minmax255(w), atol=0.5 + 1e-9)

    # the feature maps of c1: each tile the normalized map of torch's convolution of the standardized image
    fm = np.asarray(Image.open(out / "features_features.c1.png"))
    scale = fm.shape[1] // (1 + 3 * 29)
    fm = fm[::scale, ::scale].astype(np.float64)
    for i, m in enumerate(maps):
        r, c = tile_origin(i, 6, (28, 28))
        np.testing.assert_allclose(fm[r:r + 28, c:c + 28], minmax255(m), atol=0.5 + 1e-3)

    # the receptive field: the red rectangle is summary's RF (14) at jump 2, start 4.5: rows 6–19, columns 8–21
    s = summary(ck.models.get("lenet5"), (1, 28, 28))
    assert s["features.c3"].receptive_field == (14, 14) and s["features.c3"].jump == (2, 2)
    rf = np.asarray(Image.open(out / "receptive_field_features.c3.png"))
    scale = rf.shape[0] // 28
    red = np.all(rf == (255, 0, 0), axis=2)
    rows, cols = np.flatnonzero(red.any(axis=1)), np.flatnonzero(red.any(axis=0))
    assert (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) == (6 * scale, 20 * scale, 8 * scale, 22 * scale)
    picture = rf[::scale, ::scale, 1]                                  # green: the image outside the red
    quantized = np.rint(image[0] * 255)
    assert np.array_equal(picture[:6], quantized[:6]) and np.array_equal(picture[20:], quantized[20:])
    index = (out / "index.md").read_text()
    assert "unit (4, 5) of `features.c3` sees rows 6–19, columns 8–21 of the input (receptive field 14×14, jump 2)" \
        in index
    assert "the 6 kernels of `features.c1` (weights 6×1×5×5)" in index and "`features.c3`, 16 maps of 10×10" in index


def test_visualize_image_file_defaults_to_filters_and_maps(trained, tmp_path):
    checkpoint, _ = trained
    image = _digits_slice(train=False).arrays[0][5]
    pixels = np.rint(image[0] * 255).astype(np.uint8)
    src = tmp_path / "digit.png"
    Image.fromarray(pixels).save(src)
    out = tmp_path / "vis"
    code, text, _ = run(["visualize", checkpoint, src, "--out", out])
    assert code == 0 and text.startswith(f"lenet5 (epoch 1, trained on digits) on {src}:")
    assert [line.rsplit("/", 1)[-1] for line in text.splitlines()[1:]] == [
        "filters_features.c1.png"] + [f"features_features.{n}.png" for n in ("c1", "s2", "c3", "s4", "c5")] + [
        "index.md"]
    maps, _ = torch_c1(checkpoint, pixels / 255.0)             # a 28×28 file is taken as is
    fm = np.asarray(Image.open(out / "features_features.c1.png"))
    scale = fm.shape[1] // (1 + 3 * 29)
    np.testing.assert_allclose(fm[::scale, ::scale][1:29, 1:29], minmax255(maps[0]), atol=0.5 + 1e-3)


def test_visualize_errors(trained, tmp_path, capsys):
    checkpoint, datasets = trained
    out = tmp_path / "vis"
    one_line_error(["visualize", checkpoint, "--receptive-field", "features.c9", "--out", out], "visualize",
                   r"no layer 'features.c9' .* valid layers: features, features.c1, ", datasets)
    one_line_error(["visualize", checkpoint, "--receptive-field", "features.c3:10,0", "--out", out], "visualize",
                   "unit \\(10, 0\\) is outside features.c3's 10×10 map", datasets)
    fake = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(fake)
    fake.write_bytes(fake.read_bytes()[:300])                     # a truncated PNG
    one_line_error(["visualize", checkpoint, fake, "--out", out], "visualize", "cannot read the image .* truncated")
    fake.write_text("not an image")
    one_line_error(["visualize", checkpoint, fake, "--out", out], "visualize", "not an image file")
    one_line_error(["visualize", checkpoint, tmp_path / "none.png", "--out", out], "visualize", "no such image file")
    one_line_error(["visualize", checkpoint, "--index", "8", "--out", out], "visualize",
                   "--index 8: the digits test set has 8 images", datasets)
    one_line_error(["visualize", tmp_path / "none.safetensors", "--out", out], "visualize", "no checkpoint")
    assert not out.exists()                                      # no error leaves a picture behind
    usage_error(["visualize", checkpoint, "--receptive-field", "features.c3:4"], "visualize", "LAYER:ROW,COL", capsys)
