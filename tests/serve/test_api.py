"""The HTTP API of `cnnkit serve` through Starlette's test client: the answers, and a 4xx JSON for every bad upload."""
import base64
import io
import re
import struct
import threading
import zlib

import numpy as np
import pytest

import cnnkit as ck
from cnnkit.serve import upload
from tests.serve.drawings import ONE, ZERO, drawing, png_of

PNG = {"content-type": "image/png"}


def post(client, body, headers=PNG, query=""):
    return client.post("/api/predict" + query, content=body, headers=headers)


def decode_png(text):
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text))) as im:
        assert im.format == "PNG"
        return np.asarray(im)


# ----- answers ----------------------------------------------------------------------------------------------------
def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "model": "lenet5"}


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    # offline: the page loads nothing from elsewhere
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE)


def test_model_reports_the_checkpoint(client, checkpoint):
    info = client.get("/api/model").json()
    saved = ck.load(checkpoint)
    assert info["model"] == "lenet5" and info["data"] == "digits"
    assert info["parameters"] == 61_706
    assert info["epoch"] == saved["epoch"]
    assert info["test_accuracy"] == pytest.approx(saved["history"][-1]["val_acc"])
    assert info["test_accuracy"] > 0.9
    assert info["classes"] == [str(k) for k in range(10)]
    assert info["input_shape"] == [1, 28, 28]
    assert [layer["name"] for layer in info["layers"]] == [
        "features.c1", "features.s2", "features.c3", "features.s4", "features.c5", "classifier.f6",
        "classifier.output"]


def expected_layers():
    """(name, type, output shape) of the conv / pool / linear rows of ck.summary for LeNet-5 on one 28×28 image."""
    table = ck.summary(ck.models.lenet5(), (1, 28, 28), depth=None)
    kinds = ("Conv2d", "MaxPool2d", "Linear")
    return [(row.name, row.type, list(row.output_shape)) for row in table if row.leaf and row.type in kinds]


@pytest.mark.parametrize("strokes, digit", [(ONE, 1), (ZERO, 0)])
def test_predict_returns_every_layer(client, strokes, digit):
    r = post(client, drawing(strokes))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["prediction"] == digit and answer["label"] == str(digit)
    p = np.array(answer["probabilities"])
    assert p.shape == (10,) and np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert int(np.argmax(p)) == digit
    x = np.array(answer["input"]["pixels"])
    assert answer["input"]["shape"] == [1, 28, 28] and x.shape == (1, 28, 28)
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.5
    assert decode_png(answer["input"]["png"]).shape == (28, 28)
    assert x[0, :4].max() == 0 and x[0, -4:].max() == 0  # the digit is framed in the middle 20×20
    layers = answer["layers"]
    assert [(layer["name"], layer["type"], layer["shape"]) for layer in layers] == expected_layers()
    for layer in layers:
        shape = layer["shape"]
        if len(shape) == 4 and shape[2] * shape[3] > 1:  # one tile per feature map
            assert len(layer["tiles"]) == shape[1]
            assert all(decode_png(t).shape == tuple(shape[2:]) for t in layer["tiles"])
            assert "values" not in layer
        else:  # a vector: one 1×N strip and the numbers
            n = int(np.prod(shape[1:]))
            assert len(layer["tiles"]) == 1 and decode_png(layer["tiles"][0]).shape == (1, n)
            assert len(layer["values"]) == n
            assert layer["min"] == pytest.approx(min(layer["values"]), abs=1e-5)
        assert layer["min"] <= layer["max"]
    logits = np.array(layers[-1]["values"])
    z = np.exp(logits - logits.max())
    np.testing.assert_allclose(p, z / z.sum(), atol=1e-4)  # the last layer's outputs are the logits


def cli_predict(capsys, checkpoint, path, *flags):
    """`cnnkit predict`'s answer for the image file ``path``: the class and all ten percentages."""
    from cnnkit.cli import main

    assert main(["predict", str(checkpoint), str(path), "--top", "10", *flags]) == 0
    line = capsys.readouterr().out.strip()
    label, ranking = re.fullmatch(r".*: (\S+)\s+top-10: (.*)", line).groups()
    percent = {name: float(value) for name, value in re.findall(r"(\S+) ([\d.]+)%", ranking)}
    return label, [percent[str(k)] for k in range(10)]


@pytest.mark.parametrize("strokes", [ONE, ZERO, [[(60, 60), (220, 60), (110, 230)]]], ids=["one", "zero", "seven"])
def test_same_answer_as_cnnkit_predict(client, checkpoint, tmp_path, capsys, strokes):
    png = drawing(strokes)
    path = tmp_path / "drawing.png"
    path.write_bytes(png)
    label, percent = cli_predict(capsys, checkpoint, path)
    answer = post(client, png).json()
    assert answer["label"] == label
    np.testing.assert_allclose(100 * np.array(answer["probabilities"]), percent, atol=0.005 + 1e-9)


def test_invert_like_cnnkit_predict(client, checkpoint, tmp_path, capsys):
    from PIL import Image

    dark_on_light = 255 - np.asarray(Image.open(io.BytesIO(drawing(ZERO))))
    png = png_of(dark_on_light)
    path = tmp_path / "dark.png"
    path.write_bytes(png)
    label, percent = cli_predict(capsys, checkpoint, path, "--invert")
    answer = post(client, png, query="?invert=1").json()
    assert answer["label"] == label == "0" and answer["inverted"] is True
    assert answer["light_background"] is False
    np.testing.assert_allclose(100 * np.array(answer["probabilities"]), percent, atol=0.005 + 1e-9)
    assert post(client, png).json()["light_background"] is True  # not inverted: the page warns


def test_rgba_canvas_with_transparent_background(client):
    """A canvas never filled is transparent: transparent pixels are laid on white, as `cnnkit predict` does."""
    from PIL import Image

    ink = np.asarray(Image.open(io.BytesIO(drawing(ONE))))
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., 3] = ink  # black ink, transparent elsewhere
    answer = post(client, png_of(rgba), query="?invert=true").json()
    assert answer["prediction"] == 1


def test_concurrent_requests_match_serial_answers(app):
    """Eight threads at once get the answers one thread gets, and leave no hook and no grad switch behind."""
    predictor = app.state.predictor
    pngs = [drawing(ONE), drawing(ZERO)] * 8
    serial = [predictor.predict_png(png) for png in pngs[:2]]
    results = [None] * len(pngs)

    def work(i):
        results[i] = predictor.predict_png(pngs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pngs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, answer in enumerate(results):
        assert answer == serial[i % 2]
    assert ck.is_grad_enabled()
    assert all(not m._forward_hooks for m in predictor.model.modules())


# ----- bad uploads: 4xx with a JSON message -----------------------------------------------------------------------
def png_with_size(width, height):
    """A 1×1 PNG whose header claims ``width`` × ``height`` (with a valid CRC): a decompression bomb's header."""
    data = bytearray(png_of(np.zeros((1, 1), dtype=np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buffer, format="JPEG")
    return buffer.getvalue()


BAD = {
    "text/plain": (b"hello", {"content-type": "text/plain"}, 415),
    "no content type": (drawing(ONE), {"content-type": ""}, 415),
    "form data": (drawing(ONE), {"content-type": "multipart/form-data; boundary=x"}, 415),
    "jpeg as image/jpeg": (jpeg(), {"content-type": "image/jpeg"}, 415),
    "empty": (b"", PNG, 400),
    "not a png": (b"definitely not an image", PNG, 400),
    "a jpeg as image/png": (jpeg(), PNG, 400),
    "truncated png": (drawing(ONE)[:200], PNG, 400),
    "png signature only": (upload.PNG_SIGNATURE, PNG, 400),
    "1x1": (png_of(np.full((1, 1), 255, dtype=np.uint8)), PNG, 422),
    "thin 300x4": (png_of(np.eye(4, 300, dtype=np.uint8) * 255), PNG, 422),
    "blank": (png_of(np.zeros((280, 280), dtype=np.uint8)), PNG, 422),
    "decompression bomb": (png_with_size(100_000, 100_000), PNG, 413),
    "too many pixels": (png_with_size(4096, 4096), PNG, 413),
    "too large": (upload.PNG_SIGNATURE + bytes(upload.MAX_BYTES), PNG, 413),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_upload_is_a_4xx_with_a_message(client, case):
    body, headers, status = BAD[case]
    r = post(client, body, headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    message = r.json()["error"]
    assert isinstance(message, str) and message.startswith("predict:")


def test_too_large_without_content_length(client):
    """A chunked upload has no Content-Length: the size is checked while the body is read."""
    def chunks():
        yield upload.PNG_SIGNATURE
        for _ in range(upload.MAX_BYTES // 65536 + 2):
            yield bytes(65536)

    r = post(client, chunks())
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_content_length_is_checked_before_reading(client):
    r = client.post("/api/predict", content=b"x", headers={**PNG, "content-length": str(upload.MAX_BYTES + 1)})
    assert r.status_code == 413


@pytest.mark.parametrize("value, status", [("1", 200), ("no", 200), ("maybe", 400)])
def test_invert_flag(client, value, status):
    r = post(client, drawing(ONE), query=f"?invert={value}")
    assert r.status_code == status
    if status == 400:
        assert "invert" in r.json()["error"]


@pytest.mark.parametrize("method, path, status", [("GET", "/api/predict", 405), ("POST", "/api/model", 405),
                                                  ("GET", "/nothing", 404), ("GET", "/static/none.js", 404)])
def test_unknown_routes_answer_json(client, method, path, status):
    r = client.request(method, path)
    assert r.status_code == status and "error" in r.json()
