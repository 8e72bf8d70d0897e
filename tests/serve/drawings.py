"""Drawings for the serve tests, made like the page makes them: light strokes on a black 280×280 field."""
import io

import numpy as np

# The strokes the browser test draws with the mouse, in canvas pixels (the page's canvas is 280×280).
ONE = [[(145, 45), (140, 140), (136, 235)]]
ZERO = [[(140 + 62 * np.sin(t), 140 - 92 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]]
LINE_WIDTH = 22  # the page's stroke width


def drawing(strokes, size: int = 280, width: int = LINE_WIDTH) -> bytes:
    """A PNG of ``strokes`` (lists of points), white on black, like the page's canvas."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        pen.line(points, fill=255, width=width, joint="curve")
        r = width / 2
        for x, y in (points[0], points[-1]):
            pen.ellipse([x - r, y - r, x + r, y + r], fill=255)  # round caps
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_of(array, mode=None) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()
