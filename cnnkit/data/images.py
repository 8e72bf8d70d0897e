"""Image files as network inputs: reading (Pillow), resizing, the digits/MNIST framing of a drawing, and
writing a picture as a PNG file.

    pixels = read_image("seven.png", channels=1)     uint8 (H, W); (H, W, 3) for channels=3
    pixels = 255 - pixels                             for a dark drawing on a light background
    x = prepare_image(pixels, 28, frame=True)         float32 (1, 28, 28) in [0, 1]
    write_image(pixels, "out.png")                    uint8 (H, W) or (H, W, 3) as a PNG (atomic write)

The framing is how MNIST's digits were made (LeCun et al.): the digit is cropped to the bounding box of its ink,
padded to a square, scaled to fit a 20×20 box and centred in a black 28×28 field. For another ``size`` the box
is ``round(size · 20/28)``. The ink is every pixel brighter than a quarter of the way from the darkest value
to the brightest one:

    ink = pixels > low + (high − low) / 4

All resizing is Pillow's bilinear filter (antialiased when shrinking: the filter widens with the scale).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .._warn import warn
from ..io.atomic import atomic_output
from ..ops import validate

__all__ = ["LargeImageWarning", "TooLargeError", "frame_digit", "has_light_border", "open_image", "prepare_image",
           "read_image", "resize", "resize_center_crop", "write_image"]

_SIXTEEN_BIT = ("I", "I;16", "I;16L", "I;16B", "I;16N")


def read_image(path, channels: int) -> np.ndarray:
    """The image file ``path`` as uint8 pixels: (H, W) grayscale for ``channels`` 1, (H, W, 3) RGB for 3.

    Any format Pillow reads; the EXIF orientation is applied, transparent pixels are laid on white and 16-bit
    grayscale is scaled to 8 bits (v / 257). A missing, unreadable or corrupt file raises ``FileNotFoundError``,
    ``IsADirectoryError``, ``PermissionError`` or ``ValueError`` with a one-line message naming the file; an image
    above Pillow's decompression-bomb limit is read with a :class:`LargeImageWarning`, one above twice the limit
    raises :class:`TooLargeError` (a ValueError), both naming the file and its size (see :func:`open_image`).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no such image file: {path}")
    if file.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file")
    try:
        with open_image(file, path) as im:
            _check_canvas(im.size, file.stat().st_size, path)
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # photos: the orientation the camera recorded
            if im.mode in _SIXTEEN_BIT:  # 16-bit grayscale: 0..65535 -> 0..255
                im = Image.fromarray(np.clip(np.rint(np.asarray(im, dtype=np.float64) / 257), 0, 255)
                                     .astype(np.uint8))
            if "A" in im.getbands() or "transparency" in im.info:  # transparent pixels are laid on white
                rgba = im.convert("RGBA")
                im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            return np.array(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file that Pillow can read (PNG, JPEG, ...)") from None
    except PermissionError as e:
        raise PermissionError(f"cannot read the image {path}: {e.strerror or e}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        if isinstance(e, TooLargeError):
            raise
        raise ValueError(f"cannot read the image {path}: it is truncated or corrupt ({e})") from None


class LargeImageWarning(UserWarning):
    """An image has more pixels than Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, about
    89.5 million) but at most twice as many: it is read, and this warning names the file and its size."""


class TooLargeError(ValueError):
    """An image has more than twice Pillow's decompression-bomb limit of pixels: it is not read."""


def open_image(file, path=None, quiet: bool = False):
    """``PIL.Image.open(file)`` (lazy: only the header is read) with Pillow's decompression-bomb checks as
    messages naming the file ``path``: above ``PIL.Image.MAX_IMAGE_PIXELS`` a :class:`LargeImageWarning` (unless
    ``quiet``), above twice that a :class:`TooLargeError` (instead of Pillow's DecompressionBombWarning and
    DecompressionBombError, which name neither the file nor a remedy)."""
    from PIL import Image

    path = file if path is None else path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(file)
        except Image.DecompressionBombError as e:
            claimed = re.search(r"\((\d+) pixels\)", str(e))
            size = f"{int(claimed.group(1)):,} pixels" if claimed else "its size"
            raise TooLargeError(f"cannot read the image {path}: {size} is more than twice Pillow's "
                                f"decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,} pixels; if the file is "
                                f"trusted, raise PIL.Image.MAX_IMAGE_PIXELS") from None
    limit = Image.MAX_IMAGE_PIXELS
    w, h = im.size
    if limit and w * h > limit and not quiet:
        warn(f"{path} is {w:,}×{h:,} = {w * h:,} pixels, more than Pillow's decompression-bomb limit of "
             f"{limit:,}: read anyway (about {w * h * 3 / 2 ** 20:,.0f} MiB as RGB)", LargeImageWarning)
    return im


PIXELS_PER_BYTE = 1 << 14
"""The most pixels per byte of file an image may claim (plus a floor of ``1 << 20``): above any real format's
compression (deflate expands at most 1032 times, 8 pixels a byte in 1-bit images), so a small corrupt file
cannot make the decoder allocate a canvas of gigabytes."""


def _check_canvas(size: tuple, file_bytes: int, path) -> None:
    w, h = size
    if w * h > PIXELS_PER_BYTE * file_bytes + (1 << 20):
        raise ValueError(f"cannot read the image {path}: its header claims {w} × {h} pixels, more than a file of "
                         f"{file_bytes} bytes can hold (truncated or corrupt)")


def resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of uint8 pixels (H, W) or (H, W, 3) with Pillow (antialiased when shrinking)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)


def resize_center_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    """uint8 pixels (H, W) or (H, W, 3) -> (size, size[, 3]): the shorter side resized to ``size`` (bilinear,
    antialiased when shrinking; the longer side ⌊size · long / short⌋ as torchvision's ``Resize(size)``), then
    the centre ``size`` × ``size`` window (top = round((H' − size) / 2), as ``CenterCrop``)."""
    h, w = pixels.shape[:2]
    if min(h, w) < 1:
        raise ValueError(f"resize_center_crop: cannot resize an image of {w}x{h} pixels")
    if h <= w:
        height, width = size, max(size, int(size * w / h))
    else:
        height, width = max(size, int(size * h / w)), size
    if (height, width) != (h, w):
        pixels = resize(pixels, height, width)
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return np.ascontiguousarray(pixels[top:top + size, left:left + size])


def frame_digit(pixels: np.ndarray, size: int) -> np.ndarray:
    """The digits/MNIST framing of a (H, W) light-on-dark uint8 image: crop to the digit's bounding box (pixels
    above a quarter of the way from the darkest to the brightest value), pad to a centred square with 0, resize
    to ``round(size · 20/28)`` (20 for 28) and centre it in a ``size`` × ``size`` field of zeros."""
    low, high = int(pixels.min()), int(pixels.max())
    if high > low:
        ink = pixels > low + (high - low) / 4
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        pixels = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = pixels.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.uint8)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = pixels
    inner = max(1, round(size * 20 / 28))
    framed = np.zeros((size, size), dtype=np.uint8)
    top = (size - inner) // 2
    framed[top:top + inner, top:top + inner] = resize(square, inner, inner)
    return framed


def has_light_border(pixels: np.ndarray) -> bool:
    """True if the mean of the image's outermost rows and columns (of its grayscale, the channel mean for RGB)
    is above 127.5: a light background, e.g. a dark drawing on white."""
    gray = pixels if pixels.ndim == 2 else pixels.mean(axis=2)
    return float(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).mean()) > 127.5


def prepare_image(pixels: np.ndarray, size: int, frame: bool = False) -> np.ndarray:
    """uint8 pixels (H, W) or (H, W, 3) -> float32 (C, size, size) in [0, 1] (v / 255), channels first.

    An image of exactly ``size`` × ``size`` is taken as is; any other is framed like a digit with ``frame``
    (grayscale only, see :func:`frame_digit`) or resized whole (bilinear) without."""
    if pixels.shape[:2] != (size, size):
        pixels = frame_digit(pixels, size) if frame else resize(pixels, size, size)
    x = pixels.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x[None] if x.ndim == 2 else x.transpose(2, 0, 1))


def write_image(pixels: np.ndarray, path, scale: int = 1) -> str:
    """Write uint8 ``pixels`` (H, W) grayscale or (H, W, 3) RGB as the PNG file ``path`` (atomically: the file
    appears whole or not at all; missing folders are made), each pixel enlarged to a ``scale`` × ``scale``
    block (nearest neighbour). Returns ``str(path)``."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)) \
            or pixels.size == 0:
        raise ValueError(f"write_image: expected uint8 pixels of shape (H, W) or (H, W, 3), got {pixels.dtype} "
                         f"of shape {pixels.shape}")
    scale = validate.positive_int(scale, "scale", "write_image")
    if scale > 1:
        pixels = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
    with atomic_output(path) as f:
        Image.fromarray(np.ascontiguousarray(pixels)).save(f, format="PNG")
    return str(path)
