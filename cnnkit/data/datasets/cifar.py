"""CIFAR-10 from its binary version (no pickle).

Each file ``data_batch_1.bin`` .. ``data_batch_5.bin`` (train) and ``test_batch.bin``
holds records of 3073 bytes: one label byte (0-9) and a 32×32×3 image stored
channel by channel (1024 red, 1024 green, 1024 blue bytes, rows in order).
"""
from __future__ import annotations

import shutil
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ...io.atomic import atomic_output
from ..dataset import ArrayDataset
from .download import download, mirror_list
from .idx import DatasetError

CIFAR10_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
RECORD = 1 + 3 * 32 * 32


def read_cifar_batch(path) -> tuple:
    """Images (n, 3, 32, 32) uint8 and labels (n,) int64 of one binary batch file."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"dataset file {path} does not exist") from None
    except OSError as e:
        raise DatasetError(f"dataset file {path} cannot be read ({e.strerror or e})") from None
    if raw.size == 0 or raw.size % RECORD:
        raise DatasetError(f"{path}: {raw.size} bytes is not a whole number of {RECORD}-byte CIFAR-10 records "
                           f"(truncated or not a CIFAR-10 binary file)")
    records = raw.reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= 10:
        raise DatasetError(f"{path}: label {int(labels.max())} is outside [0, 10)")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _extract(archive: Path, root: Path) -> list:
    """Extract only the regular ``cifar-10-batches-bin/*.bin`` files of the archive into ``root``.

    The archive is untrusted: a member is written only to ``root/cifar-10-batches-bin/<its base name>``, never
    to a path the archive chooses, and links, devices, absolute names and names with ``..`` are skipped.
    Each file is written atomically. Returns the paths written.
    """
    written = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = Path(member.name)
                if member.isfile() and name.parent.name == CIFAR10_FOLDER and name.suffix == ".bin" \
                        and ".." not in name.parts and not name.is_absolute():
                    target = root / CIFAR10_FOLDER / name.name
                    with tar.extractfile(member) as src, atomic_output(target) as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    written.append(target)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DatasetError(f"{archive} is a corrupt or truncated archive ({e})") from None
    return written


def cifar10(root="data/cifar10", train: bool = True, download: bool = False, mirrors=None, transform=None,
            target_transform=None, md5s=None) -> ArrayDataset:
    """CIFAR-10: images (N, 3, 32, 32) float32 in [0, 1], labels int64 in [0, 10).

    Reads ``root/cifar-10-batches-bin/data_batch_{1..5}.bin`` (``train=True``, 50,000 images) or
    ``test_batch.bin`` (10,000). With ``download=True`` and files missing, ``cifar-10-binary.tar.gz`` is
    fetched into ``root`` from ``mirrors`` (base URLs tried in order; default ``CIFAR10_MIRRORS``), verified
    against ``md5s`` (a dict file name -> MD5 hex digest; default the official ``{CIFAR10_ARCHIVE:
    CIFAR10_MD5}``), and its .bin files are extracted (an archive already in ``root`` is reused if its
    checksum matches).
    """
    root = Path(root)
    folder = root / CIFAR10_FOLDER
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    if not all((folder / n).exists() for n in names):
        if not download:
            raise DatasetError(f"cifar10: CIFAR-10 files {names} not found in {folder}; pass download=True to "
                               f"fetch them")
        archive = download_archive(root, mirrors, md5s)
        _extract(archive, root)
        missing = [n for n in names if not (folder / n).exists()]
        if missing:
            raise DatasetError(f"{archive} does not contain {CIFAR10_FOLDER}/{missing[0]}")
    parts = [read_cifar_batch(folder / n) for n in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return ArrayDataset(images.astype(np.float32) / 255.0, labels, transform=transform,
                        target_transform=target_transform)


def download_archive(root, mirrors=None, md5s=None) -> Path:
    """Fetch (or reuse) the verified ``cifar-10-binary.tar.gz`` in ``root``."""
    md5s = {CIFAR10_ARCHIVE: CIFAR10_MD5} if md5s is None else md5s
    if CIFAR10_ARCHIVE not in md5s:
        raise ValueError(f"cifar10: md5s has no checksum for {CIFAR10_ARCHIVE}")
    return download(CIFAR10_ARCHIVE, md5s[CIFAR10_ARCHIVE], mirror_list(mirrors, CIFAR10_MIRRORS), root)
