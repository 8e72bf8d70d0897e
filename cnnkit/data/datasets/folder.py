"""A folder of one's own images: torchvision's ``ImageFolder`` layout, read lazily with a bounded cache.

    root/cat/001.png                 one sub-folder per class; the classes are the sub-folders' names,
    root/cat/002.jpg                 sorted (class_to_idx = {"cat": 0, "dog": 1})
    root/dog/xyz.png

    data = ImageFolder("root", transform=T.Compose([T.ConvertImageDtype(), T.Normalize(mean, std)]))
    x, y = data[0]                   x: the transformed image, y: its class index

A sample is decoded (Pillow, :func:`cnnkit.data.images.read_image`) when it is first asked for, not when the
folder is listed, and the decoded arrays are kept in a least-recently-used cache of at most ``cache_bytes``
bytes, so the second epoch does not decode again when the data set fits. The default ``loader`` gives uint8
(C, H, W) (C = ``channels``, 3 as torchvision's RGB conversion, or 1 for grayscale); ``size`` makes every
image ``size`` × ``size`` (the shorter side resized to ``size``, then the centre cropped), so samples can be
batched.

A data set with splits is a folder holding ``train/`` and optionally ``val/`` (or ``valid/``) and ``test/``,
each in the layout above (:func:`find_splits`); their classes are the training split's.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..dataset import Dataset
from ..images import open_image, read_image, resize_center_crop

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "find_classes", "find_splits", "image_channels", "make_dataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
SPLIT_NAMES = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}


def find_classes(directory) -> tuple:
    """(classes, class_to_idx): the sub-folders of ``directory`` (hidden ones left out), sorted, and their
    indices. ``FileNotFoundError`` if there is no such folder or it has no sub-folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"ImageFolder: no folder {directory}")
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"ImageFolder: {directory} has no class folders (expected {directory}/<class>/"
                                f"<image>, one sub-folder per class)")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx: dict, extensions=IMG_EXTENSIONS, is_valid_file=None,
                 allow_empty: bool = False) -> list:
    """The (path, class index) pairs of the files under ``directory/<class>/`` (recursively, sorted), kept if
    their name ends with one of ``extensions`` (case-insensitive) or, with ``is_valid_file``, if it says so.
    A class folder that is missing or empty raises ``FileNotFoundError`` unless ``allow_empty``."""
    directory = Path(directory)
    if is_valid_file is None:
        suffixes = tuple(e.lower() for e in extensions)

        def is_valid_file(path):
            return str(path).lower().endswith(suffixes)
    samples = []
    for name in sorted(class_to_idx, key=class_to_idx.get):
        folder = directory / name
        found = []
        if folder.is_dir():
            for base, dirs, files in sorted(os.walk(folder, followlinks=True)):
                dirs.sort()
                found.extend((os.path.join(base, f), class_to_idx[name]) for f in sorted(files)
                             if not f.startswith(".") and is_valid_file(os.path.join(base, f)))
        if not found and not allow_empty:
            raise FileNotFoundError(f"ImageFolder: no image files in {folder} (extensions: {', '.join(extensions)})")
        samples.extend(found)
    return samples


def find_splits(root) -> dict:
    """The splits of a data-set folder: ``{"train": path, "val": path, "test": path}`` for the sub-folders
    ``train/``, ``val/`` (or ``valid/``, ``validation/``) and ``test/`` that exist, or ``{"train": root}`` if
    ``root`` has no ``train/`` (the whole folder is the training data)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {root}")
    if not (root / "train").is_dir():
        return {"train": root}
    splits = {}
    for split, names in SPLIT_NAMES.items():
        found = next((root / n for n in names if (root / n).is_dir()), None)
        if found is not None:
            splits[split] = found
    return splits


def image_channels(paths) -> int:
    """1 if every image file in ``paths`` is grayscale (read from its header; nothing is decoded), else 3."""

    for path in paths:
        try:
            with open_image(path, quiet=True) as im:  # a large image is reported when it is read
                gray = im.mode in GRAY_MODES or (im.mode == "P" and _gray_palette(im))
        except (OSError, ValueError, SyntaxError):
            continue  # an unreadable file is reported when it is read
        if not gray:
            return 3
    return 1


def _gray_palette(im) -> bool:
    palette = im.getpalette() or []
    rgb = np.asarray(palette[:len(palette) // 3 * 3]).reshape(-1, 3)
    return bool(len(rgb)) and bool(np.all(rgb[:, :1] == rgb))


def load_image(path, channels: int = 3, size: int | None = None) -> np.ndarray:
    """The image file ``path`` as uint8 (channels, H, W); with ``size`` (size, size): the shorter side resized
    to ``size`` (bilinear, antialiased when shrinking), then the centre cropped."""
    pixels = read_image(path, channels)
    if size is not None:
        pixels = resize_center_crop(pixels, size)
    return np.ascontiguousarray(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))


class _Cache:
    """At most ``limit`` bytes of arrays by key; the least recently used go first."""

    def __init__(self, limit: int):
        self.limit, self.used, self.items = limit, 0, OrderedDict()

    def get(self, key):
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        size = getattr(value, "nbytes", 0)
        if size > self.limit:
            return
        self.items[key] = value
        self.used += size
        while self.used > self.limit:
            _, old = self.items.popitem(last=False)
            self.used -= getattr(old, "nbytes", 0)


class ImageFolder(Dataset):
    """torchvision's ``ImageFolder``: ``root/<class>/<image>``; ``dataset[i]`` is ``(transform(loader(path)),
    target_transform(class index))``.

    Attributes as torchvision: ``root``, ``classes`` (sorted folder names), ``class_to_idx``, ``samples`` (a
    list of (path, class index)), ``targets``, ``imgs`` (= samples), ``extensions``, ``loader``,
    ``transform``, ``target_transform``. cnnkit's additions: ``channels`` (1 or 3: what the default loader
    converts to), ``size`` (the default loader makes every image size × size: shorter side resized, centre
    cropped), ``classes`` (use these class names and indices, e.g. the training split's for a test split; a
    class without a folder is allowed) and ``cache_bytes`` (the bound of the decoded-image cache; 0 for none).
    """

    def __init__(self, root, transform=None, target_transform=None, loader=None, is_valid_file=None,
                 allow_empty: bool = False, *, extensions=IMG_EXTENSIONS, channels: int = 3,
                 size: int | None = None, classes=None, cache_bytes: int = 256 * 2 ** 20):
        if channels not in (1, 3) or isinstance(channels, bool):
            raise ValueError(f"ImageFolder: channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"ImageFolder: size must be a positive int or None, got {size!r}")
        if isinstance(cache_bytes, bool) or not isinstance(cache_bytes, int) or cache_bytes < 0:
            raise ValueError(f"ImageFolder: cache_bytes must be a non-negative int, got {cache_bytes!r}")
        self.root = Path(root)
        if classes is None:
            self.classes, self.class_to_idx = find_classes(self.root)
        else:
            if not self.root.is_dir():
                raise FileNotFoundError(f"ImageFolder: no folder {self.root}")
            self.classes = list(classes)
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
            unknown = sorted(e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")
                             and e.name not in self.class_to_idx)
            if unknown:
                raise ValueError(f"ImageFolder: {self.root} has class folders {unknown} that are not among the "
                                 f"classes {self.classes}")
            allow_empty = True
        self.extensions = tuple(extensions)
        self.samples = make_dataset(self.root, self.class_to_idx, self.extensions, is_valid_file, allow_empty)
        if not self.samples:
            raise FileNotFoundError(f"ImageFolder: no image files in {self.root}")
        self.imgs = self.samples
        self.targets = [t for _, t in self.samples]
        self.channels, self.size = channels, size
        self.loader = loader if loader is not None else self.default_loader
        self.transform, self.target_transform = transform, target_transform
        self.cache_bytes = cache_bytes
        self._cache = _Cache(cache_bytes)

    def default_loader(self, path) -> np.ndarray:
        """uint8 (channels, H, W), or (channels, size, size) with ``size``."""
        return load_image(path, self.channels, self.size)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"ImageFolder: expected an int index, got {type(index).__name__}")
        n = len(self.samples)
        if not -n <= index < n:
            raise IndexError(f"ImageFolder: index {index} is out of range for {n} samples")
        path, target = self.samples[int(index)]
        sample = self._cache.get(path)
        if sample is None:
            sample = self.loader(path)
            if self.cache_bytes and isinstance(sample, np.ndarray):
                sample.flags.writeable = False  # shared by every later read: a transform must not change it
                self._cache.put(path, sample)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __repr__(self) -> str:
        return f"ImageFolder({str(self.root)!r}, {len(self)} images, {len(self.classes)} classes)"
