"""Which image files a list of command-line arguments names, and what makes an image a doubtful input.

    expand_image_paths(["a.png", "photos/", "scans/*.jpg"])   -> [(argument, [paths] or None, error or None)]
    image_concerns(pixels)                                     -> ["blank: every pixel is 255", ...]

An argument is taken as follows:

- an existing directory: its image files (the extensions of :data:`IMG_EXTENSIONS`, any case; hidden files
  skipped), not its sub-directories' (non-recursive), sorted by name;
- an existing file (or a name without ``* ? [``): itself, whatever its extension (reading it tells);
- a pattern with ``* ? [`` that names no existing file: expanded by :func:`glob.glob` (for shells that do not
  expand it, e.g. Windows' ``cmd``), sorted; a directory it matches is expanded as above.

A directory without image files and a pattern matching nothing are errors of that argument (the others still
count). An image is doubtful when it is blank (constant: every pixel the same) or tiny (a side shorter than
:data:`MIN_SIDE` pixels): a classifier still gives it a confident class, which means little.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from .datasets.folder import IMG_EXTENSIONS

MIN_SIDE = 8  # an image with a side below this many pixels is "tiny"

__all__ = ["MIN_SIDE", "expand_image_paths", "image_concerns", "images_in"]


def images_in(directory) -> list:
    """The image files directly in ``directory`` (not in sub-directories), sorted by name; hidden ones skipped."""
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith(".")
                       and e.name.lower().endswith(IMG_EXTENSIONS) and e.is_file())
    return [os.path.join(directory, name) for name in names]


def _has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def _expand_one(argument: str) -> list:
    if os.path.isdir(argument):
        paths = images_in(argument)
        if not paths:
            raise FileNotFoundError(f"{argument} is a directory without image files "
                                    f"({', '.join(IMG_EXTENSIONS)})")
        return paths
    if os.path.exists(argument) or not _has_magic(argument):
        return [argument]
    matches = sorted(glob.glob(argument))
    if not matches:
        raise FileNotFoundError(f"{argument}: no file matches this pattern")
    paths = []
    for match in matches:
        paths.extend(images_in(match) if os.path.isdir(match) else [match])
    if not paths:
        raise FileNotFoundError(f"{argument} matches only directories without image files")
    return paths


def expand_image_paths(arguments) -> list:
    """``[(argument, paths, error)]`` in the order of ``arguments``: ``paths`` the files it names (see the module
    docstring) and ``error`` None, or ``paths`` None and ``error`` the one-line reason it names none."""
    result = []
    for argument in arguments:
        argument = os.fspath(argument)
        try:
            result.append((argument, _expand_one(argument), None))
        except OSError as e:  # no image files, or an unreadable directory
            result.append((argument, None, str(e) if e.filename is None else f"{argument}: {e.strerror or e}"))
    return result


def image_concerns(pixels: np.ndarray) -> list:
    """Why the uint8 image ``pixels`` (H, W) or (H, W, C) is a doubtful input: ``"blank: every pixel is V"``
    (constant; ``(R, G, B)`` for colour), ``"tiny: W×H pixels, a side below 8"``; empty if neither."""
    concerns = []
    h, w = pixels.shape[:2]
    flat = pixels.reshape(h * w, -1)
    if len(flat) and (flat == flat[0]).all():
        value = flat[0].tolist()
        concerns.append(f"blank: every pixel is {value[0] if len(value) == 1 else tuple(value)}")
    if min(h, w) < MIN_SIDE:
        concerns.append(f"tiny: {w}×{h} pixels, a side below {MIN_SIDE}")
    return concerns
