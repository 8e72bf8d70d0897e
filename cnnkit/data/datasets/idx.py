"""MNIST and Fashion-MNIST from the standard IDX files (gzipped or not).

IDX format (big-endian): two zero bytes, a type code (0x08 = unsigned byte), the
number of dimensions d, then d 32-bit sizes, then the values in C order. Images are
``idx3`` (N, 28, 28), labels ``idx1`` (N,). Every header field, the file size and
the label range are checked; a corrupt or truncated file raises
``DatasetError`` naming it.
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..dataset import ArrayDataset
from .download import download, mirror_list

MNIST_MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
FASHION_MNIST_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"]
MNIST_MD5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
FASHION_MNIST_MD5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                     "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                     "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                     "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")


class DatasetError(ValueError):
    """A dataset file is missing, corrupt or truncated."""


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"dataset file {path} does not exist") from None
    except OSError as e:
        raise DatasetError(f"dataset file {path} cannot be read ({e.strerror or e})") from None


class _Inflater:
    """A gzip file decompressed on demand, never more than asked for at once: a header that promises more values
    than the stream holds costs no allocation beyond what the stream really expands to. Concatenated gzip
    members are read one after the other, as ``gzip.decompress`` does."""

    def __init__(self, raw: bytes, path: Path):
        self.path, self.rest = path, raw
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def read(self, n: int) -> bytes:
        parts, have = [], 0
        try:
            while have < n:
                if self.d.eof:
                    if not self.d.unused_data:
                        break
                    self.rest = self.d.unused_data
                    self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                chunk = self.d.decompress(self.rest, min(n - have, 1 << 20))
                self.rest = self.d.unconsumed_tail
                if not chunk and not self.rest and not self.d.eof:
                    raise DatasetError(f"{self.path} is a corrupt or truncated gzip file (the stream ends early)")
                parts.append(chunk)
                have += len(chunk)
        except zlib.error as e:
            raise DatasetError(f"{self.path} is a corrupt or truncated gzip file ({e})") from None
        return b"".join(parts)

    def count_rest(self) -> int:
        """The number of bytes still to come, decompressed a megabyte at a time and dropped."""
        total = 0
        while chunk := self.read(1 << 20):
            total += len(chunk)
        return total


def read_idx(path, expected_ndim: int) -> np.ndarray:
    """An unsigned-byte IDX file as an array of ``expected_ndim`` dims, with every header field checked.

    A gzipped file is decompressed as a stream, the header first: no more bytes are inflated than the header
    promises (plus one, to notice trailing data), so a small corrupt file cannot ask for a large allocation.
    """
    path = Path(path)
    raw = _read_bytes(path)
    gz = _Inflater(raw, path) if raw[:2] == b"\x1f\x8b" else None
    head_len = 4 + 4 * expected_ndim
    head = gz.read(head_len) if gz else raw[:head_len]
    if len(head) < head_len:
        raise DatasetError(f"{path}: {len(head)} bytes is too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", head[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path}: bad IDX magic number 0x{head[:4].hex()} (expected 0x000008{expected_ndim:02x}: "
                           f"unsigned bytes, {expected_ndim} dims)")
    if ndim != expected_ndim:
        raise DatasetError(f"{path}: IDX file has {ndim} dims, expected {expected_ndim}")
    dims = struct.unpack(f">{ndim}I", head[4:head_len])
    size = math.prod(dims)
    body = gz.read(size) if gz else memoryview(raw)[head_len:]
    held = len(body) + (gz.count_rest() if gz else 0)
    if held != size:
        raise DatasetError(f"{path}: header promises {size} values {dims}, the file holds {held} "
                           f"({'truncated' if held < size else 'trailing bytes'})")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_idx_pair(images_path, labels_path, num_classes: int = 10):
    """Images (N, H, W) uint8 and labels (N,) int64 from an idx3 and an idx1 file, checked against each other."""
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    if labels.size and labels.max() >= num_classes:
        raise DatasetError(f"{labels_path}: label {int(labels.max())} is outside [0, {num_classes})")
    return images, labels.astype(np.int64)


def _find(root: Path, name: str) -> Path:
    for candidate in (root / name, root / name.removesuffix(".gz")):
        if candidate.exists():
            return candidate
    return root / name


def _idx_dataset(name: str, root, train: bool, download_files: bool, mirrors, md5s: dict, transform,
                 target_transform):
    root = Path(root)
    prefix = "train" if train else "t10k"
    files = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    paths = []
    for file in files:
        path = _find(root, file)
        if not path.exists():
            if not download_files:
                raise DatasetError(f"{name}: {path} does not exist; pass download=True to fetch it (or copy the IDX "
                                   f"files there)")
            if file not in md5s:
                raise ValueError(f"{name}: md5s has no checksum for {file}")
            path = download(file, md5s[file], mirrors, root)
        paths.append(path)
    images, labels = load_idx_pair(*paths)
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return ArrayDataset(x, labels, transform=transform, target_transform=target_transform)


def mnist(root="data/mnist", train: bool = True, download: bool = False, mirrors=None, transform=None,
          target_transform=None, md5s=None) -> ArrayDataset:
    """MNIST handwritten digits: images (N, 1, 28, 28) float32 in [0, 1], labels int64 in [0, 10).

    Reads ``train-images-idx3-ubyte.gz`` / ``train-labels-idx1-ubyte.gz`` (``train=True``) or the ``t10k-``
    pair from ``root``, gzipped or not (``.gz`` dropped). With ``download=True`` missing files are fetched from
    ``mirrors`` (a list of base URLs tried in order; default ``MNIST_MIRRORS``) and verified against ``md5s``
    (a dict file name -> MD5 hex digest; default the official checksums ``MNIST_MD5``).
    """
    return _idx_dataset("mnist", root, train, download, mirror_list(mirrors, MNIST_MIRRORS),
                        MNIST_MD5 if md5s is None else md5s, transform, target_transform)


def fashion_mnist(root="data/fashion_mnist", train: bool = True, download: bool = False, mirrors=None,
                  transform=None, target_transform=None, md5s=None) -> ArrayDataset:
    """Fashion-MNIST (Zalando): same files, format and sizes as MNIST (see ``mnist``), 10 clothing classes
    (``FASHION_MNIST_CLASSES``); default mirrors ``FASHION_MNIST_MIRRORS`` and checksums ``FASHION_MNIST_MD5``."""
    return _idx_dataset("fashion_mnist", root, train, download, mirror_list(mirrors, FASHION_MNIST_MIRRORS),
                        FASHION_MNIST_MD5 if md5s is None else md5s, transform, target_transform)
