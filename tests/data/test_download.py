"""The downloader against a local http.server: checksums, mirror fallback, atomic writes, dataset downloads."""
import functools
import gzip
import hashlib
import re
import socket
import struct
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cnnkit.data.datasets import DownloadError, cifar10, download, fashion_mnist, md5sum, mnist
from cnnkit.data.datasets.cifar import CIFAR10_ARCHIVE


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; yields (base URL, served folder, request log)."""
    for var in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(www)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www, httpd.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def dead_mirror():
    """A URL on a port where nothing listens (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/files"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


def test_good_mirror_saves_a_verified_file(server, tmp_path):
    url, www, requests = server
    (www / "good").mkdir()
    (www / "good" / "data.bin").write_bytes(PAYLOAD)
    root = tmp_path / "dl"
    path = download("data.bin", md5(PAYLOAD), [url + "/good/"], root)
    assert path == root / "data.bin" and path.read_bytes() == PAYLOAD
    assert md5sum(path) == md5(PAYLOAD)
    assert requests == ["/good/data.bin"]
    assert sorted(p.name for p in root.iterdir()) == ["data.bin"]  # no temp file left


def test_dead_mirror_then_good_one(server, tmp_path, dead_mirror):
    url, www, requests = server
    (www / "data.bin").write_bytes(PAYLOAD)
    path = download("data.bin", md5(PAYLOAD).upper(), [dead_mirror, url], tmp_path / "dl", timeout=5)
    assert path.read_bytes() == PAYLOAD and requests == ["/data.bin"]


def test_wrong_checksum_mirror_is_skipped(server, tmp_path):
    url, www, requests = server
    for folder, data in (("bad", PAYLOAD[::-1]), ("good", PAYLOAD)):
        (www / folder).mkdir()
        (www / folder / "data.bin").write_bytes(data)
    root = tmp_path / "dl"
    path = download("data.bin", md5(PAYLOAD), [url + "/bad", url + "/good"], root)
    assert path.read_bytes() == PAYLOAD
    assert requests == ["/bad/data.bin", "/good/data.bin"]
    assert sorted(p.name for p in root.iterdir()) == ["data.bin"]


def test_no_good_mirror_lists_every_failure_and_leaves_no_file(server, tmp_path, dead_mirror):
    url, www, _ = server
    (www / "bad").mkdir()
    (www / "bad" / "data.bin").write_bytes(PAYLOAD[:1000])
    root = tmp_path / "dl"
    with pytest.raises(DownloadError) as info:
        download("data.bin", md5(PAYLOAD), [url + "/bad", dead_mirror, url + "/missing"], root, timeout=5)
    msg = str(info.value)
    assert "download of data.bin failed on every mirror" in msg
    assert re.search(re.escape(url + "/bad/data.bin") + r": wrong checksum \(MD5 " + md5(PAYLOAD[:1000])
                     + ", expected " + md5(PAYLOAD) + r"\)", msg)
    assert re.search(re.escape(dead_mirror + "/data.bin") + r": cannot connect", msg)
    assert re.search(re.escape(url + "/missing/data.bin") + r": HTTP error 404", msg)
    assert list(root.iterdir()) == []  # no partial or temporary file
    assert isinstance(info.value, OSError)


def test_http_404_mirror_alone(server, tmp_path):
    url, _, requests = server
    with pytest.raises(DownloadError, match=re.escape(url + "/nothing.bin") + r": HTTP error 404 \(File not found\)"):
        download("nothing.bin", "0" * 32, [url], tmp_path / "dl")
    assert requests == ["/nothing.bin"] and list((tmp_path / "dl").iterdir()) == []


def test_present_verified_file_is_not_downloaded_again(server, tmp_path):
    url, www, requests = server
    (www / "data.bin").write_bytes(PAYLOAD)
    root = tmp_path / "dl"
    root.mkdir()
    (root / "data.bin").write_bytes(PAYLOAD)
    assert download("data.bin", md5(PAYLOAD), [url], root).read_bytes() == PAYLOAD
    assert requests == []
    # a present file with the wrong checksum is replaced by a verified download
    (root / "data.bin").write_bytes(b"stale")
    assert download("data.bin", md5(PAYLOAD), url, root).read_bytes() == PAYLOAD  # a single mirror as a string
    assert requests == ["/data.bin"]


def test_download_argument_errors(tmp_path):
    with pytest.raises(DownloadError, match="no mirrors"):
        download("x.bin", "0" * 32, [], tmp_path)
    for bad in ("../x.bin", "a/b", "", ".."):
        with pytest.raises(ValueError, match="download: filename must be a plain file name"):
            download(bad, "0" * 32, ["http://127.0.0.1:1"], tmp_path)
    with pytest.raises(DownloadError, match="unknown url type"):
        download("x.bin", "0" * 32, ["nonsense"], tmp_path)


def _idx(arr):
    return struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


@pytest.mark.parametrize("loader", [mnist, fashion_mnist])
def test_idx_dataset_download_end_to_end(server, tmp_path, dead_mirror, loader):
    url, www, requests = server
    r = np.random.default_rng(4)
    files, expected = {}, {}
    for prefix, n in (("train", 20), ("t10k", 6)):
        x = r.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = r.integers(0, 10, n, dtype=np.uint8)
        expected[prefix] = (x, y)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(_idx(x))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(_idx(y))
    for name, data in files.items():
        (www / name).write_bytes(data)
    md5s = {name: md5(data) for name, data in files.items()}
    root = tmp_path / "data"
    ds = loader(root, train=True, download=True, mirrors=[dead_mirror, url], md5s=md5s)
    np.testing.assert_array_equal(ds.arrays[0][:, 0], expected["train"][0] / np.float32(255))
    np.testing.assert_array_equal(ds.arrays[1], expected["train"][1])
    test = loader(root, train=False, download=True, mirrors=[url], md5s=md5s)
    np.testing.assert_array_equal(test.arrays[1], expected["t10k"][1])
    assert sorted(requests) == sorted("/" + n for n in files)
    loader(root, train=True, download=True, mirrors=[url], md5s=md5s)  # present: no new request
    assert len(requests) == 4
    assert sorted(p.name for p in root.iterdir()) == sorted(files)


def test_idx_download_with_the_wrong_checksum_fails_cleanly(server, tmp_path):
    url, www, _ = server
    (www / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros((2, 28, 28), np.uint8))))
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="train-images-idx3-ubyte.gz: wrong checksum .*expected f68b3c2dcbeaaa9f"):
        mnist(root, download=True, mirrors=[url])  # the official checksum does not match our small file
    assert list(root.iterdir()) == []
    with pytest.raises(ValueError, match="mnist: md5s has no checksum for train-images-idx3-ubyte.gz"):
        mnist(root, download=True, mirrors=[url], md5s={})


def test_cifar10_download_end_to_end(server, tmp_path):
    import io
    import tarfile
    url, www, requests = server
    r = np.random.default_rng(8)
    records = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = r.integers(0, 256, (2, 3073), dtype=np.uint8)
        rec[:, 0] %= 10
        records[name] = rec
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, rec in records.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = rec.nbytes
            tar.addfile(info, io.BytesIO(rec.tobytes()))
    (www / CIFAR10_ARCHIVE).write_bytes(buf.getvalue())
    root = tmp_path / "cifar"
    test = cifar10(root, train=False, download=True, mirrors=[url], md5s={CIFAR10_ARCHIVE: md5(buf.getvalue())})
    rec = records["test_batch.bin"]
    np.testing.assert_array_equal(test.arrays[1], rec[:, 0])
    np.testing.assert_array_equal(test.arrays[0].reshape(2, -1), rec[:, 1:] / np.float32(255))
    train = cifar10(root, train=True)
    assert len(train) == 10 and requests == ["/" + CIFAR10_ARCHIVE]
