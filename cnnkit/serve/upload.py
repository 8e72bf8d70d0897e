"""Checks of an uploaded drawing, before anything is decoded: every bad upload becomes a :class:`BadUpload`
with an HTTP status (4xx) and a message that says what was expected and what came.

    415  the request's Content-Type is not ``image/png``
    413  the body is larger than ``MAX_BYTES`` (checked from Content-Length and again while it is read), or the
         PNG header announces more than ``MAX_PIXELS`` pixels (a decompression bomb: a small file that would
         decode to gigabytes; checked from the header, before any pixel is decoded)
    400  an empty body, bytes that are not a PNG, a truncated or corrupt PNG
    422  a PNG that cannot hold a drawing: a side shorter than ``MIN_SIDE`` pixels (e.g. 1×1), or a blank image
         (every pixel the same value: nothing drawn)
"""
from __future__ import annotations

import io
import struct

MAX_BYTES = 2 * 2 ** 20
"""Largest accepted upload (bytes). A 280×280 canvas drawing is 5-20 KB."""

MAX_PIXELS = 2048 * 2048
"""Largest accepted image (width × height), checked from the PNG header before decoding."""

MIN_SIDE = 8
"""Shortest accepted side (pixels)."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BadUpload(ValueError):
    """An upload the server refuses: ``status`` (a 4xx HTTP status) and the message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_content_type(header: str | None) -> None:
    """415 unless the Content-Type header names ``image/png`` (parameters such as a charset are ignored)."""
    media = (header or "").split(";", 1)[0].strip().lower()
    if media != "image/png":
        raise BadUpload(415, f"predict: expected a PNG image (Content-Type: image/png), got Content-Type "
                             f"{header or '(none)'!r}")


def check_length(header: str | None) -> None:
    """413 when a Content-Length header announces more than ``MAX_BYTES``; 400 when it is not a number."""
    if header is None:
        return
    try:
        length = int(header)
    except ValueError:
        raise BadUpload(400, f"predict: invalid Content-Length {header!r}") from None
    if length > MAX_BYTES:
        raise BadUpload(413, f"predict: the upload is {length:,} bytes, the limit is {MAX_BYTES:,}")


def too_large(size: int) -> BadUpload:
    """The 413 for a body that grew past ``MAX_BYTES`` while it was read."""
    return BadUpload(413, f"predict: the upload is larger than the limit of {MAX_BYTES:,} bytes (got {size:,} "
                          f"bytes so far)")


def check_png(data: bytes) -> tuple:
    """The (width, height) of the PNG ``data``, read from its header only; raises :class:`BadUpload` for an empty
    body, something else than a PNG, too many pixels or a side shorter than ``MIN_SIDE``."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadUpload(400, "predict: the body is empty; expected a PNG image")
    if len(data) > MAX_BYTES:
        raise too_large(len(data))
    if not data.startswith(PNG_SIGNATURE):
        raise BadUpload(400, f"predict: the body is not a PNG image (it starts with {data[:8]!r}, a PNG with "
                             f"{PNG_SIGNATURE!r})")
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise BadUpload(400, "predict: the body is not a readable PNG image (no IHDR header chunk)")
    width, height = struct.unpack(">II", data[16:24])  # the first chunk, IHDR, starts with the image size
    if width * height > MAX_PIXELS:  # before Pillow sees it: no decompression-bomb warning, no decoding
        raise BadUpload(413, f"predict: the image is {width}×{height} pixels, the limit is {MAX_PIXELS:,} pixels")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:  # parses the header chunks, decodes no pixel
            width, height = im.size
    except Image.DecompressionBombError as e:
        raise BadUpload(413, f"predict: the image has too many pixels ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        raise BadUpload(400, f"predict: the body is not a readable PNG image ({e})") from None
    if min(width, height) < MIN_SIDE:
        raise BadUpload(422, f"predict: the image is {width}×{height} pixels; a drawing needs at least "
                             f"{MIN_SIDE}×{MIN_SIDE}")
    return width, height


def check_not_blank(pixels) -> None:
    """422 when every pixel of the decoded image has the same value (nothing is drawn on it)."""
    if pixels.size and int(pixels.min()) == int(pixels.max()):
        raise BadUpload(422, f"predict: the image is blank (every pixel is {int(pixels.min())}); draw a digit")
