"""Generated ImageFolder data sets for the tests: small PNG/JPEG files whose class is visible in the pixels."""
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def image_of(k: int, i: int, size, mode: str) -> Image.Image:
    """Class ``k``'s ``i``-th image: noise with a bright bar in a class-dependent row band."""
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(1000 * k + i)
    pixels = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
    top = (k * h) // 4
    pixels[top:top + max(1, h // 4), :, k % 3] = 230
    image = Image.fromarray(pixels, "RGB")
    return image.convert("L") if mode == "L" else image


def make_image_folder(root, classes=("ant", "bee", "cat"), per_class=4, size=12, mode="RGB", suffix=".png",
                      splits=None) -> Path:
    """``root/<class>/<i><suffix>``, or with ``splits`` (e.g. {"train": 4, "test": 2}) ``root/<split>/<class>/``."""
    root = Path(root)
    layout = {None: per_class} if splits is None else splits
    for split, n in layout.items():
        base = root if split is None else root / split
        for k, name in enumerate(classes):
            folder = base / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image_of(k, i + (0 if split in (None, "train") else 100), size, mode).save(folder / f"{i:03d}{suffix}")
    return root


def large_png(path, width: int, height: int) -> Path:
    """A valid all-black 1-bit grayscale PNG of ``width`` × ``height`` pixels, deflated row block by row block:
    a 10,000 × 10,000 image is 12 KB on disk and never whole in memory while it is written."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    z, parts = zlib.compressobj(9), []
    for start in range(0, height, 1000):
        parts.append(z.compress(row * min(1000, height - start)))
    parts.append(z.flush())
    path = Path(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))
    return path
