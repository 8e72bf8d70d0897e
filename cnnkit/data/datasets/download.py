"""Downloading dataset files from a list of mirrors, verified by MD5, written atomically.

Each mirror is tried in turn: a mirror that cannot be reached, answers with an HTTP
error, or serves a file whose MD5 differs from the expected one is skipped (and the
reason remembered); if no mirror delivers a verified file, ``DownloadError`` lists
what every mirror did. A file only ever appears under its final name after its
checksum has been verified.
"""
from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from pathlib import Path

from ...io.atomic import atomic_output


class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum."""


class _ChecksumMismatch(Exception):
    """Raised inside the atomic write so that the unverified file is discarded, never renamed into place."""


def md5sum(path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def mirror_list(mirrors, default) -> list:
    """``mirrors`` as a list of base URLs (one string is one mirror); ``default`` when it is None."""
    if mirrors is None:
        return list(default)
    if isinstance(mirrors, (str, Path)):
        return [str(mirrors)]
    return [str(m) for m in mirrors]


def download(filename: str, md5: str, mirrors, root, timeout: float = 30.0) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with the right MD5 into ``root``.

    ``mirrors`` are base URLs (``mirror/filename`` is fetched). A file already at ``root/filename`` with the
    right MD5 is returned without any download. Raises ``DownloadError`` (naming every mirror and why it
    failed) when no mirror delivers a verified file; nothing is left in ``root`` then.
    """
    if not isinstance(filename, str) or not filename or "/" in filename or "\\" in filename \
            or filename in (".", ".."):
        raise ValueError(f"download: filename must be a plain file name, got {filename!r}")
    md5 = str(md5).lower()
    mirrors = mirror_list(mirrors, [])
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / filename
    if target.is_file() and md5sum(target) == md5:
        return target
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            with atomic_output(target) as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                h = hashlib.md5(usedforsecurity=False)
                for block in iter(lambda: resp.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
                got = h.hexdigest()
                if got != md5:
                    raise _ChecksumMismatch(f"MD5 {got}, expected {md5}")
            return target
        except _ChecksumMismatch as e:
            failures.append(f"{url}: wrong checksum ({e})")
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP error {e.code} ({e.reason})")
        except urllib.error.URLError as e:
            failures.append(f"{url}: cannot connect ({e.reason})")
        except (OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {type(e).__name__}: {e}")
    raise DownloadError(f"download of {filename} failed on every mirror:\n  " + "\n  ".join(failures or ["no mirrors"]))
