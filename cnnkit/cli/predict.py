"""``cnnkit predict``: classify image files with a ``cnnkit train`` checkpoint: the class and the top-k.

Which files the arguments name (directories, patterns) and which images are doubtful is
:mod:`cnnkit.data.image_files`, reading and framing them :mod:`cnnkit.data.images`, the model comes back with
:func:`cnnkit.train.restore`; this module picks the conversion the checkpoint's data set needs and prints. A bad
file is reported and skipped; the exit code is 1 at the end if any was.
"""
from __future__ import annotations

import json

import numpy as np

from ..data.image_files import MIN_SIDE, expand_image_paths, image_concerns
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

An IMAGE argument may be a directory (its image files, not its
sub-directories': .png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm .pgm, sorted)
or a pattern with * ? [ (expanded here, for shells that do not).

Prints one line per image: the predicted class, then the top classes with
their softmax probabilities, e.g.
    seven.png: 7   top-3: 7 98.52% | 1 0.91% | 2 0.30%

A file that cannot be read is reported on stderr in one line
("cnnkit predict: error: ...") and the others are still classified; the exit
code is then 1. A blank image (every pixel the same) or a tiny one (a side
below {min_side} pixels) is classified with a one-line warning on stderr: its class
means little.

--json prints one JSON document on stdout instead: a list, in the order of
the files, of
    {"file": str, "class": str, "index": int, "probability": float,
     "top": [{"class": str, "index": int, "probability": float}, ...],
     "warnings": [str, ...]}
or, for a file that could not be read, {"file": str, "error": str}
(probabilities in [0, 1]; the errors and warnings also go to stderr).
""".replace("{min_side}", str(MIN_SIDE))


def add_arguments(p) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, e.g. runs/lenet5-digits/checkpoint.safetensors")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files (PNG, JPEG, ...), directories of them, or patterns such as 'scans/*.png'")
    p.add_argument("--invert", action="store_true",
                   help="invert the images (v -> 255 - v): for dark drawings on a light background")
    p.add_argument("--no-frame", action="store_true",
                   help="digits/MNIST models: resize the whole image to the input size instead of cropping the "
                        "digit and centring it in a 20x20 box")
    p.add_argument("--top", type=A.positive_int, default=3, help="how many classes to list (default: 3)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout (the schema is above)")


CHUNK = 64  # images read, converted and classified together (memory stays bounded for a large directory)


class Converter:
    """An image file -> the model's standardized input, as the checkpoint's training data was prepared."""

    def __init__(self, restored, invert: bool, no_frame: bool, err):
        self.restored, self.invert, self.err = restored, invert, err
        self.light_on_dark = restored.data in LIGHT_ON_DARK and restored.channels == 1
        self.frame = restored.data in DIGIT_FRAMED and restored.channels == 1 and not no_frame
        self.crop = restored.meta.get("preprocessing", {}).get("resize") == "shorter-side-centre-crop"

    def __call__(self, path) -> tuple:
        """(the float32 input (C, size, size), the warnings about the image)."""
        pixels = read_image(path, self.restored.channels)
        warnings = [f"{path} is {concern}: its class means little" for concern in image_concerns(pixels)]
        if self.invert:
            pixels = 255 - pixels
        if self.light_on_dark and not warnings and has_light_border(pixels):
            hint = ("it looked light on dark before --invert: drop --invert?" if self.invert
                    else "pass --invert for dark drawings on a light background")
            print(f"note: {path} has a light background, the model was trained on light on black; {hint}",
                  file=self.err)
        if self.crop:  # trained on a folder: shorter side resized, centre cropped
            pixels = resize_center_crop(pixels, self.restored.size)
        return prepare_image(pixels, self.restored.size, self.frame), warnings


def run(args, context) -> int:
    restored = restore(args.checkpoint, data_names=NAMES)
    if restored.channels not in (1, 3):
        raise ValueError(f"{args.checkpoint} holds {restored.describe()} for {restored.channels}-channel inputs; "
                         f"image files give 1 (grayscale) or 3 (RGB) channels")
    convert = Converter(restored, args.invert, args.no_frame, context.err)
    items = []  # in the order of the arguments: (file, None), or (argument, why it names no file)
    for argument, paths, error in expand_image_paths(args.images):
        items.extend([(path, None) for path in paths] if error is None else [(argument, error)])
    names = restored.meta.get("classes")
    entries, failed = [], 0  # entries: the --json list
    for start in range(0, len(items), CHUNK):
        chunk = []  # (position in entries, file, input, warnings) of the readable images
        for path, error in items[start:start + CHUNK]:
            if error is None:
                try:
                    x, warnings = convert(path)
                    for warning in warnings:
                        print(f"cnnkit predict: warning: {warning}", file=context.err)
                    chunk.append((len(entries), path, x, warnings))
                    entries.append(None)
                    continue
                except (OSError, ValueError) as e:
                    error = str(e)
            failed += 1
            print(f"cnnkit predict: error: {error}", file=context.err, flush=True)
            entries.append({"file": path, "error": error})
        if not chunk:
            continue
        logits = restored.logits(restored.normalize(np.stack([x for _, _, x, _ in chunk]))).astype(np.float64)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = z / z.sum(axis=1, keepdims=True)
        k = min(args.top, logits.shape[1])
        ranking = np.argsort(-logits, axis=1, kind="stable")[:, :k]  # ties: the smaller class index first, as argmax
        if not (isinstance(names, list) and len(names) == logits.shape[1]):
            names = class_names(restored.data, logits.shape[1])
        for (position, path, _, warnings), order, p in zip(chunk, ranking, probabilities):
            top = [{"class": names[c], "index": int(c), "probability": float(p[c])} for c in order]
            entries[position] = {"file": path, **top[0], "top": top, "warnings": warnings}
            if not args.json:
                text = " | ".join(f"{names[c]} {100 * p[c]:.2f}%" for c in order)
                print(f"{path}: {names[order[0]]}   top-{k}: {text}", file=context.out)
        context.out.flush()
    if args.json:
        print(json.dumps(entries, indent=1), file=context.out, flush=True)
    if failed and len(items) > 1:
        print(f"cnnkit predict: {failed} of {len(items)} inputs could not be classified", file=context.err)
    return 1 if failed else 0
