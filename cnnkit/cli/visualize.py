"""``cnnkit visualize``: what a trained network learned — its first layer's kernels, the feature maps of every
conv/pool layer for one image, and the receptive field of one unit drawn on that image.

The model comes back with :func:`cnnkit.train.restore`, the image from a file (read and prepared as ``predict``
does, :mod:`cnnkit.data.images`) or from the test split of the checkpoint's data set; the pictures are
:func:`cnnkit.insight.visualize`. This module picks the image and prints what was written.
"""
from __future__ import annotations

import numpy as np

from ..data.images import prepare_image, read_image
from ..insight import visualize
from ..train import restore
from . import args as A
from .datasets import DIGIT_FRAMED, NAMES, class_names

HELP = "a checkpoint's first-layer filters, feature maps and a unit's receptive field, as PNGs"
DESCRIPTION = (
    "Draw what a model trained by `cnnkit train` computes, for one image: a grid of its first convolution's "
    "kernels (each normalized to its own min..max; colour for 3-channel kernels), the feature maps of every "
    "conv and pool layer, and with --receptive-field the part of the input that one unit of a layer sees "
    "(a rectangle from the receptive-field algebra that `cnnkit summary` prints). Writes one PNG per picture "
    "and an index.md listing them into --out. IMAGE is read and prepared as `cnnkit predict` does; without "
    "IMAGE, an image of the test split of the checkpoint's data set is used. With none of --filters, "
    "--feature-maps and --receptive-field, draws the filters and the feature maps.")


def add_arguments(p) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, e.g. runs/lenet5-digits/checkpoint.safetensors")
    p.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                   help="an image file (default: an image of the checkpoint's test set, see --index)")
    p.add_argument("--filters", action="store_true", help="the first conv layer's kernels")
    p.add_argument("--feature-maps", action="store_true", help="the output of every conv/pool layer")
    p.add_argument("--receptive-field", type=A.layer_unit, default=None, metavar="LAYER[:ROW,COL]",
                   help="the receptive field of unit (ROW, COL) of LAYER (a name as `cnnkit summary` lists it, "
                        "e.g. features.c3:4,5; default unit: the centre)")
    p.add_argument("--out", default="visualize", metavar="DIR", help="output folder (default: visualize)")
    p.add_argument("--index", type=A.non_negative_int, default=0, metavar="N",
                   help="without IMAGE: which test image (default: 0, the first)")
    p.add_argument("--invert", action="store_true", help="IMAGE: invert it (v -> 255 - v), as `cnnkit predict`")
    p.add_argument("--no-frame", action="store_true",
                   help="IMAGE, digits/MNIST models: resize the whole image instead of framing the digit")
    p.add_argument("--data-dir", default=None, help="folder of the dataset files (default: data/<data>)")
    p.add_argument("--download", action="store_true", help="download missing dataset files (MD5-verified)")


def _test_image(args, restored, context):
    """Image ``--index`` of the test split of the checkpoint's data set, in [0, 1], and where it came from."""
    data = restored.data
    if data is None:
        raise ValueError(f"{args.checkpoint} does not say which data it was trained on: pass an IMAGE")
    test = context.load(data, train=False, data_dir=args.data_dir, download=args.download, limit=args.index + 1)
    if args.index >= len(test):
        raise ValueError(f"--index {args.index}: the {data} test set has {len(test)} images")
    image, label = test.arrays[0][args.index], int(test.arrays[1][args.index])
    expected = (restored.channels, restored.size, restored.size)
    if tuple(image.shape) != expected:
        raise ValueError(f"data mismatch: {args.checkpoint} holds {restored.describe()} for "
                         f"{'×'.join(map(str, expected))} images, the {data} test set has "
                         f"{'×'.join(map(str, image.shape))} images")
    name = class_names(data, max(label + 1, restored.num_classes or 0))[label]
    return image, f"{data} test image {args.index} (class {name})"


def _file_image(args, restored):
    """IMAGE read and prepared like `cnnkit predict` does, in [0, 1]."""
    if restored.channels not in (1, 3):
        raise ValueError(f"{args.checkpoint} holds {restored.describe()} for {restored.channels}-channel inputs; "
                         f"image files give 1 (grayscale) or 3 (RGB) channels")
    pixels = read_image(args.image, restored.channels)
    if args.invert:
        pixels = 255 - pixels
    frame = restored.data in DIGIT_FRAMED and restored.channels == 1 and not args.no_frame
    return prepare_image(pixels, restored.size, frame), args.image


def run(args, context) -> int:
    restored = restore(args.checkpoint, data_names=NAMES)
    if args.image is None:
        image, source = _test_image(args, restored, context)
    else:
        image, source = _file_image(args, restored)
    image = np.asarray(image, dtype=np.float32)
    display = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    display = display.transpose(1, 2, 0) if display.shape[0] == 3 else display[0]
    x = restored.normalize(image[None])[0]
    filters, maps = args.filters, args.feature_maps
    if not (filters or maps or args.receptive_field):
        filters = maps = True
    written = visualize(restored.model, x, args.out, filters=filters, feature_maps=maps,
                        receptive_field=args.receptive_field, display=display)
    print(f"{restored.describe()} on {source}:", file=context.out)
    for path in written:
        print(f"wrote {path}", file=context.out)
    return 0
