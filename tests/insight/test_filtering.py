"""Image kernels and filter_image: the numbers against scipy.ndimage.correlate, the lecture notes' examples,
and one-line errors (the `cnnkit filter` command is tested in tests/cli/test_insight_commands.py)."""
import numpy as np
import pytest
from scipy import ndimage

from cnnkit.insight import filter_image, kernels, sample_image, side_by_side
from cnnkit.insight.filtering import correlate

KERNELS = [kernels.gaussian(5, 1.0), kernels.gaussian(3, 0.7), kernels.box(3), kernels.get("sharpen"),
           kernels.get("sobel_x"), kernels.get("sobel_y"), kernels.get("edge"), kernels.get("laplacian"),
           kernels.get("emboss"), kernels.get("vertical_edge"), kernels.get("edge_1x3"),
           kernels.parse_kernel("[[1, 2, 0, -1, 3], [0, 1, 0, 2, -2], [1, 1, 1, 1, 1]]")]


def scipy_same(image, k):
    planes = image.astype(np.float64)
    if planes.ndim == 2:
        return ndimage.correlate(planes, k, mode="constant", cval=0.0)
    return np.stack([ndimage.correlate(planes[..., c], k, mode="constant", cval=0.0)
                     for c in range(planes.shape[2])], axis=2)


@pytest.mark.parametrize("i", range(len(KERNELS)))
def test_uint8_rgb_equals_scipy_correlate(i):
    rng = np.random.default_rng(i)
    image = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    k = KERNELS[i]
    ref = scipy_same(image, k)
    np.testing.assert_allclose(correlate(image, k), ref, rtol=0, atol=1e-10)
    out = filter_image(image, k)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out, np.clip(np.rint(ref), 0, 255).astype(np.uint8))


def test_float_images_are_clipped_to_their_range():
    rng = np.random.default_rng(1)
    gray = rng.random((12, 9))                              # in [0, 1] -> clipped to [0, 1]
    k = kernels.get("sharpen")
    out = filter_image(gray, k)
    np.testing.assert_allclose(out, np.clip(scipy_same(gray, k), 0, 1), rtol=0, atol=1e-12)
    wide = gray * 40 - 7                                    # [-7, 33]-ish -> clipped to its own min and max
    out = filter_image(wide, k)
    np.testing.assert_allclose(out, np.clip(scipy_same(wide, k), wide.min(), wide.max()), rtol=0, atol=1e-10)


def test_named_kernels():
    g = kernels.gaussian(5, 1.3)
    a = np.arange(5) - 2
    ref = np.exp(-(a[:, None] ** 2 + a[None, :] ** 2) / (2 * 1.3 ** 2))
    np.testing.assert_allclose(g, ref / ref.sum(), rtol=1e-14)
    assert kernels.get("gaussian3").sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(kernels.get("gaussian3") * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(kernels.get("sobel-y"), kernels.get("sobel_x").T)
    np.testing.assert_array_equal(kernels.box(5), np.full((5, 5), 1 / 25))
    identity = kernels.get("identity")
    image = np.random.default_rng(2).integers(0, 256, size=(6, 7), dtype=np.uint8)
    np.testing.assert_array_equal(filter_image(image, identity), image)
    for name in kernels.NAMES:
        k = kernels.get(name)
        assert k.dtype == np.float64 and k.ndim == 2 and k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1


def test_notes_vertical_edge_valid_and_same():
    """Seed 002: a 5×5 image of 10s (left three columns) and 0s with the [1 0 −1] kernel: 'valid' gives columns
    0 30 30, 'same' (padding 1) gives -20 0 20 20 0 on the border rows and -30 0 30 30 0 inside."""
    x = np.tile([10.0, 10, 10, 0, 0], (5, 1))
    same = correlate(x, kernels.get("vertical_edge"))
    np.testing.assert_array_equal(same[0], [-20, 0, 20, 20, 0])
    np.testing.assert_array_equal(same[4], [-20, 0, 20, 20, 0])
    np.testing.assert_array_equal(same[1:4], np.tile([-30.0, 0, 30, 30, 0], (3, 1)))
    np.testing.assert_array_equal(same[1:4, 1:4], np.tile([0.0, 30, 30], (3, 1)))   # the 'valid' part


def test_notes_4x4_same_padding_example():
    """Seed 002: a 4×4 input padded with one ring of zeros keeps 4×4 under a 3×3 kernel."""
    x = np.array([[1, 3, -1, 2], [2, -2, 0, 1], [1, 4, 0, -1], [-1, 0, 3, 2]], dtype=np.float64)
    k = [[0, 1, 0], [1, -1, 1], [0, 1, 0]]
    np.testing.assert_array_equal(correlate(x, k), [[4, -5, 6, -2], [-2, 11, -2, 0], [4, -5, 6, 4], [2, 6, -1, 0]])


def test_sample_photo_and_side_by_side():
    photo = sample_image()
    assert photo.shape == (427, 640, 3) and photo.dtype == np.uint8    # scikit-learn's china.jpg
    from sklearn.datasets import load_sample_image

    np.testing.assert_array_equal(photo, load_sample_image("china.jpg"))
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    both = side_by_side(gray, photo[:3, :4], gap=2)
    assert both.shape == (3, 10, 3) and both.dtype == np.uint8
    np.testing.assert_array_equal(both[:, :4], np.repeat(gray[..., None], 3, axis=2))
    assert (both[:, 4:6] == 255).all()
    np.testing.assert_array_equal(both[:, 6:], photo[:3, :4])
    floats = side_by_side(np.array([[0.0, 0.5]]), np.array([[1.0, 0.25]]), gap=1)   # [0, 1] floats scaled by 255
    np.testing.assert_array_equal(floats, [[0, 128, 255, 255, 64]])


def one_line_error(fn, *args, match=None, **kw):
    with pytest.raises(ValueError, match=match) as e:
        fn(*args, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_bad_arguments_are_one_line_value_errors(tmp_path):
    one_line_error(kernels.gaussian, 4, 1.0, match="gaussian: size must be odd")
    one_line_error(kernels.get, "gaussian", size=6, match="odd")
    one_line_error(kernels.box, 0, match="box: size must be positive")
    one_line_error(kernels.gaussian, 5, 0.0, match="sigma")
    one_line_error(kernels.get, "blurry", match="unknown kernel")
    one_line_error(kernels.get, "sharpen", size=5, match="fixed")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.ones((2, 2)))
    one_line_error(kernels.parse_kernel, str(bad), match="odd")
    np.save(bad, np.ones((3, 3, 3)))
    one_line_error(kernels.parse_kernel, str(bad), match="2-D")
    one_line_error(kernels.parse_kernel, str(tmp_path / "missing.npy"), match="no such file")
    one_line_error(kernels.parse_kernel, "[[1, 2], [3]]", match="2-D")
    one_line_error(kernels.parse_kernel, "[[1, 2,", match="literal")
    one_line_error(filter_image, np.zeros((2, 3, 4, 5)), "sharpen", match="filter_image: .*shape")
