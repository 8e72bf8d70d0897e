"""run_serve: which checkpoint it serves (training the default one first when asked), the socket, the real server."""
import json
import shutil
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

import cnnkit as ck
from cnnkit.serve import DEFAULT_CHECKPOINT
from cnnkit.serve.model import Predictor
from cnnkit.serve.run import bind, resolve_checkpoint, url_of
from tests.serve.drawings import ONE, drawing


def test_explicit_checkpoint(checkpoint, tmp_path):
    assert resolve_checkpoint(checkpoint) == checkpoint
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*missing.safetensors"):
        resolve_checkpoint(tmp_path / "missing.safetensors")


def test_default_checkpoint_is_trained_when_missing(checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="cnnkit train lenet5"):
        resolve_checkpoint()
    calls = []

    def train_default():  # stands in for `cnnkit train lenet5`, which writes DEFAULT_CHECKPOINT
        calls.append(1)
        DEFAULT_CHECKPOINT.parent.mkdir(parents=True)
        shutil.copy(checkpoint, DEFAULT_CHECKPOINT)

    assert resolve_checkpoint(train_default=train_default) == DEFAULT_CHECKPOINT
    assert calls == [1] and "training LeNet-5" in capsys.readouterr().err
    assert resolve_checkpoint(train_default=train_default) == DEFAULT_CHECKPOINT
    assert calls == [1]  # there is one now: not trained again


def test_training_that_writes_nothing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="wrote no checkpoint"):
        resolve_checkpoint(train_default=lambda: None)


def test_bind():
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert port > 0 and url_of(sock) == f"http://127.0.0.1:{port}/"
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port).close()
    finally:
        sock.close()
    for port in (-1, 70000, "80", True):
        with pytest.raises(ValueError, match="port must be"):
            bind("127.0.0.1", port)


def test_not_a_training_checkpoint(tmp_path):
    path = tmp_path / "weights.safetensors"
    ck.save({"w": ck.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        Predictor(path)


def test_run_serve_answers_over_http(server):
    """The real server (uvicorn, run_serve in a subprocess): health, model, a prediction and a refused upload."""
    with urllib.request.urlopen(server + "healthz", timeout=30) as r:
        assert json.load(r) == {"status": "ok", "model": "lenet5"}
    with urllib.request.urlopen(server + "api/model", timeout=30) as r:
        assert json.load(r)["parameters"] == 61_706
    request = urllib.request.Request(server + "api/predict", data=drawing(ONE), headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(request, timeout=60) as r:
        answer = json.load(r)
    assert answer["label"] == "1" and np.isclose(sum(answer["probabilities"]), 1.0)
    request = urllib.request.Request(server + "api/predict", data=b"GIF89a", headers={"Content-Type": "image/png"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400 and "not a PNG" in json.load(refused.value)["error"]
    with socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1].strip("/"))), timeout=30):
        pass  # still listening after a refused upload
