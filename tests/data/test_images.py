"""``cnnkit.data.images``: reading image files (grayscale, RGB, transparency, 16 bits, errors), the digits/MNIST
framing (crop to the ink, scale to 20×20, centre in 28×28) and the conversion to a network input."""
import numpy as np
import pytest
from PIL import Image

from cnnkit.data.images import frame_digit, has_light_border, prepare_image, read_image, resize, write_image


def test_frame_digit_crops_scales_and_centres():
    """A 10×5 bar of ink anywhere on a 60×80 canvas: cropped to the bar, padded to a 10×10 square (the bar in
    columns 2..6), scaled to 20×20 (columns 4..13, blurred by one pixel each side) and centred in 28×28 (+4)."""
    framed = []
    for top, left in [(0, 0), (30, 41), (50, 75)]:
        canvas = np.full((60, 80), 3, np.uint8)  # a dark background that is not 0
        canvas[top:top + 10, left:left + 5] = 200
        framed.append(frame_digit(canvas, 28))
    assert all(np.array_equal(f, framed[0]) for f in framed)  # the same wherever it is drawn
    f = framed[0]
    assert f.shape == (28, 28) and f.dtype == np.uint8
    rows, cols = np.flatnonzero(f.any(axis=1)), np.flatnonzero(f.any(axis=0))
    assert (rows[0], rows[-1]) == (4, 23)
    assert (cols[0], cols[-1]) == (7, 18)
    assert f[4:24, 9:17].min() == 200 and f[:, 9:17].sum() == 20 * 8 * 200  # the inside of the bar keeps its value
    # the box is round(size · 20/28) for another size, centred
    g = frame_digit(np.pad(np.full((4, 4), 255, np.uint8), 3), 14)
    assert g.shape == (14, 14) and np.array_equal(np.flatnonzero(g.any(axis=1)), np.arange(2, 12))
    # a blank image has no ink to crop: the whole image is scaled
    assert not frame_digit(np.zeros((5, 9), np.uint8), 28).any()


def test_prepare_image_and_light_border():
    gray = np.arange(28 * 28, dtype=np.int64).reshape(28, 28).astype(np.uint8)
    x = prepare_image(gray, 28)  # already the size: taken as is
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and np.array_equal(x[0] * 255, gray.astype(np.float32))
    rgb = np.random.default_rng(0).integers(0, 256, (45, 60, 3), dtype=np.uint8)
    x = prepare_image(rgb, 32)  # resized whole, channels first
    assert x.shape == (3, 32, 32) and x.flags.c_contiguous
    assert np.array_equal(x, resize(rgb, 32, 32).transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    drawing = np.full((50, 40), 255, np.uint8)
    drawing[10:30, 15:20] = 0
    assert has_light_border(drawing) and not has_light_border(255 - drawing)
    assert np.array_equal(prepare_image(255 - drawing, 28, frame=True)[0],
                          frame_digit(255 - drawing, 28).astype(np.float32) / np.float32(255))
    assert not has_light_border(np.stack([drawing * 0] * 3, axis=2))


def test_read_image(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (7, 9), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    assert np.array_equal(read_image(tmp_path / "gray.png", 1), gray)
    rgb = read_image(tmp_path / "gray.png", 3)  # replicated to RGB
    assert rgb.shape == (7, 9, 3) and all(np.array_equal(rgb[..., c], gray) for c in range(3))
    # 16 bits: v · 257 reads as v
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    assert np.array_equal(read_image(tmp_path / "deep.png", 1), gray)
    # transparent pixels are laid on white
    rgba = np.zeros((7, 9, 4), np.uint8)
    rgba[2:5, 3:6, 3] = 255  # opaque black in the middle
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    expected = np.full((7, 9), 255, np.uint8)
    expected[2:5, 3:6] = 0
    assert np.array_equal(read_image(tmp_path / "alpha.png", 1), expected)


def test_read_image_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image\n")
    with pytest.raises(FileNotFoundError, match="no such image file: .*missing.png"):
        read_image(tmp_path / "missing.png", 1)
    with pytest.raises(IsADirectoryError, match="is a directory, not an image file"):
        read_image(tmp_path, 1)
    with pytest.raises(ValueError, match="notes.txt is not an image file that Pillow can read"):
        read_image(tmp_path / "notes.txt", 1)


def test_write_image_round_trip_scale_and_errors(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(3, 5, 3), dtype=np.uint8)
    path = tmp_path / "sub" / "rgb.png"                       # a missing folder is made
    assert write_image(rgb, path) == str(path)
    np.testing.assert_array_equal(read_image(path, 3), rgb)
    gray = rgb[..., 0]
    write_image(gray, tmp_path / "gray.png", scale=3)
    with Image.open(tmp_path / "gray.png") as im:
        assert im.mode == "L" and im.size == (15, 9)
    big = read_image(tmp_path / "gray.png", 1)
    np.testing.assert_array_equal(big[::3, ::3], gray)
    np.testing.assert_array_equal(big[2::3, 2::3], gray)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gray.png", "sub"]   # no temporary file left
    for bad in (rgb.astype(np.float32), rgb[..., :2], np.zeros((2, 2, 2, 3), np.uint8)):
        with pytest.raises(ValueError, match="write_image: expected uint8 pixels"):
            write_image(bad, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="write_image: scale must be positive"):
        write_image(gray, tmp_path / "bad.png", scale=0)
    assert not (tmp_path / "bad.png").exists()
