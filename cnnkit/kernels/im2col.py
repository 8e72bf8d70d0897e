"""im2col + GEMM: every receptive field laid out as one row of a matrix (the *columns*), so that the
convolution becomes one matrix product, and col2im, its adjoint.

    cols[(n, h, w), (i, j, c)] = x_pad[n, h·sH + i·dH, w·sW + j·dW, c]

    forward       Y      = cols · W_mat                  (one GEMM per group)
    grad_weight   dW_mat = colsᵀ · dY
    grad_input    dx     = col2im(dY · W_matᵀ)           (col2im adds every row back onto its receptive field)

With stride 1 (and no more output than 1.5 × input channels per group) the input gradient is instead the
"full" correlation of dY with the flipped kernel, channels swapped: columns of dY and one GEMM, no scatter.
Layers with one or three input channels build their columns transposed (see :func:`transposed_columns`).
Images are processed in chunks whose columns fit in ``column_budget`` bytes; columns of at most
``keep_columns`` bytes are kept from the forward pass for the weight gradient.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .config import config
from .layout import ConvGeometry, crop, nchw, nhwc, offset_window, padded_input, place, windows
from .parallel import chunks, over_batch, parts_for, workspace

__all__ = ["im2col", "col2im", "im2col_transposed", "transposed_columns", "weight_matrix", "flipped_weight_matrix",
           "weight_from_matrix", "grouped_matmul", "picks", "handles", "forward", "grad_input", "grad_weight"]


# ----- columns -----------------------------------------------------------------------------------------------------

def transposed_columns(g: ConvGeometry, c: int) -> bool:
    """Whether to build the columns transposed, (kH·kW·C, N, Ho·Wo), from an NCHW padded input.

    Row-major columns copy runs of kW·C contiguous numbers (one kernel row of NHWC input); transposed
    columns copy runs of Wo (one output row of an NCHW plane, stride 1). The longer run wins: the
    transposed layout serves first layers with one or three input channels (Y = colsᵀ · W_mat).
    """
    return g.groups == 1 and g.stride[1] == 1 and g.kernel[1] * c < min(g.out_hw[1], 32)


def im2col(xp: np.ndarray, g: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """The columns (N·Ho·Wo, groups, kH·kW·C/groups) of a padded NHWC input (a copy, into ``out`` or the
    "cols" :func:`workspace`).

    Row (n, h, w), group q holds the receptive field of output pixel (h, w) restricted to q's channels,
    ordered (i, j, c) like the rows of the weight matrix (see :func:`weight_matrix`).
    """
    v = windows(xp, g)
    n, ho, wo, kh, kw, c = v.shape
    gr = g.groups
    shape = (n, ho, wo, gr, kh, kw, c // gr)
    cols = workspace(shape, xp.dtype) if out is None else out.reshape(shape)
    if gr == 1:
        cols[:, :, :, 0] = v
    else:
        cols[...] = v.reshape(n, ho, wo, kh, kw, gr, c // gr).transpose(0, 1, 2, 5, 3, 4, 6)
    return cols.reshape(n * ho * wo, gr, kh * kw * (c // gr))


def col2im(cols: np.ndarray, g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`im2col`: every row of ``cols`` (N·Ho·Wo, groups, kH·kW·C/groups) is added onto
    the receptive field it would have been read from, in the padded NHWC image ``out`` (N, Hp, Wp, C),
    C-contiguous; returns ``out``. One strided ``+=`` per kernel offset (i, j).

    With one group and fewer than 32 channels the columns are first regrouped by offset, (kH·kW, N·Ho·Wo, C),
    so that each addition reads whole image rows (Wo·C contiguous numbers) rather than runs of C.
    """
    n, hp, wp, c = out.shape
    (kh, kw), (ho, wo), gr = g.kernel, g.out_hw, g.groups
    cg = c // gr
    src = cols.reshape(n, ho, wo, gr, kh, kw, cg).transpose(4, 5, 0, 1, 2, 3, 6)  # [i, j]: (N, Ho, Wo, G, Cg)
    if gr == 1 and cg < 32:
        regrouped = workspace(src.shape, cols.dtype, "pad")
        regrouped[...] = src
        src = regrouped
    dst = out.reshape(n, hp, wp, gr, cg)
    for i in range(kh):
        for j in range(kw):
            dst[(slice(None),) + offset_window(g, i, j)] += src[i, j]
    return out


def im2col_transposed(xq: np.ndarray, g: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """The transposed columns (kH·kW·C, N, Ho·Wo) of a padded NCHW input (groups = 1), rows ordered (i, j, c)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = g.kernel, g.stride, g.dilation, g.out_hw
    n, c = xq.shape[:2]
    s0, s1, s2, s3 = xq.strides
    v = as_strided(xq, (kh, kw, c, n, ho, wo), (s2 * dh, s3 * dw, s1, s0, s2 * sh, s3 * sw), writeable=False)
    shape = (kh, kw, c, n, ho, wo)
    cols = workspace(shape, xq.dtype) if out is None else out.reshape(shape)
    cols[...] = v
    return cols.reshape(kh * kw * c, n, ho * wo)


# ----- weights as GEMM matrices ------------------------------------------------------------------------------------

def weight_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """W_mat (groups, kH·kW·C/groups, O/groups): rows ordered (i, j, c) like the columns; contiguous."""
    o, cg, kh, kw = w.shape
    return np.ascontiguousarray(
        w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1)).reshape(groups, kh * kw * cg, o // groups)


def flipped_weight_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """The weight matrix of the input gradient seen as a convolution of dY (stride 1):
    (groups, kH·kW·O/groups, C/groups), rows ordered (i', j', o) with the kernel flipped (i' = kH − 1 − i)."""
    o, cg, kh, kw = w.shape
    og = o // groups
    flipped = w.reshape(groups, og, cg, kh, kw)[:, :, :, ::-1, ::-1]
    return np.ascontiguousarray(flipped.transpose(0, 3, 4, 1, 2)).reshape(groups, kh * kw * og, cg)


def weight_from_matrix(wm: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo :func:`weight_matrix`: (groups, kH·kW·Cg, Og) -> (O, Cg, kH, kW)."""
    o, cg, kh, kw = shape
    gr = wm.shape[0]
    return np.ascontiguousarray(wm.reshape(gr, kh, kw, cg, o // gr).transpose(0, 4, 3, 1, 2)).reshape(shape)


def grouped_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[:, q] = a[:, q] @ b[q] for a (P, G, K), b (G, K, M), out (P, G, M): one BLAS GEMM per group."""
    if a.shape[1] == 1:
        np.matmul(a[:, 0], b[0], out=out[:, 0])
    else:
        np.matmul(a.transpose(1, 0, 2), b, out=out.transpose(1, 0, 2))
    return out


# ----- the algorithm -----------------------------------------------------------------------------------------------

def picks(g: ConvGeometry, n: int, c: int, o: int) -> bool:
    """im2col computes whatever no earlier algorithm of the ladder took."""
    return True


def handles(g: ConvGeometry, c: int, o: int) -> bool:
    """im2col computes every convolution."""
    return True


def forward(x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep: bool):
    """(Y, kept): Y = cols · W_mat, NCHW-shaped in NHWC memory; ``kept`` the columns when ``keep`` and they
    take at most ``keep_columns`` bytes (built chunk by chunk into one array), else None."""
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo = g.out_hw
    gr = g.groups
    wm = weight_matrix(w, gr)
    k = wm.shape[1]
    transposed = transposed_columns(g, c)
    y = np.empty((n, ho, wo, o), x.dtype)
    per_image = ho * wo * k * gr
    nbytes = n * per_image * x.dtype.itemsize
    keep = keep and n > 0 and nbytes <= config().keep_columns
    kept = None
    if keep:
        kept = np.empty((k, n, ho * wo) if transposed else (n * ho * wo, gr, k), x.dtype)
    parts = parts_for(n, n * per_image)

    def part(a, b):
        for c0, c1 in chunks(a, b, per_image * x.dtype.itemsize, parts):
            xp = padded_input(x[c0:c1], g, transposed)
            if transposed:
                cols = im2col_transposed(xp, g, None if kept is None else kept[:, c0:c1])
                np.matmul(cols.reshape(k, -1).T, wm[0], out=y[c0:c1].reshape(-1, o))
            else:
                cols = im2col(xp, g, None if kept is None else kept[c0 * ho * wo:c1 * ho * wo])
                grouped_matmul(cols, wm, y[c0:c1].reshape(-1, gr, o // gr))

    over_batch(part, n, n * per_image)
    return nchw(y), kept


def grad_input(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx for dy ``gy`` (NCHW-shaped, any memory layout), NCHW-shaped.

    With stride 1 and no more output than 1.5 × input channels per group: the correlation of dY,
    zero-padded by dilation·(k − 1) − pad, with the flipped kernel whose in/out channels are swapped
    (columns of dY and one GEMM, no scatter). Otherwise col2im(dY · W_matᵀ), chunk by chunk.
    """
    n, c, h, w_ = x_shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = g.stride, g.dilation
    gr = g.groups
    if not (sh == 1 and sw == 1 and 2 * (o // gr) <= 3 * cg):
        return nchw(_grad_input_by_col2im(gy, w, g, x_shape))
    top, left = dh * (kh - 1) - g.pad[0], dw * (kw - 1) - g.pad[2]
    hp, wp = h + dh * (kh - 1), w_ + dw * (kw - 1)
    gyn = nhwc(gy)
    gx = np.empty((n, h, w_, c), gy.dtype)
    wm = flipped_weight_matrix(w, gr)
    corr = ConvGeometry((hp, wp), (h, w_), (kh, kw), (1, 1), (dh, dw), (0, 0, 0, 0), gr)
    per_image = h * w_ * wm.shape[1] * gr
    parts = parts_for(n, n * per_image)

    def part(a, b):
        for c0, c1 in chunks(a, b, per_image * gy.dtype.itemsize, parts):
            cols = im2col(place(gyn[c0:c1], top, left, hp, wp, True), corr)
            grouped_matmul(cols, wm, gx[c0:c1].reshape(-1, gr, cg))

    over_batch(part, n, n * per_image)
    return nchw(gx)


def _grad_input_by_col2im(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx = col2im(dY · W_matᵀ) for any stride, as NHWC cropped from the padded gradient: per chunk of images,
    one GEMM per group gives the column gradient (N·Ho·Wo, groups, kH·kW·Cg), which col2im scatters."""
    n, c, h, w_ = x_shape
    o, cg, kh, kw = w.shape
    ho, wo = g.out_hw
    gr = g.groups
    hp, wp = g.extent()
    gxp = np.zeros((n, hp, wp, c), gy.dtype)
    wk = weight_matrix(w, gr).transpose(0, 2, 1)                           # (groups, O/groups, kH·kW·Cg)
    gyn = nhwc(gy)
    per_image = ho * wo * kh * kw * c
    parts = parts_for(n, n * per_image)

    def part(a, b):
        for c0, c1 in chunks(a, b, per_image * gy.dtype.itemsize, parts):
            gyc = np.ascontiguousarray(gyn[c0:c1]).reshape(-1, gr, o // gr)
            gcols = grouped_matmul(gyc, wk, workspace((gyc.shape[0], gr, kh * kw * cg), gy.dtype))
            col2im(gcols, g, gxp[c0:c1])

    over_batch(part, n, n * per_image)
    return crop(gxp, g.pad[0], g.pad[2], h, w_)


def grad_weight(x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                kept: np.ndarray | None) -> np.ndarray:
    """dW_mat = colsᵀ · dY, reshaped to (O, C/groups, kH, kW); the columns are rebuilt from x (chunk by
    chunk), unless the forward pass ``kept`` them. Each part of the batch sums its own share."""
    o, cg, kh, kw = w_shape
    gr = g.groups
    gyn = nhwc(gy)
    n = gy.shape[0]
    k = kh * kw * cg
    ho, wo = g.out_hw
    transposed = transposed_columns(g, cg * gr)
    per_image = ho * wo * k * gr
    parts = parts_for(n, n * per_image)

    def part(a, b):
        total = np.zeros((gr, k, o // gr), gy.dtype)
        term = np.empty_like(total)
        ranges = [(a, b)] if kept is not None else chunks(a, b, per_image * gy.dtype.itemsize, parts)
        for c0, c1 in ranges:
            gyc = np.ascontiguousarray(gyn[c0:c1]).reshape(-1, gr, o // gr)
            if transposed:
                cols = kept[:, c0:c1] if kept is not None else im2col_transposed(padded_input(x[c0:c1], g, True), g)
                np.matmul(cols.reshape(k, -1), gyc[:, 0], out=term[0])
            else:
                cols = kept[c0 * ho * wo:c1 * ho * wo] if kept is not None else im2col(padded_input(x[c0:c1], g), g)
                np.matmul(cols.transpose(1, 2, 0), gyc.transpose(1, 0, 2), out=term)
            total += term
        return total

    results = over_batch(part, n, n * per_image)
    return weight_from_matrix(sum(results[1:], results[0]), w_shape)
