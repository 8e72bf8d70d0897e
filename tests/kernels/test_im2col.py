"""im2col and col2im are each other's adjoint: <im2col(x), C> = <x, col2im(C)> for every geometry."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnnkit.kernels import ConvGeometry, out_size
from cnnkit.kernels.im2col import col2im, im2col
from cnnkit.kernels.layout import crop, place

KERNELS = [(1, 1), (3, 3), (2, 3)]
STRIDES = [(1, 1), (2, 1), (2, 3)]
PADDINGS = [(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 1, 3), (1, -1, 0, -1)]   # (top, bottom, left, right)
DILATIONS = [(1, 1), (2, 1)]
GROUPS_CHANNELS = [(1, 3), (2, 4), (1, 32)]                            # the last: no regrouping by offset


def _geometry(hw, kernel, stride, pad, dilation, groups):
    out = tuple(out_size(hw[i], kernel[i], stride[i], dilation[i], pad[2 * i], pad[2 * i + 1]) for i in range(2))
    return ConvGeometry(hw, out, kernel, stride, dilation, pad, groups) if min(out) >= 1 else None


def _unfold(x, g):
    """x (N, H, W, C) -> columns (N·Ho·Wo, groups, kH·kW·C/groups): zero padding, then im2col."""
    hp, wp = g.extent()
    return im2col(place(x, g.pad[0], g.pad[2], hp, wp), g).copy()


def _fold(cols, g, x_shape):
    """The adjoint of _unfold: col2im onto the padded image, then the crop that undoes the padding."""
    n, h, w, c = x_shape
    hp, wp = g.extent()
    return crop(col2im(cols, g, np.zeros((n, hp, wp, c))), g.pad[0], g.pad[2], h, w)


@pytest.mark.parametrize("kernel,stride,pad,dilation,gc",
                         list(itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS, GROUPS_CHANNELS)), ids=str)
def test_col2im_is_the_adjoint_of_im2col(kernel, stride, pad, dilation, gc):
    groups, c = gc
    g = _geometry((7, 6), kernel, stride, pad, dilation, groups)
    if g is None:
        pytest.skip("the kernel does not fit")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, c))
    cols = _unfold(x, g)
    assert cols.shape == (2 * g.out_hw[0] * g.out_hw[1], groups, kernel[0] * kernel[1] * c // groups)
    a = rng.standard_normal(cols.shape)
    lhs, rhs = np.vdot(cols, a), np.vdot(x, _fold(a, g, x.shape))
    assert abs(lhs - rhs) <= 1e-12 * np.abs(cols * a).sum()      # the scale of the sum's rounding


def test_col2im_counts_the_windows_of_each_pixel():
    """col2im of all-ones columns: how many receptive fields (counting kernel offsets) read each pixel."""
    g = _geometry((5, 5), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    counts = _fold(np.ones((25, 1, 9)), g, (1, 5, 5, 1))[0, :, :, 0]
    edge = [2, 3, 3, 3, 2]
    np.testing.assert_array_equal(counts, np.outer(edge, edge))
