"""tests/clients/public.py: an archive is used only when its SHA-256 is the recorded one, and is unpacked once into
the cache (no registry needed here: the archive is put in the cache's download folder first)."""
from __future__ import annotations

import hashlib
import zipfile

import pytest

from tests.clients.public import ARCHIVES, Archive, Unavailable, fetch


def _wheel(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_archive_with_the_recorded_hash_is_unpacked_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_CLIENTS_CACHE", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    digest = _wheel(tmp_path / "downloads" / "pkg-1.0-py3-none-any.whl", {"pkg/model.py": "import torch\n"})
    archive = Archive("pkg", "1.0", "pkg-1.0-py3-none-any.whl", digest, "example/pkg")
    tree = fetch(archive)
    assert tree == tmp_path / "pkg-1.0" and (tree / "pkg" / "model.py").read_text() == "import torch\n"
    (tree / "pkg" / "model.py").write_text("changed")  # a second fetch uses the unpacked tree as it is
    assert fetch(archive) == tree and (tree / "pkg" / "model.py").read_text() == "changed"


def test_an_archive_with_another_hash_is_refused_and_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_CLIENTS_CACHE", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    path = tmp_path / "downloads" / "pkg-1.0-py3-none-any.whl"
    digest = _wheel(path, {"pkg/model.py": "import os\n"})
    archive = Archive("pkg", "1.0", path.name, "0" * 64, "example/pkg")
    with pytest.raises(Unavailable, match=f"SHA-256 {digest}, expected 0000"):
        fetch(archive)
    assert not path.exists() and not (tmp_path / "pkg-1.0").exists()


def test_unsafe_member_names_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_CLIENTS_CACHE", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    digest = _wheel(tmp_path / "downloads" / "bad-1.0-py3-none-any.whl", {"../escape.py": "x = 1\n"})
    with pytest.raises(Unavailable, match="unsafe member '../escape.py'"):
        fetch(Archive("bad", "1.0", "bad-1.0-py3-none-any.whl", digest, "example/bad"))
    assert not (tmp_path.parent / "escape.py").exists()


def test_every_recorded_archive_is_pinned():
    for archive in ARCHIVES.values():
        assert len(archive.sha256) == 64 and archive.filename.startswith(archive.package.replace("-", "_"))
        assert archive.version in archive.filename and archive.repository
