"""Generated ImageFolder data sets for the tests: small PNG/JPEG files whose class is visible in the pixels."""
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
