"""Winograd's F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray, 2016).

A 2×2 output tile of a 3×3 correlation, for the 4×4 input tile d (tiles 2 apart) and the kernel g, is

    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

16 multiplications per tile and channel pair instead of 36. Over channels the element-wise product becomes
16 GEMMs, M[ξ] = V[ξ] · U[ξ] with V = Bᵀ d B (tiles × C) and U = G g Gᵀ (C × O), so the GEMM work drops
2.25×; the transforms are a few passes over the data. By the chain rule:

    grad_input    the same correlation of dY (padded) with the kernel rotated by 180°, channels swapped
    grad_weight   dM = A dY Aᵀ,  dU[ξ] = V[ξ]ᵀ · dM[ξ],  dW = Gᵀ dU G
"""
from __future__ import annotations

import numpy as np

from .config import config
from .layout import ConvGeometry, nchw, nhwc, place
from .parallel import over_batch, over_images_or_rows, workspace

__all__ = ["picks", "handles", "forward", "grad_input", "grad_weight", "transformed_kernels"]

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
_TG = np.kron(_G, _G)     # (16, 9): U = G g Gᵀ for a flattened 3×3 kernel
_TA = np.kron(_AT, _AT)   # (4, 16): Y = Aᵀ M A for a flattened 4×4 tile


def handles(g: ConvGeometry, c: int, o: int) -> bool:
    """Winograd F(2×2, 3×3) computes 3×3 convolutions with stride 1, dilation 1 and one group."""
    return g.kernel == (3, 3) and g.stride == (1, 1) and g.dilation == (1, 1) and g.groups == 1


def picks(g: ConvGeometry, n: int, c: int, o: int) -> bool:
    """... and is chosen for those with at least ``winograd_min_channels`` input and output channels and an
    output of at least ``winograd_min_map`` rows and columns (its float32 error on smaller maps: see config)."""
    cfg = config()
    return handles(g, c, o) and min(c, o) >= cfg.winograd_min_channels and min(g.out_hw) >= cfg.winograd_min_map


def _tiles(out_hw: tuple) -> tuple:
    return (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2


def _input_transform(xn: np.ndarray, top: int, left: int, th: int, tw: int, out: np.ndarray) -> np.ndarray:
    """V = Bᵀ d B for every 4×4 tile of the (padded) NHWC input: out (16, N·th·tw, C), ξ = (row, col) of the tile.

    Separable: first along the tile rows on whole image rows, then along the tile columns. ``out`` may be a
    slice of a larger V (it is written through views, never copied)."""
    xp = place(xn, top, left, 2 * th + 2, 2 * tw + 2, True)
    n, _, wp, c = xp.shape
    rows = workspace((4, n, th, wp, c), xp.dtype, "aux")
    r = [xp[:, a:a + 2 * th:2] for a in range(4)]
    np.subtract(r[0], r[2], out=rows[0])
    np.add(r[1], r[2], out=rows[1])
    np.subtract(r[2], r[1], out=rows[2])
    np.subtract(r[1], r[3], out=rows[3])
    v = out.reshape(4, 4, n, th, tw, c)
    for a in range(4):
        q = [rows[a][:, :, b:b + 2 * tw:2] for b in range(4)]
        np.subtract(q[0], q[2], out=v[a, 0])
        np.add(q[1], q[2], out=v[a, 1])
        np.subtract(q[2], q[1], out=v[a, 2])
        np.subtract(q[1], q[3], out=v[a, 3])
    return out


def _output_transform(m: np.ndarray, out: np.ndarray, th: int, tw: int) -> None:
    """out (N, Ho, Wo, O) = Aᵀ M A for every tile, M (16, N·th·tw, O) or (16, N, th, tw, O) (a slice of a
    larger M is fine): one GEMM (4×16)·(16, tiles·O), then each of the 4 results to its place in the 2×2 tiles
    (faster than the separable form with additions, which writes the output four times over)."""
    n, ho, wo, o = out.shape
    y = np.matmul(_TA.astype(m.dtype), m.reshape(16, -1), out=workspace((4, n * th * tw * o), m.dtype, "aux"))
    y = y.reshape(2, 2, n, th, tw, o).transpose(2, 3, 0, 4, 1, 5)          # (n, th, 2, tw, 2, O)
    if (ho, wo) == (2 * th, 2 * tw):
        out.reshape(n, th, 2, tw, 2, o)[...] = y
    else:
        out[...] = y.reshape(n, 2 * th, 2 * tw, o)[:, :ho, :wo]


def _output_grad_transform(gyn: np.ndarray, th: int, tw: int, out: np.ndarray) -> None:
    """dM = A dY Aᵀ for the 2×2 tiles of dY (NHWC, zero beyond its edge): out (16, N·th·tw, O), a slice is fine.

    A = [[1, 0], [1, 1], [1, −1], [0, −1]] maps a pair (y₀, y₁) to (y₀, y₀ + y₁, y₀ − y₁, −y₁)."""
    n, _, _, o = gyn.shape
    d = place(gyn, 0, 0, 2 * th, 2 * tw, True)
    q = workspace((4, n, th, 2 * tw, o), gyn.dtype, "aux")
    d0, d1 = d[:, 0::2], d[:, 1::2]
    q[0] = d0
    np.add(d0, d1, out=q[1])
    np.subtract(d0, d1, out=q[2])
    np.negative(d1, out=q[3])
    dm = out.reshape(4, 4, n, th, tw, o)
    for a in range(4):
        e0, e1 = q[a][:, :, 0::2], q[a][:, :, 1::2]
        dm[a, 0] = e0
        np.add(e0, e1, out=dm[a, 1])
        np.subtract(e0, e1, out=dm[a, 2])
        np.negative(e1, out=dm[a, 3])


def transformed_kernels(w: np.ndarray, flipped: bool = False) -> np.ndarray:
    """Uᵀ = (G g Gᵀ)ᵀ for every (o, c): (16, O, C) from an (O, C, 3, 3) weight, one GEMM with no copy of w.

    ``flipped``: the kernel rotated by 180° (the input gradient's correlation), which reverses the 9 taps."""
    o, c = w.shape[:2]
    tg = _TG[:, ::-1] if flipped else _TG
    return np.matmul(tg.astype(w.dtype), w.reshape(o * c, 9).T).reshape(16, o, c)


def _images_per_chunk(n: int, th: int, tw: int, width: int, itemsize: int) -> int:
    """Images per chunk: V and M of a chunk, (16, images·th·tw, width) each, fit in ``column_budget``."""
    return max(1, config().column_budget // max(2 * 16 * th * tw * width * itemsize, 1))


def _correlate(xn: np.ndarray, u: np.ndarray, top: int, left: int, out: np.ndarray,
               v_keep: np.ndarray | None = None) -> None:
    """out (N, Ho, Wo, O) = the 3×3 stride-1 correlation of the NHWC input xn (offset by top/left padding)
    with the transformed kernel u (16, C, O); the input transform goes to ``v_keep`` (16, N·th·tw, C) when
    given (kept for the weight gradient).

    Chunk by chunk of images, in three phases: the input transform, the 16 GEMMs M[ξ] = V[ξ]·U[ξ] (one
    batched matmul; BLAS's threads split each GEMM), the output transform. With ``split_blas_kernels`` each
    phase is split over our threads instead: the transforms over images (or over the tile rows of a
    batch smaller than the threads), the GEMMs over ξ (whole GEMMs, efficient even for a few 7×7 images)."""
    n, ho, wo, o = out.shape
    c = xn.shape[3]
    th, tw = _tiles((ho, wo))
    per = th * tw
    size = xn.dtype.itemsize
    step = _images_per_chunk(n, th, tw, max(c, o), size)
    for c0 in range(0, n, step):
        c1 = min(n, c0 + step)
        t = (c1 - c0) * per
        v = v_keep[:, c0 * per:c1 * per] if v_keep is not None else workspace((16, t, c), xn.dtype)
        m = workspace((16, t, o), xn.dtype, "out")
        v5 = v.reshape(16, c1 - c0, th, tw, c)
        m5 = m.reshape(16, c1 - c0, th, tw, o)

        def transform_input(i0, i1, r0, r1, c0=c0, v5=v5):
            _input_transform(xn[c0 + i0:c0 + i1], top - 2 * r0, left, r1 - r0, tw, v5[:, i0:i1, r0:r1])

        def multiply(a, b, v=v, m=m):
            np.matmul(v[a:b], u[a:b], out=m[a:b])

        def transform_output(i0, i1, r0, r1, c0=c0, m5=m5):
            _output_transform(m5[:, i0:i1, r0:r1], out[c0 + i0:c0 + i1, 2 * r0:min(2 * r1, ho)], r1 - r0, tw)

        over_images_or_rows(transform_input, c1 - c0, th, 16 * t * c)
        over_batch(multiply, 16, 16 * t * max(c, o))
        over_images_or_rows(transform_output, c1 - c0, th, 16 * t * o)


def forward(x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep: bool):
    """(Y, kept): Y NCHW-shaped in NHWC memory; ``kept`` the input transform V (16, N·th·tw, C) when ``keep``
    and it takes at most ``keep_columns`` bytes, else None."""
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo = g.out_hw
    th, tw = _tiles((ho, wo))
    y = np.empty((n, ho, wo, o), x.dtype)
    keep = keep and n > 0 and 16 * n * th * tw * c * x.dtype.itemsize <= config().keep_columns
    kept = np.empty((16, n * th * tw, c), x.dtype) if keep else None
    _correlate(nhwc(x), transformed_kernels(w).transpose(0, 2, 1), g.pad[0], g.pad[2], y, kept)
    return nchw(y), kept


def grad_input(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx: the correlation of dY, zero-padded by 2 − pad, with the flipped kernel, channels swapped."""
    n, c, h, w_ = x_shape
    top, left = 2 - g.pad[0], 2 - g.pad[2]
    gx = np.empty((n, h, w_, c), gy.dtype)
    _correlate(nhwc(gy), transformed_kernels(w, flipped=True), top, left, gx)
    return nchw(gx)


def grad_weight(x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                kept: np.ndarray | None) -> np.ndarray:
    """dW = Gᵀ-transform of dU, dU[ξ] = Σ_chunks V[ξ]ᵀ · dM[ξ] (the 16 GEMMs split over threads by ξ); V is
    the ``kept`` input transform, or rebuilt from x chunk by chunk."""
    o, c = w_shape[:2]
    gyn = nhwc(gy)
    n, ho, wo = gyn.shape[:3]
    th, tw = _tiles((ho, wo))
    per = th * tw
    # With the transforms kept: one GEMM per ξ over the whole batch (faster than accumulating chunk by chunk).
    step = n if kept is not None else _images_per_chunk(n, th, tw, max(c, o), gyn.dtype.itemsize)
    du = np.empty((16, o, c), gyn.dtype)                                     # dUᵀ
    for c0 in range(0, n, step):
        c1 = min(n, c0 + step)
        t = (c1 - c0) * per
        dm = workspace((16, t, o), gyn.dtype, "out")
        if kept is not None:
            v = kept[:, c0 * per:c1 * per]
        else:
            v = workspace((16, t, c), gyn.dtype)

            v5 = v.reshape(16, c1 - c0, th, tw, c)

            def transform_input(i0, i1, r0, r1, c0=c0, v5=v5):
                _input_transform(nhwc(x[c0 + i0:c0 + i1]), g.pad[0] - 2 * r0, g.pad[2], r1 - r0, tw,
                                 v5[:, i0:i1, r0:r1])

            over_images_or_rows(transform_input, c1 - c0, th, 16 * t * c)
        dm5 = dm.reshape(16, c1 - c0, th, tw, o)

        def transform_grad(i0, i1, r0, r1, c0=c0, dm5=dm5):
            _output_grad_transform(gyn[c0 + i0:c0 + i1, 2 * r0:2 * r1], r1 - r0, tw, dm5[:, i0:i1, r0:r1])

        def multiply(a, b, v=v, dm=dm, first=c0 == 0):
            if first:
                np.matmul(dm[a:b].transpose(0, 2, 1), v[a:b], out=du[a:b])
            else:
                du[a:b] += np.matmul(dm[a:b].transpose(0, 2, 1), v[a:b])

        over_images_or_rows(transform_grad, c1 - c0, th, 16 * t * o)
        over_batch(multiply, 16, 16 * t * max(c, o))
    if n == 0:
        du[...] = 0
    return np.matmul(du.reshape(16, o * c).T, _TG.astype(du.dtype)).reshape(w_shape)   # (O·C, 16)·(16, 9)
