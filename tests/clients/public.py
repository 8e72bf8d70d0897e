"""Public PyTorch code, fetched from the package registry at test time and never committed.

Each archive is named by package, version, file name and SHA-256: ``pip download --no-deps`` brings the file into
a cache directory outside the repository (``$CNNKIT_CLIENTS_CACHE``, else ``$XDG_CACHE_HOME/cnnkit-clients``, else
``~/.cache/cnnkit-clients``), its hash is checked, and it is unpacked there with zipfile/tarfile (a wheel is a zip,
an sdist a .tar.gz); the unpacked tree is renamed into place only when complete, so an interrupted run leaves no
half tree. Only the list below and our harness are in the repository.

When the registry cannot be reached the client tests skip with that reason, except under CI (``CI`` set in the
environment), where they fail: CI must really run them.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Archive:
    package: str
    version: str
    filename: str
    sha256: str
    repository: str     # where the code is developed
    pip_args: tuple = ()  # a platform wheel is pinned to one platform so that its file (and hash) is one file

    @property
    def key(self) -> str:
        return f"{self.package}-{self.version}"


ARCHIVES = {
    "torchvision": Archive(
        "torchvision", "0.29.1", "torchvision-0.29.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "2cb678029a5dd45afbbfa662fce49736827d52be33242b5a8a731e0db02ccdf5", "github.com/pytorch/vision",
        ("--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
         "--implementation", "cp", "--abi", "cp311")),
    "pytorchcv": Archive(
        "pytorchcv", "0.0.74", "pytorchcv-0.0.74-py3-none-any.whl",
        "9043ef0bd73870234361363522192be60a1938b836030415cc3dd85e254d3ac2", "github.com/osmr/imgclsmob"),
}


class Unavailable(RuntimeError):
    """The archive could not be downloaded or did not match its hash."""


def cache_dir() -> Path:
    if os.environ.get("CNNKIT_CLIENTS_CACHE"):
        return Path(os.environ["CNNKIT_CLIENTS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnnkit-clients"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(archive: Archive, dest: Path) -> Path:
    """The archive file in ``dest``, downloaded by pip if it is not there yet; its SHA-256 checked."""
    path = dest / archive.filename
    if not path.exists():
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", "--disable-pip-version-check",
                   "-d", tmp, *archive.pip_args, f"{archive.package}=={archive.version}"]
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise Unavailable(f"pip download {archive.key} failed: {e}") from None
            got = Path(tmp) / archive.filename
            if out.returncode != 0 or not got.exists():
                tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
                raise Unavailable(f"pip download {archive.key} did not give {archive.filename}: {tail}")
            os.replace(got, path)
    digest = _sha256(path)
    if digest != archive.sha256:
        path.unlink()
        raise Unavailable(f"{archive.filename}: SHA-256 {digest}, expected {archive.sha256}")
    return path


def _unpack(path: Path, into: Path) -> None:
    if path.suffix == ".whl" or path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise Unavailable(f"{path.name}: unsafe member {name!r}")
            z.extractall(into)
    else:
        with tarfile.open(path) as t:
            t.extractall(into, filter="data")


def fetch(name: str | Archive) -> Path:
    """The unpacked tree of archive ``name`` (a key of :data:`ARCHIVES`, or an :class:`Archive`): a directory (for
    an sdist, the directory holding its top folder)."""
    archive = name if isinstance(name, Archive) else ARCHIVES[name]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    tree = root / archive.key
    if (tree / ".sha256").is_file() and (tree / ".sha256").read_text() == archive.sha256:
        return tree
    path = _download(archive, root / "downloads")
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{archive.key}-"))
    try:
        _unpack(path, tmp)
        (tmp / ".sha256").write_text(archive.sha256)
        if tree.exists():
            shutil.rmtree(tree, ignore_errors=True)  # an incomplete or stale tree
        try:
            os.replace(tmp, tree)
        except OSError:  # another process put a tree there first
            if not ((tree / ".sha256").is_file() and (tree / ".sha256").read_text() == archive.sha256):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return tree


def require(name: str) -> Path:
    """:func:`fetch`, or skip the calling test when the registry cannot be reached (fail under CI)."""
    import pytest

    try:
        return fetch(name)
    except Unavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the public client programs: {e}")
        pytest.skip(f"public client code not available: {e}")
