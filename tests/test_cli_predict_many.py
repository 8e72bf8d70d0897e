"""``cnnkit predict`` on many files: directories and patterns expanded, bad files reported while the others are
classified (exit 1 at the end), blank and tiny images warned about, and ``--json``."""
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

import cnnkit.data.datasets
from cnnkit import cli
from cnnkit.data import ArrayDataset
from cnnkit.data.image_files import MIN_SIDE, expand_image_paths, image_concerns, images_in

PREDICTION = re.compile(r"^(?P<path>.+): (?P<label>\S+)   top-3: (?P<top>.+)$")


def _small_digits(train=True, **kwargs):
    d = cnnkit.data.datasets.digits(train=train)
    n = 300 if train else 30
    return ArrayDataset(d.arrays[0][:n].copy(), d.arrays[1][:n].copy())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "--quiet", "--epochs", "2", "--out", str(out)], datasets={"digits": _small_digits},
                    stdout=io.StringIO(), stderr=io.StringIO()) == 0
    return out / "checkpoint.safetensors"


@pytest.fixture
def folder(tmp_path):
    """Four digit PNGs (28×28, as the model's input), a text file, a hidden PNG and a sub-folder with a PNG."""
    images = cnnkit.data.datasets.digits(train=False).arrays[0][:4, 0]
    pixels = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)
    d = tmp_path / "scans"
    (d / "sub").mkdir(parents=True)
    for i, name in enumerate(["b.png", "a.PNG", "c.jpeg", "d.bmp"]):
        Image.fromarray(pixels[i]).save(d / name)
    (d / "notes.txt").write_text("not an image")
    Image.fromarray(pixels[0]).save(d / ".hidden.png")
    Image.fromarray(pixels[0]).save(d / "sub" / "e.png")
    return d


def predict(checkpoint, *args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["predict", str(checkpoint), *map(str, args)], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def lines_by_path(out):
    return {m.group("path"): m.group(0) for m in map(PREDICTION.match, out.splitlines())}


def test_a_directory_is_its_image_files(checkpoint, folder):
    expected = [str(folder / name) for name in ("a.PNG", "b.png", "c.jpeg", "d.bmp")]
    assert images_in(folder) == expected  # sorted; not notes.txt, .hidden.png or sub/e.png
    code, out, err = predict(checkpoint, folder)
    assert code == 0 and err == ""
    assert [PREDICTION.match(line).group("path") for line in out.splitlines()] == expected
    # the same lines as for the files named one by one
    code, one_by_one, _ = predict(checkpoint, *expected)
    assert code == 0 and out == one_by_one


def test_a_pattern_is_expanded_here(checkpoint, folder):
    code, out, err = predict(checkpoint, folder / "[ab].*", folder / "*.bmp")
    assert code == 0 and err == ""
    _, direct, _ = predict(checkpoint, folder / "a.PNG", folder / "b.png", folder / "d.bmp")
    assert out == direct and len(out.splitlines()) == 3
    assert [p for _, p, _ in expand_image_paths([str(folder / "*")])][0] == \
        [str(folder / n) for n in ("a.PNG", "b.png", "c.jpeg", "d.bmp", "notes.txt")] + images_in(folder / "sub")


def test_bad_inputs_are_reported_and_the_others_classified(checkpoint, folder, tmp_path):
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    args = [folder / "a.PNG", tmp_path / "missing.png", broken, tmp_path / "empty", tmp_path / "*.gif",
            folder / "b.png"]
    code, out, err = predict(checkpoint, *args)
    assert code == 1
    _, good, _ = predict(checkpoint, folder / "a.PNG", folder / "b.png")
    assert out == good  # both good files, in order
    assert err.splitlines() == [
        f"cnnkit predict: error: no such image file: {tmp_path / 'missing.png'}",
        err.splitlines()[1],
        f"cnnkit predict: error: {tmp_path / 'empty'} is a directory without image files (.jpg, .jpeg, .png, "
        f".ppm, .bmp, .pgm, .tif, .tiff, .webp, .gif)",
        f"cnnkit predict: error: {tmp_path / '*.gif'}: no file matches this pattern",
        "cnnkit predict: 4 of 6 inputs could not be classified"]
    assert err.splitlines()[1] == (f"cnnkit predict: error: {broken} is not an image file that Pillow can read "
                                   f"(PNG, JPEG, ...)")


def test_blank_and_tiny_images_are_warned_about(checkpoint, tmp_path):
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp_path / "white.png")
    Image.fromarray(np.arange(15, dtype=np.uint8).reshape(3, 5) * 10).save(tmp_path / "tiny.png")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "dot.png")
    ok = np.zeros((28, 28), np.uint8)
    ok[8:20, 12:16] = 255
    Image.fromarray(ok).save(tmp_path / "one.png")
    code, out, err = predict(checkpoint, tmp_path)
    assert code == 0  # warned, not failed: every image is classified
    assert [PREDICTION.match(line).group("path") for line in out.splitlines()] == \
        [str(tmp_path / n) for n in ("dot.png", "one.png", "tiny.png", "white.png")]
    assert err.splitlines() == [
        f"cnnkit predict: warning: {tmp_path / 'dot.png'} is blank: every pixel is 0: its class means little",
        f"cnnkit predict: warning: {tmp_path / 'dot.png'} is tiny: 1×1 pixels, a side below 8: its class means "
        f"little",
        f"cnnkit predict: warning: {tmp_path / 'tiny.png'} is tiny: 5×3 pixels, a side below 8: its class means "
        f"little",
        f"cnnkit predict: warning: {tmp_path / 'white.png'} is blank: every pixel is 255: its class means little"]


def test_image_concerns():
    assert MIN_SIDE == 8
    assert image_concerns(np.zeros((8, 8), np.uint8)) == ["blank: every pixel is 0"]
    assert image_concerns(np.eye(8, dtype=np.uint8)) == []
    assert image_concerns(np.eye(7, 9, dtype=np.uint8)) == ["tiny: 9×7 pixels, a side below 8"]
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 0] = 200
    assert image_concerns(red) == ["blank: every pixel is (200, 0, 0)"]  # constant, though min != max
    red[0, 0, 1] = 1
    assert image_concerns(red) == []


def test_json(checkpoint, folder, tmp_path):
    Image.fromarray(np.full((28, 28), 7, np.uint8)).save(tmp_path / "grey.png")
    args = [folder / "a.PNG", tmp_path / "missing.png", tmp_path / "grey.png", folder / "b.png"]
    code, out, err = predict(checkpoint, "--json", "--top", "4", *args)
    assert code == 1
    doc = json.loads(out)  # the whole of stdout is the document
    assert [e["file"] for e in doc] == list(map(str, args))
    assert doc[1] == {"file": str(tmp_path / "missing.png"), "error": f"no such image file: {tmp_path / 'missing.png'}"}
    assert doc[2]["warnings"] == [f"{tmp_path / 'grey.png'} is blank: every pixel is 7: its class means little"]
    assert doc[0]["warnings"] == doc[3]["warnings"] == []
    assert err.splitlines()[0] == f"cnnkit predict: error: no such image file: {tmp_path / 'missing.png'}"
    # the same classes and probabilities as the plain output
    _, plain, _ = predict(checkpoint, "--top", "4", folder / "a.PNG", tmp_path / "grey.png", folder / "b.png")
    for entry, line in zip([doc[0], doc[2], doc[3]], plain.splitlines()):
        assert set(entry) == {"file", "class", "index", "probability", "top", "warnings"}
        assert len(entry["top"]) == 4 and entry["top"][0] == {k: entry[k] for k in ("class", "index", "probability")}
        ps = [t["probability"] for t in entry["top"]]
        assert ps == sorted(ps, reverse=True) and 0 < sum(ps) <= 1 + 1e-12
        assert [t["class"] for t in entry["top"]] == [str(t["index"]) for t in entry["top"]]
        text = " | ".join(f"{t['class']} {100 * t['probability']:.2f}%" for t in entry["top"])
        assert line == f"{entry['file']}: {entry['class']}   top-4: {text}"


def test_help_documents_the_json_schema_and_the_rules():
    out = io.StringIO()
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"], stdout=out)
    text = out.getvalue()
    assert '"top": [{"class": str, "index": int, "probability": float}, ...]' in text
    assert "a side\nbelow 8 pixels" in text or "below 8 pixels" in text.replace("\n", " ")
    assert "--json" in text and "pattern" in text


def test_more_files_than_one_chunk(checkpoint, folder, tmp_path):
    """A directory of 70 images (more than the 64 classified together) gives the same lines as the files one by
    one in smaller runs."""
    many = tmp_path / "many"
    many.mkdir()
    source = (folder / "a.PNG").read_bytes(), (folder / "b.png").read_bytes()
    for i in range(70):
        (many / f"{i:03d}.png").write_bytes(source[i % 2])
    code, out, _ = predict(checkpoint, many)
    assert code == 0 and len(out.splitlines()) == 70
    _, a, _ = predict(checkpoint, many / "000.png")
    _, b, _ = predict(checkpoint, many / "001.png")
    first = {0: a.split(": ", 1)[1], 1: b.split(": ", 1)[1]}
    for i, line in enumerate(out.splitlines()):
        assert line + "\n" == f"{many / f'{i:03d}.png'}: {first[i % 2]}"
