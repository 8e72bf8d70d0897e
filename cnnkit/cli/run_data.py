"""The data of a ``cnnkit train`` run: the splits, the image size and channels the model gets, the transforms.

- ``--data NAME`` (the built-in sets, or an injected loader): arrays (N, C, H, W) in [0, 1]; the test split is
  the data set's own. ``--data folder:PATH``: an :class:`~cnnkit.data.datasets.ImageFolder` (``PATH/<class>/``,
  or ``PATH/train/``, ``PATH/val/``, ``PATH/test/``), decoded lazily; grayscale if every image is, RGB otherwise.
- Validation: the folder's ``val/`` split (said in the log; an explicit ``--val-split`` beside it is refused), or
  ``--val-split`` (a fraction) of the training data held out with a permutation seeded by ``--seed``. The test
  split is only used for the final evaluation.
- Size: ``--image-size`` (default: the data set's size, 64 for a folder), raised to the model's smallest input
  (AlexNet 63, Inception v3 75, VGG 32, ...; LeNet-5 takes 28 or 32) with a note in the log. Array images are
  resized whole (bilinear); folder images get their shorter side resized and the centre cropped.
- Inputs are standardized per channel with the training split's mean and standard deviation; ``--augment``
  adds random crops (padding ≈ size/14, size/8 for cifar10 and folders) and, for cifar10, horizontal flips.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import Subset, TransformedDataset
from ..data import transforms as T
from ..data.datasets import ImageFolder, find_splits, image_channels

FOLDER = "folder:"
FOLDER_SIZE = 64
LENET_SIZES = (28, 32)


def is_folder(data: str) -> bool:
    return data.startswith(FOLDER)


def folder_path(data: str) -> Path:
    return Path(data[len(FOLDER):])


def data_label(data: str) -> str:
    """The data set's short name for messages and the default run folder: the folder's name for a folder."""
    return (folder_path(data).resolve().name or "folder") if is_folder(data) else data


@dataclass
class RunData:
    """What :func:`load` prepared: ready data sets (``val`` / ``test`` None when absent) and the facts for the
    model and the checkpoint's ``meta``."""

    train: object
    val: object
    test: object
    channels: int
    size: int
    num_classes: int
    classes: list | None
    preprocessing: dict
    split: dict
    notes: list = field(default_factory=list)
    test_name: str = "test"


def model_size(model_name: str, min_size: int, size: int) -> tuple:
    """The image size ``model_name`` is trained at for a requested ``size``, and a note when it differs."""
    if model_name == "lenet5":
        fitted = LENET_SIZES[0] if size <= LENET_SIZES[0] else LENET_SIZES[1]
        if fitted != size:
            return fitted, f"lenet5 takes 28×28 or 32×32 inputs: images resized to {fitted}×{fitted}"
        return size, None
    if size < min_size:
        return min_size, f"{model_name} needs inputs of at least {min_size}×{min_size}: images resized to " \
                         f"{min_size}×{min_size}"
    return size, None


def spread(n: int, limit) -> np.ndarray:
    """``limit`` indices spread evenly over ``n`` samples (all of them without a limit)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _held_out(n: int, fraction: float, seed: int) -> tuple:
    """(training indices, validation indices): round(n · fraction) samples held out by a seeded permutation."""
    n_val = int(round(n * fraction))
    if fraction > 0 and n_val == 0 and n > 1:
        n_val = 1
    if n_val >= n:
        raise ValueError(f"--val-split {fraction:g} leaves no training images out of {n}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _stats(batches) -> tuple:
    """Per-channel mean and standard deviation (float64) over batches of images (N, C, H, W) in [0, 1]."""
    total = total_sq = None
    count = 0
    for x in batches:
        x = np.asarray(x, dtype=np.float64)
        s, sq = x.sum(axis=(0, 2, 3)), np.square(x).sum(axis=(0, 2, 3))
        total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))
    std[std == 0] = 1.0
    return mean, std


def _augment(size: int, data: str) -> list:
    cifar_like = data == "cifar10" or is_folder(data)
    steps = [T.RandomCrop(size, padding=max(1, round(size / 8 if cifar_like else size / 14)))]
    if data == "cifar10":
        steps.append(T.RandomHorizontalFlip())
    return steps


def load(args, context, build_min_size) -> RunData:
    """The run's data for the resolved options ``args`` (``data``, ``image_size``, ``val_split``, ``seed``,
    ``augment``, ``limit``, ``data_dir``, ``download``, ``model``); ``build_min_size(channels, num_classes)``
    gives the smallest input side of the model to train."""
    if is_folder(args.data):
        return _load_folder(args, build_min_size)
    return _load_arrays(args, context, build_min_size)


def _load_arrays(args, context, build_min_size) -> RunData:
    options = dict(data_dir=args.data_dir, download=args.download, limit=args.limit)
    base = context.load(args.data, train=True, **options)
    test_base = context.load(args.data, train=False, **options)
    images, labels = base.arrays[0], base.arrays[1]
    channels, native = int(images.shape[1]), int(images.shape[-1])
    num_classes = int(max(labels.max(), test_base.arrays[1].max())) + 1 if len(labels) else 10
    num_classes = max(num_classes, 10)
    size, notes = _size(args, native, channels, num_classes, build_min_size)
    train_idx, val_idx = _held_out(len(base), args.val_split, args.seed)
    mean, std = _stats([images[train_idx]])
    resize = [T.Resize((size, size))] if size != native else []
    if resize:
        notes.append(f"{data_label(args.data)} images are {native}×{native}: resized to {size}×{size}")
    normalize = T.Normalize(mean, std)
    train_steps = resize + (_augment(size, args.data) if args.augment else []) + [normalize]
    evaluate = T.Compose(resize + [normalize])
    return RunData(
        train=TransformedDataset(Subset(base, train_idx), T.Compose(train_steps)),
        val=TransformedDataset(Subset(base, val_idx), evaluate) if len(val_idx) else None,
        test=TransformedDataset(test_base, evaluate), channels=channels, size=size, num_classes=num_classes,
        classes=None, notes=notes,
        preprocessing={"mean": mean.tolist(), "std": std.tolist(), "size": size, "channels": channels,
                       "resize": "whole"},
        split={"source": "val-split", "fraction": args.val_split, "seed": args.seed, "n": int(len(val_idx))})


def _size(args, native, channels, num_classes, build_min_size) -> tuple:
    requested = args.image_size if args.image_size is not None else native
    size, note = model_size(args.model, build_min_size(channels, num_classes), requested)
    return size, [note] if note else []


def _load_folder(args, build_min_size) -> RunData:
    root = folder_path(args.data)
    try:
        splits = find_splits(root)
    except FileNotFoundError:
        raise FileNotFoundError(f"--data {args.data}: no folder {root}") from None
    base = ImageFolder(splits["train"])  # lists the files; nothing is decoded yet
    channels = image_channels(path for path, _ in base.samples)
    classes = base.classes
    if len(classes) < 2:
        raise ValueError(f"--data {args.data}: {splits['train']} has one class folder ({classes[0]}); "
                         f"classification needs at least two")
    size, notes = _size(args, args.image_size or FOLDER_SIZE, channels, len(classes), build_min_size)
    notes.insert(0, f"{'grayscale' if channels == 1 else 'RGB'} images, shorter side resized to {size} and "
                    f"centre-cropped to {size}×{size}")

    def folder(path):
        return ImageFolder(path, channels=channels, size=size, classes=classes)

    base = folder(splits["train"])
    keep = spread(len(base), args.limit)
    if "val" in splits:
        if getattr(args, "val_split_given", False):
            raise ValueError(f"--val-split {args.val_split:g} conflicts with {splits['val']}: the folder's own "
                             f"validation split is used; leave out --val-split, or move that folder away to hold "
                             f"out a fraction of {splits['train']}")
        train_idx, val_base = keep, folder(splits["val"])
        val_idx = spread(len(val_base), args.limit)
        split = {"source": "folder", "path": str(splits["val"]), "n": int(len(val_idx))}
        notes.append(f"validation: the folder's {splits['val'].name}/ split ({len(val_idx):,} images), not a "
                     f"--val-split fraction of the training images")
    else:
        train_pos, val_pos = _held_out(len(keep), args.val_split, args.seed)
        train_idx, val_idx, val_base = keep[train_pos], keep[val_pos], base
        split = {"source": "val-split", "fraction": args.val_split, "seed": args.seed, "n": int(len(val_idx))}
    mean, std = _stats(base[int(i)][0][None].astype(np.float64) / 255 for i in train_idx)
    normalize = T.Normalize(mean, std)
    to_float = T.ConvertImageDtype()
    train_steps = [to_float] + (_augment(size, args.data) if args.augment else []) + [normalize]
    evaluate = T.Compose([to_float, normalize])
    test = None
    if "test" in splits:
        test_base = folder(splits["test"])
        test = TransformedDataset(Subset(test_base, spread(len(test_base), args.limit)), evaluate)
    return RunData(
        train=TransformedDataset(Subset(base, train_idx), T.Compose(train_steps)),
        val=TransformedDataset(Subset(val_base, val_idx), evaluate) if len(val_idx) else None,
        test=test, channels=channels, size=size, num_classes=len(classes), classes=classes, notes=notes,
        preprocessing={"mean": mean.tolist(), "std": std.tolist(), "size": size, "channels": channels,
                       "resize": "shorter-side-centre-crop"},
        split=split, test_name="test" if test is not None else "validation")
