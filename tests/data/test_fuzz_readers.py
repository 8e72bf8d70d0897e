"""The dataset and image readers on hypothesis-mutated files: only the documented errors, no hang, no
allocation larger than the file justifies.

- ``read_idx`` (plain and gzipped) and ``read_cifar_batch``: ``DatasetError`` (a ValueError) or a result whose
  size the file accounts for; the peak allocation stays within a small multiple of the file (or, gzipped,
  of what the stream really expands to: the header's promise is never allocated up front).
- ``read_image``: ``ValueError`` (a corrupt file; ``TooLargeError`` for a header beyond twice Pillow's pixel limit) or
  pixels; Pillow's own exceptions never escape.
"""
from __future__ import annotations

import gzip
import io
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cnnkit.data.datasets import DatasetError, read_idx
from cnnkit.data.datasets.cifar import RECORD, read_cifar_batch
from cnnkit.data.images import TooLargeError, read_image
from tests.fuzz_helpers import FUZZ, files


def _idx(dims, values: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims) + values


IDX3 = _idx((2, 4, 3), bytes(range(24)))
IDX1 = _idx((5,), bytes([1, 0, 9, 3, 2]))
CIFAR = bytes([3]) + bytes(range(256)) * 12 + bytes(RECORD - 1 - 3072) + bytes([7]) + bytes(3072)


def _traced(fn):
    """fn()'s result or exception, and the peak bytes allocated while it ran."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    except Exception as e:
        return e, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _check_idx(tmp_path_factory, data: bytes, ndim: int, gz: bool):
    path = tmp_path_factory.mktemp("idx") / ("f-idx.gz" if gz else "f-idx")
    raw = gzip.compress(data, mtime=0) if gz else data
    path.write_bytes(raw)
    out, peak = _traced(lambda: read_idx(path, ndim))
    if isinstance(out, BaseException):
        assert isinstance(out, DatasetError), repr(out)
    else:
        assert out.ndim == ndim and out.size == len(data) - 4 - 4 * ndim
    assert peak < 4 * len(data) + (1 << 20), f"{peak} bytes for a file of {len(raw)} ({len(data)} inflated)"


@FUZZ
@given(st.one_of(files(IDX3), files(IDX1)), st.sampled_from([1, 3]), st.booleans())
def test_idx_reader_on_mutated_files(tmp_path_factory, data, ndim, gz):
    _check_idx(tmp_path_factory, data, ndim, gz)


@FUZZ
@given(files(gzip.compress(IDX3, mtime=0)))
def test_idx_reader_on_mutated_gzip_streams(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("gz") / "f-idx.gz"
    path.write_bytes(data)
    out, peak = _traced(lambda: read_idx(path, 3))
    if isinstance(out, BaseException):
        assert isinstance(out, DatasetError), repr(out)
    assert peak < 64 * len(data) + (1 << 20), f"{peak} bytes for a {len(data)}-byte file"


def test_a_header_promising_gigabytes_allocates_nothing_of_the_sort(tmp_path_factory):
    """4 × 10⁹ values promised by a 1-KB gzip that inflates to 1 MB: refused with a bounded allocation."""
    data = _idx((1000, 2000, 2000), bytes(1 << 20))
    for gz in (False, True):
        path = tmp_path_factory.mktemp("big") / "f-idx"
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        out, peak = _traced(lambda p=path: read_idx(p, 3))
        assert isinstance(out, DatasetError) and "truncated" in str(out), repr(out)
        assert peak < 8 << 20, peak


@FUZZ
@given(files(CIFAR))
def test_cifar_reader_on_mutated_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cifar") / "data_batch_1.bin"
    path.write_bytes(data)
    out, peak = _traced(lambda: read_cifar_batch(path))
    if isinstance(out, BaseException):
        assert isinstance(out, DatasetError), repr(out)
    else:
        images, labels = out
        assert images.shape == (len(data) // RECORD, 3, 32, 32) and labels.max() < 10
    assert peak < 4 * len(data) + (1 << 20)


def _image_bytes(fmt: str, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    im = Image.fromarray(pixels).convert(mode)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


IMAGES = {"PNG": _image_bytes("PNG"), "PNG-LA": _image_bytes("PNG", "LA"), "JPEG": _image_bytes("JPEG"),
          "GIF": _image_bytes("GIF", "P"), "BMP": _image_bytes("BMP"), "TIFF": _image_bytes("TIFF")}


@pytest.mark.parametrize("fmt", sorted(IMAGES))
def test_image_reader_on_mutated_files(tmp_path_factory, fmt):
    @FUZZ
    @given(files(IMAGES[fmt]), st.sampled_from([1, 3]))
    def run(data, channels):
        path = tmp_path_factory.mktemp("img") / f"x.{fmt.split('-')[0].lower()}"
        path.write_bytes(data)
        out, peak = _traced(lambda: read_image(path, channels))
        if isinstance(out, BaseException):
            assert type(out) in (ValueError, TooLargeError), repr(out)  # TooLargeError: a mutated header
            assert str(path) in str(out)
        else:
            assert out.dtype == np.uint8 and out.ndim == (2 if channels == 1 else 3)
        assert peak < (64 << 20), f"{peak} bytes for a {len(data)}-byte image"

    run()


def test_image_header_claiming_a_huge_canvas_is_refused_before_decoding(tmp_path):
    """A small PNG whose header claims 60000 × 60000 pixels (beyond Pillow's decompression-bomb limit) or 9000 ×
    9000 (within it): a ValueError naming the file, and no buffer of that size."""
    png = _image_bytes("PNG")
    for side in (60000, 9000):
        ihdr = bytearray(png[8:8 + 25])  # length, 'IHDR', width, height, ..., crc
        ihdr[8:16] = side.to_bytes(4, "big") * 2
        ihdr[21:25] = zlib.crc32(bytes(ihdr[4:21])).to_bytes(4, "big")
        path = tmp_path / f"huge{side}.png"
        path.write_bytes(png[:8] + bytes(ihdr) + png[33:])
        out, peak = _traced(lambda p=path: read_image(p, 3))
        assert isinstance(out, ValueError) and str(path) in str(out), repr(out)
        # refused from the header, before Pillow allocates the canvas (its C allocations are not traced); Pillow
        # itself refuses the larger claim when it opens the file
        expected = (f"claims {side} × {side} pixels" if side == 9000
                    else "3,600,000,000 pixels is more than twice Pillow's decompression-bomb limit")
        assert expected in str(out), str(out)
        assert peak < (64 << 20), f"{peak} bytes allocated for a {side} x {side} claim"
