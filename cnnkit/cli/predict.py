"""``cnnkit predict``: classify image files with a ``cnnkit train`` checkpoint: the class and the top-k.

Reading and framing the images is :mod:`cnnkit.data.images`, the model comes back with
:func:`cnnkit.train.restore`; this module picks the conversion the checkpoint's data set needs and prints.
"""
from __future__ import annotations

import numpy as np

from ..data.images import has_light_border, prepare_image, read_image, resize_center_crop
from ..train import restore
from . import args as A
from .datasets import DIGIT_FRAMED, LIGHT_ON_DARK, NAMES, class_names

HELP = "classify image files (PNG/JPEG): the class and the top-3 probabilities"
RAW_DESCRIPTION = True
DESCRIPTION = """\
Classify image files with a model trained by `cnnkit train`. Each image is
converted like the training data, with the settings stored in the checkpoint:

 1. read with Pillow (PNG, JPEG or any format Pillow reads; transparent pixels
    are laid on white; 16-bit images are scaled to 8 bits), as grayscale for a
    1-channel model, RGB for a 3-channel one;
 2. with --invert, every value v becomes 255 - v. The digits, MNIST and
    Fashion-MNIST models were trained on light strokes on a black background:
    a digit drawn in black on white needs --invert (a note on stderr says so
    when an image's border is light);
 3. brought to the model's input size: an image of exactly that size is taken
    as is. For models trained on digits or MNIST, any other image gets their
    framing: it is cropped to the digit's bounding box (the pixels brighter
    than a quarter of the way from the darkest to the brightest), padded to a
    square, resized to 20x20 (bilinear) and centred in a black 28x28 field
    (--no-frame resizes the whole image instead). Other models: the whole
    image is resized to the input size (bilinear; antialiased when shrinking);
 4. scaled to [0, 1] (v / 255) and standardized with the training set's
    per-channel mean and standard deviation.

Prints one line per image: the predicted class, then the top classes with
their softmax probabilities, e.g.
    seven.png: 7   top-3: 7 98.52% | 1 0.91% | 2 0.30%
"""


def add_arguments(p) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, e.g. runs/lenet5-digits/checkpoint.safetensors")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--invert", action="store_true",
                   help="invert the images (v -> 255 - v): for dark drawings on a light background")
    p.add_argument("--no-frame", action="store_true",
                   help="digits/MNIST models: resize the whole image to the input size instead of cropping the "
                        "digit and centring it in a 20x20 box")
    p.add_argument("--top", type=A.positive_int, default=3, help="how many classes to list (default: 3)")


def run(args, context) -> int:
    restored = restore(args.checkpoint, data_names=NAMES)
    if restored.channels not in (1, 3):
        raise ValueError(f"{args.checkpoint} holds {restored.describe()} for {restored.channels}-channel inputs; "
                         f"image files give 1 (grayscale) or 3 (RGB) channels")
    light_on_dark = restored.data in LIGHT_ON_DARK and restored.channels == 1
    frame = restored.data in DIGIT_FRAMED and restored.channels == 1 and not args.no_frame
    crop = restored.meta.get("preprocessing", {}).get("resize") == "shorter-side-centre-crop"
    images = []
    for path in args.images:
        pixels = read_image(path, restored.channels)
        if args.invert:
            pixels = 255 - pixels
        if light_on_dark and has_light_border(pixels):
            hint = ("it looked light on dark before --invert: drop --invert?" if args.invert
                    else "pass --invert for dark drawings on a light background")
            print(f"note: {path} has a light background, the model was trained on light on black; {hint}",
                  file=context.err)
        if crop:  # trained on a folder: shorter side resized, centre cropped
            pixels = resize_center_crop(pixels, restored.size)
        images.append(prepare_image(pixels, restored.size, frame))
    logits = restored.logits(restored.normalize(np.stack(images))).astype(np.float64)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = z / z.sum(axis=1, keepdims=True)
    k = min(args.top, logits.shape[1])
    ranking = np.argsort(-logits, axis=1, kind="stable")[:, :k]  # ties: the smaller class index first, as argmax
    classes = restored.meta.get("classes")
    names = classes if isinstance(classes, list) and len(classes) == logits.shape[1] else \
        class_names(restored.data, logits.shape[1])
    for path, order, p in zip(args.images, ranking, probabilities):
        top = " | ".join(f"{names[c]} {100 * p[c]:.2f}%" for c in order)
        print(f"{path}: {names[order[0]]}   top-{k}: {top}", file=context.out)
    return 0
