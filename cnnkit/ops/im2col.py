"""im2col / col2im and the three kernels of a 2-d convolution, on raw arrays.

A convolution with weight W of shape (O, C/g, kH, kW) maps an input x of shape
(N, C, H, W) to y of shape (N, O, Ho, Wo):

    y[n, o, h, w] = Σ_{c, i, j} x_pad[n, c, h·sH + i·dH, w·sW + j·dW] · W[o, c, i, j]      (c within o's group)

    Ho = ⌊(H + pad_top + pad_bottom − dH·(kH − 1) − 1) / sH⌋ + 1      (Wo alike)

**im2col** lays every receptive field out as one row of a matrix (the
*columns*), so the convolution becomes one matrix product (GEMM):

    cols[(n, h, w), (i, j, c)] = x_pad[n, h·sH + i·dH, w·sW + j·dW, c]        Y = cols · W_mat

The three kernels below are what a convolution layer needs:

* ``conv_forward``      Y = cols · W_mat
* ``conv_grad_weight``  dW_mat = colsᵀ · dY
* ``conv_grad_input``   dx = col2im(dY · W_matᵀ): every row of dY · W_matᵀ is added back to the
  receptive field it came from. With stride 1 this equals a "full" correlation of dY with the
  flipped, transposed kernel, which is computed like the forward pass (no scatter-add at all).

The backward-data pass of a convolution is the forward pass of a transposed convolution and vice versa,
so ``cnnkit/ops/conv.py`` builds both ops from these three kernels.

Memory layout. Arrays are NCHW-shaped at the boundary (PyTorch's convention),
but the kernels compute channels-last (NHWC): a receptive field is then
kW·C contiguous numbers, one GEMM covers many images, and its result *is*
the output in NHWC memory, returned as an NCHW-shaped view (no transpose
back). Inputs may arrive in either memory layout. Per layer shape:

* 1×1 convolutions (no padding) skip im2col: a plain GEMM in whichever layout the input already has;
* depthwise convolutions (one input channel per group) use ``einsum`` on strided views (no GEMM);
* few output pixels for many channels (N·Ho·Wo ≤ O, one group: ResNet's last stages, any layer at batch 1)
  build their columns in the weight's own (c, i, j) order, so that the weights are used as they are
  (see :func:`weight_order`);
* 3×3 stride-1 convolutions with ≥ 32 channels use Winograd's F(2×2, 3×3) (2.25× fewer multiplications);
* everything else uses im2col + GEMM (a batched GEMM over the groups); layers with one or three input
  channels build their columns transposed (see :func:`transposed_columns`).

Threads and memory. The kernels built on GEMMs run on the calling thread and let BLAS's threads split each
GEMM (see ``SPLIT_BLAS_KERNELS`` for why); the depthwise kernels, which call no BLAS, split the batch over
``THREADS`` threads of their own. Images are processed in chunks whose columns stay within
``COLUMN_BUDGET`` bytes (sized for the L3 cache). The only Python loops are over threads and chunks, over
the kH·kW kernel offsets (col2im, weight-order columns) and over the 4 rows of a Winograd tile.
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

COLUMN_BUDGET = 8 * 2 ** 20
"""Bytes of im2col columns (or of Winograd transforms) built at once; a larger layer is processed in chunks of
images, each built and multiplied while it is still in the L3 cache (32 MiB here). Measured forward +
backward against a single 256 MiB chunk: AlexNet's conv2 (batch 4) 22.8 vs 26.5 ms, a VGG 64@56×56 layer
13.5 vs 15.4 ms, a 5×5 32→64 layer at 28×28 (batch 8) 11.1 vs 12.6 ms; 4 MiB chunks were slower on ResNet's
14×14 and 7×7 layers (whose GEMMs then get too thin)."""

KEEP_COLUMNS = 32 * 2 ** 20
"""Columns (or Winograd input transforms) up to this many bytes are kept from the forward pass (built chunk by
chunk into one array) for the weight gradient; larger ones are rebuilt from the input, chunk by chunk.
Keeping saves a copy but holds several times the input's memory until the backward pass. Measured: a
ResNet-50 training step (batch 4, 224×224) peaked at 1,262 MiB above the model keeping up to 32 or 64 MiB
per layer, 1,234 MiB up to 16 MiB, 1,181 MiB keeping none; forward + backward took, keeping up to 32 MiB /
up to 16 MiB / none: AlexNet's conv1 (batch 4, 17 MiB of columns) 7.4 / 11.1 / 11.0 ms, a 5×5 32→64 layer
(batch 8, 28×28, 20 MiB) 11.4 / 13.2 / 13.2 ms, a VGG layer (batch 4, 64@56×56, 12.8 MiB) 16.9 / 16.6 /
21.6 ms."""


def _default_threads() -> int:
    for var in ("CNNKIT_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


THREADS = _default_threads()
"""Parts the batch is split into (CNNKIT_NUM_THREADS, else OMP_/OPENBLAS_NUM_THREADS, else the usable cores)."""

PARALLEL_MIN = 1 << 18
"""Work (elements of columns or outputs) below which a kernel runs on the calling thread only."""

CHUNKS_PER_THREAD = 2
"""Pieces of the batch per thread (claimed dynamically, so that a slowed-down core does less)..."""

PIECE_MIN = 1 << 20
"""... as long as each piece keeps this much work (elements); smaller GEMMs would run less efficiently."""

SPLIT_BLAS_KERNELS = False
"""Split the kernels whose work is mostly GEMMs (im2col, Winograd, 1×1, weight order) over our threads, each
with a single-threaded BLAS? Off: they run on the calling thread, and BLAS's own threads split the GEMMs. Measured
on a ResNet-18 training step (batch 8, 112×112, 2 cores): 122 ms with BLAS's threads, 151 ms split over ours.
After each multi-threaded GEMM, OpenBLAS's idle workers keep spinning for 2^28 cycles (about 0.1 s) and take
the second core from our worker; with that spin turned off (OPENBLAS_THREAD_TIMEOUT=4, which a library cannot
set once NumPy is loaded) the two schedules come within 7% (123 ms split, 131 ms), since the copies and
transforms around the GEMMs are limited by memory bandwidth, not by cores. The depthwise kernels (einsum,
no BLAS) are always split."""

PIN_THREADS = True
"""Pin each worker thread to its own core (the calling thread keeps the first). A sleeping worker woken on
the caller's busy core otherwise waits for the scheduler's next balancing tick (~10 ms) before it moves."""


# ----- threads ---------------------------------------------------------------------------------------------------

_local = threading.local()   # per thread: scratch buffers, and whether it is running a part of a parallel kernel
_all_buffers: list = []      # every thread's scratch buffers, for release_workspace
_pool: ThreadPoolExecutor | None = None
_blas_libs: list | None = None


def _forget_pool() -> None:
    global _pool
    _pool = None


_pinned = 0
_pin_lock = threading.Lock()


def _pin_worker() -> None:
    """Initializer of a worker thread: bind it to the next allowed core after the first (if the OS lets us)."""
    global _pinned
    if not PIN_THREADS or not hasattr(os, "sched_setaffinity"):
        return
    try:
        cpus = sorted(os.sched_getaffinity(0))
        with _pin_lock:
            _pinned += 1
            cpu = cpus[_pinned % len(cpus)]
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpu})  # 0 = the calling thread
    except OSError:
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)  # a forked child has none of the parent's threads


def _blas_controllers() -> list:
    """threadpoolctl's handles on the loaded BLAS libraries (empty if threadpoolctl is missing)."""
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas_libs = [lc for lc in ThreadpoolController().lib_controllers if lc.user_api == "blas"]
        except Exception:  # threadpoolctl missing or unable to inspect the process: leave BLAS alone
            _blas_libs = []
    return _blas_libs


@contextmanager
def _single_threaded_blas():
    """BLAS runs on one thread inside (our threads already occupy the cores); restored afterwards."""
    libs = _blas_controllers()
    before = [lc.get_num_threads() for lc in libs]
    for lc in libs:
        lc.set_num_threads(1)
    try:
        yield
    finally:
        for lc, k in zip(libs, before):
            lc.set_num_threads(k)


def parts_for(n: int, work: int, blas: bool = True) -> int:
    """How many parts a kernel over n images with ``work`` elements is split into (``blas``: a kernel whose
    work is mostly GEMMs, split only with ``SPLIT_BLAS_KERNELS``)."""
    if work < PARALLEL_MIN or getattr(_local, "inside", False) or (blas and not SPLIT_BLAS_KERNELS):
        return 1
    return max(1, min(THREADS, n))


def over_batch(fn, n: int, work: int, blas: bool = True) -> list:
    """Run ``fn(n0, n1)`` over the batch [0, n) on :func:`parts_for` threads, BLAS being single-threaded
    meanwhile; returns the results in batch order.

    The batch is cut into up to ``CHUNKS_PER_THREAD`` pieces per thread (of at least ``PIECE_MIN`` work),
    which the threads claim as they become free (a core slowed down by something else then does less of the work). The worker threads
    take pieces from the front, the calling thread from the back: it has usually just written the arrays
    involved (an input copy, an incoming gradient), and their tail is still in its core's cache."""
    global _pool
    parts = parts_for(n, work, blas)
    if parts <= 1:
        return [fn(0, n)]
    if _pool is None or _pool._max_workers < parts - 1:
        _pool = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="cnnkit-conv", initializer=_pin_worker)
    pieces = min(n, max(parts, min(parts * CHUNKS_PER_THREAD, work // PIECE_MIN)))
    bounds = [n * i // pieces for i in range(pieces + 1)]
    results = [None] * pieces
    lock = threading.Lock()
    ends = [0, pieces]                       # the next piece from the front, one past the next from the back

    def run(front: bool) -> None:
        _local.inside = True
        try:
            while True:
                with lock:
                    if ends[0] >= ends[1]:
                        return
                    if front:
                        i = ends[0]
                        ends[0] += 1
                    else:
                        ends[1] -= 1
                        i = ends[1]
                results[i] = fn(bounds[i], bounds[i + 1])
        finally:
            _local.inside = False

    with _single_threaded_blas():
        futures = [_pool.submit(run, True) for _ in range(parts - 1)]
        try:
            run(False)
        finally:
            wait(futures)  # the other threads write into shared arrays: never leave before they are done
    for f in futures:
        f.result()  # re-raises a worker's exception
    return results


def over_images_or_rows(fn, n: int, rows: int, work: int) -> None:
    """Run ``fn(i0, i1, r0, r1)`` over images [i0, i1) × rows [r0, r1) of a batch of n images of ``rows``
    rows each: split over the images when there are at least as many as threads, else (a batch of one
    at inference) over the rows."""
    if n >= THREADS or rows < 2:
        over_batch(lambda a, b: fn(a, b, 0, rows), n, work)
    else:
        over_batch(lambda a, b: fn(0, n, a, b), rows, work)


def workspace(shape: tuple, dtype, slot: str = "cols") -> np.ndarray:
    """A scratch array that is used up before the next request for the same ``slot`` (one buffer per slot
    and thread, grown as needed): "cols" for columns, "pad" for a padded input.

    A fresh buffer of megabytes costs more in page faults than filling it does; these stay mapped.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
        _all_buffers.append(buffers)
    buf = buffers.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[slot] = np.empty(max(nbytes, 1), np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def release_workspace() -> None:
    """Free the scratch buffers of every thread (they are allocated again by the next convolution)."""
    for buffers in _all_buffers:
        buffers.clear()


def _chunks(a: int, b: int, bytes_per_image: int, parts: int):
    """The image ranges of part [a, b) whose columns fit in this part's share of ``COLUMN_BUDGET``."""
    step = max(1, (COLUMN_BUDGET // parts) // max(bytes_per_image, 1))
    for c0 in range(a, b, step):
        yield c0, min(c0 + step, b)


# ----- geometry ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvGeometry:
    """Everything about a convolution except the values: sizes, kernel, stride, dilation, padding, groups.

    ``in_hw`` is the (padding-free) input size and ``out_hw`` the output size; ``pad`` is
    (top, bottom, left, right). A negative bottom/right pad means trailing input rows that no window
    reaches (this happens in the convolution seen from a transposed convolution with output_padding).
    """

    in_hw: tuple
    out_hw: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad: tuple
    groups: int

    @property
    def pointwise(self) -> bool:
        """A 1×1 kernel that reads no padding: the convolution is a GEMM on (sub-sampled) pixels."""
        (kh, kw), (sh, sw), (ho, wo), (h, w) = self.kernel, self.stride, self.out_hw, self.in_hw
        return (kh == kw == 1 and self.pad[0] == 0 and self.pad[2] == 0
                and (ho - 1) * sh < h and (wo - 1) * sw < w)

    def extent(self) -> tuple:
        """Rows and columns of the padded input that the windows touch."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out_hw
        return (ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1


def out_size(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    """⌊(n + lo + hi − d·(k − 1) − 1) / s⌋ + 1 (may be < 1 when the kernel does not fit)."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


# ----- layout helpers ----------------------------------------------------------------------------------------------

def nhwc(a: np.ndarray) -> np.ndarray:
    """The channels-last view of an NCHW-shaped array (no copy)."""
    return a.transpose(0, 2, 3, 1)


def nchw(a: np.ndarray) -> np.ndarray:
    """The NCHW-shaped view of a channels-last array (no copy)."""
    return a.transpose(0, 3, 1, 2)


def is_channels_last(a: np.ndarray) -> bool:
    """Whether an NCHW-shaped (4-d) array lives in NHWC memory (its channels-last view is C-contiguous)."""
    return a.ndim == 4 and a.transpose(0, 2, 3, 1).flags.c_contiguous


def offset_window(g: ConvGeometry, i: int, j: int) -> tuple:
    """The slices (rows, columns) of the padded input that kernel offset (i, j) reads over all output pixels:
    rows i·dH, i·dH + sH, …, i·dH + (Ho − 1)·sH (columns alike). col2im adds each offset's gradient there."""
    (sh, sw), (dh, dw), (ho, wo) = g.stride, g.dilation, g.out_hw
    return slice(i * dh, i * dh + (ho - 1) * sh + 1, sh), slice(j * dw, j * dw + (wo - 1) * sw + 1, sw)


def place(x: np.ndarray, top: int, left: int, hp: int, wp: int, scratch: bool = False) -> np.ndarray:
    """A C-contiguous (N, hp, wp, C) array z with z[:, i, j] = x[:, i − top, j − left] where that exists, else 0.

    ``x`` is NHWC-shaped (any memory layout). This is zero padding (positive offsets) and cropping
    (negative offsets, or hp/wp smaller than needed) in one copy; it also converts the memory to NHWC.
    With ``scratch`` the result lives in the "pad" :func:`workspace`.
    """
    n, h, w, c = x.shape
    if top == 0 and left == 0 and hp == h and wp == w and x.flags.c_contiguous:
        return x
    z = workspace((n, hp, wp, c), x.dtype, "pad") if scratch else np.empty((n, hp, wp, c), x.dtype)
    r0, r1 = max(0, -top), min(h, hp - top)
    c0, c1 = max(0, -left), min(w, wp - left)
    if r1 <= r0 or c1 <= c0:
        z[...] = 0
        return z
    a, b, e, f = r0 + top, r1 + top, c0 + left, c1 + left
    z[:, :a] = 0
    z[:, b:] = 0
    z[:, a:b, :e] = 0
    z[:, a:b, f:] = 0
    z[:, a:b, e:f] = x[:, r0:r1, c0:c1]
    return z


def crop(xp: np.ndarray, top: int, left: int, h: int, w: int) -> np.ndarray:
    """x[:, i, j] = xp[:, i + top, j + left] for an (N, h, w, C) result: a view when xp covers it, else a copy."""
    if top >= 0 and left >= 0 and top + h <= xp.shape[1] and left + w <= xp.shape[2]:
        return xp[:, top:top + h, left:left + w]
    return place(xp, -top, -left, h, w)


# ----- im2col ------------------------------------------------------------------------------------------------------

def windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The read-only strided view (N, Ho, Wo, kH, kW, C) of every receptive field of the padded NHWC input."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = g.kernel, g.stride, g.dilation, g.out_hw
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (xp.shape[0], ho, wo, kh, kw, xp.shape[3]),
                      (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


def transposed_columns(g: ConvGeometry, c: int) -> bool:
    """Whether to build the columns transposed, (kH·kW·C, N, Ho·Wo), from an NCHW padded input.

    Row-major columns copy runs of kW·C contiguous numbers (one kernel row of NHWC input); transposed
    columns copy runs of Wo (one output row of an NCHW plane, stride 1). The longer run wins: the
    transposed layout serves first layers with one or three input channels (Y = colsᵀ · W_mat).
    """
    return g.groups == 1 and g.stride[1] == 1 and g.kernel[1] * c < min(g.out_hw[1], 32)


def padded_input(x: np.ndarray, g: ConvGeometry, transposed: bool = False) -> np.ndarray:
    """The input with its padding, cut to the rows and columns the windows touch, in the "pad"
    :func:`workspace` (or x itself when that is already it): NHWC, or NCHW for transposed columns."""
    hp, wp = g.extent()
    if transposed:
        n, c, h, w = x.shape
        return place(x.reshape(n * c, h, w, 1), g.pad[0], g.pad[2], hp, wp, True).reshape(n, c, hp, wp)
    return place(nhwc(x), g.pad[0], g.pad[2], hp, wp, True)


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


# ----- Winograd F(2×2, 3×3) ---------------------------------------------------------------------------------------
# Lavin & Gray (2016): a 2×2 output tile of a 3×3 correlation is  Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A  for the 4×4
# input tile d (tiles 2 apart) and kernel g: 16 multiplications per tile and channel pair instead of 36. Over
# channels the element-wise product becomes 16 GEMMs, M[ξ] = V[ξ] · U[ξ] (tiles × C)·(C × O), so the GEMM work
# drops 2.25×; the transforms are a few passes over the data. The weight gradient follows by the chain rule:
# dM = A-transform of the dY tiles, dU[ξ] = V[ξ]ᵀ · dM[ξ], dW = Gᵀ-transform of dU.

WINOGRAD_MIN_CHANNELS = 32
"""3×3 stride-1 convolutions with at least this many input and output channels use Winograd F(2×2, 3×3)."""

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
_TG = np.kron(_G, _G)     # (16, 9): U = G g Gᵀ for a flattened 3×3 kernel
_TA = np.kron(_AT, _AT)   # (4, 16): Y = Aᵀ M A for a flattened 4×4 tile


def winograd(g: ConvGeometry, c: int, o: int) -> bool:
    """Whether this convolution (c input, o output channels) is computed by Winograd F(2×2, 3×3)."""
    return (g.kernel == (3, 3) and g.stride == (1, 1) and g.dilation == (1, 1) and g.groups == 1
            and min(c, o) >= WINOGRAD_MIN_CHANNELS)


def _tiles(out_hw: tuple) -> tuple:
    return (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2


def _winograd_input(xn: np.ndarray, top: int, left: int, th: int, tw: int, out: np.ndarray) -> np.ndarray:
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


def _winograd_output(m: np.ndarray, out: np.ndarray, th: int, tw: int) -> None:
    """out (N, Ho, Wo, O) = Aᵀ M A for every tile, M (16, N·th·tw, O) or (16, N, th, tw, O) (a slice of a
    larger M is fine): one GEMM (4×16)·(16, tiles·O), then each of the 4 results to its place in the 2×2 tiles.
    (Faster here than the separable form with additions, which writes the output four times over.)"""
    n, ho, wo, o = out.shape
    y = np.matmul(_TA.astype(m.dtype), m.reshape(16, -1), out=workspace((4, n * th * tw * o), m.dtype, "aux"))
    y = y.reshape(2, 2, n, th, tw, o).transpose(2, 3, 0, 4, 1, 5)          # (n, th, 2, tw, 2, O)
    if (ho, wo) == (2 * th, 2 * tw):
        out.reshape(n, th, 2, tw, 2, o)[...] = y
    else:
        out[...] = y.reshape(n, 2 * th, 2 * tw, o)[:, :ho, :wo]


def _winograd_output_grad(gyn: np.ndarray, th: int, tw: int, out: np.ndarray) -> None:
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


def _winograd_kernels(w: np.ndarray, flipped: bool = False) -> np.ndarray:
    """Uᵀ = (G g Gᵀ)ᵀ for every (o, c): (16, O, C) from an (O, C, 3, 3) weight, one GEMM with no copy of w.

    ``flipped``: the kernel rotated by 180° (the input gradient's correlation), which reverses the 9 taps."""
    o, c = w.shape[:2]
    tg = _TG[:, ::-1] if flipped else _TG
    return np.matmul(tg.astype(w.dtype), w.reshape(o * c, 9).T).reshape(16, o, c)


def _winograd_images(n: int, th: int, tw: int, width: int, itemsize: int) -> int:
    """Images per chunk: V and M of a chunk, (16, images·th·tw, width) each, fit in ``COLUMN_BUDGET``."""
    return max(1, COLUMN_BUDGET // max(2 * 16 * th * tw * width * itemsize, 1))


def _winograd_conv(xn: np.ndarray, u: np.ndarray, top: int, left: int, out: np.ndarray,
                   v_keep: np.ndarray | None = None) -> None:
    """out (N, Ho, Wo, O) = the 3×3 stride-1 correlation of the NHWC input xn (offset by top/left padding)
    with the transformed kernel u (16, C, O); the input transform goes to ``v_keep`` (16, N·th·tw, C) when
    given (kept for the weight gradient).

    Chunk by chunk of images, in three phases: the input transform, the 16 GEMMs M[ξ] = V[ξ]·U[ξ] (one
    batched matmul; BLAS's threads split each GEMM), the output transform. With ``SPLIT_BLAS_KERNELS`` each
    phase is split over our threads instead: the transforms over images (or over the tile rows of a
    batch smaller than the threads), the GEMMs over ξ (whole GEMMs, efficient even for a few 7×7 images)."""
    n, ho, wo, o = out.shape
    c = xn.shape[3]
    th, tw = _tiles((ho, wo))
    per = th * tw
    size = xn.dtype.itemsize
    step = _winograd_images(n, th, tw, max(c, o), size)
    for c0 in range(0, n, step):
        c1 = min(n, c0 + step)
        t = (c1 - c0) * per
        v = v_keep[:, c0 * per:c1 * per] if v_keep is not None else workspace((16, t, c), xn.dtype)
        m = workspace((16, t, o), xn.dtype, "out")
        v5 = v.reshape(16, c1 - c0, th, tw, c)
        m5 = m.reshape(16, c1 - c0, th, tw, o)

        def transform_input(i0, i1, r0, r1, c0=c0, v5=v5):
            _winograd_input(xn[c0 + i0:c0 + i1], top - 2 * r0, left, r1 - r0, tw, v5[:, i0:i1, r0:r1])

        def multiply(a, b, v=v, m=m):
            np.matmul(v[a:b], u[a:b], out=m[a:b])

        def transform_output(i0, i1, r0, r1, c0=c0, m5=m5):
            _winograd_output(m5[:, i0:i1, r0:r1], out[c0 + i0:c0 + i1, 2 * r0:min(2 * r1, ho)], r1 - r0, tw)

        over_images_or_rows(transform_input, c1 - c0, th, 16 * t * c)
        over_batch(multiply, 16, 16 * t * max(c, o))
        over_images_or_rows(transform_output, c1 - c0, th, 16 * t * o)


# ----- small images, many channels: columns in the weight's own order ---------------------------------------------
# When a layer's weights outweigh its activations (ResNet's 7×7 and 14×14 stages, any layer at batch 1), the copies
# of the weights that the (i, j, c) column order needs (the weight matrix in the forward pass, its flipped copy for
# dx, the reordering of dW) cost more than the convolution's data. Columns ordered (c, i, j), like a row of the
# (O, C, kH, kW) weight, use the weight as it is: Yᵀ = W · colsᵀ, dcols = dY · W, dW = dYᵀ · cols, with W the
# (O, C·kH·kW) view of the weight; the gather of the columns reads runs of kW instead, which is cheap on few pixels.

WEIGHT_ORDER_PIXELS = 1.0
"""One group, and N·Ho·Wo ≤ WEIGHT_ORDER_PIXELS × O output pixels: columns in the weight's own order (which are
then no larger than the weight: N·Ho·Wo·C·kH·kW ≤ O·C·kH·kW, so they are built in one piece). Measured on
3×3 layers, forward + backward: 16.7 vs 17.4 ms (Winograd) at 512@7×7 batch 8 (N·Ho·Wo/O = 0.8), but
20.1 vs 12.8 ms at 256@14×14 batch 8 (ratio 6)."""


def weight_order(g: ConvGeometry, n: int, o: int) -> bool:
    """Whether a convolution of n images with o output channels builds its columns in (c, i, j) order."""
    ho, wo = g.out_hw
    return g.groups == 1 and not g.pointwise and n * ho * wo <= WEIGHT_ORDER_PIXELS * o


def _weight_order_columns(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """cols (N·Ho·Wo, C·kH·kW): row (n, h, w) is the receptive field of output pixel (h, w), ordered (c, i, j)."""
    v = windows(padded_input(x, g), g)                                    # (N, Ho, Wo, kH, kW, C)
    n, ho, wo, kh, kw, c = v.shape
    cols = np.empty((n, ho, wo, c, kh, kw), x.dtype)
    for i in range(kh):  # one offset at a time reads runs of C: 1.7× faster than one transposing copy
        for j in range(kw):
            cols[..., i, j] = v[:, :, :, i, j]
    return cols.reshape(n * ho * wo, c * kh * kw)


def _weight_order_forward(x, w, g, keep_columns):
    n, o = x.shape[0], w.shape[0]
    ho, wo = g.out_hw
    cols = _weight_order_columns(x, g)
    y = np.empty((n, ho, wo, o), x.dtype)
    # Yᵀ = W · colsᵀ, then transposed into place: with few pixels, BLAS runs this orientation 16–20% faster
    # (a (128 × 4608)·(4608 × 512) product: 2.10 vs 2.51 ms); the transposing copy is of the small output.
    y.reshape(-1, o)[...] = np.matmul(w.reshape(o, -1), cols.T).T
    return nchw(y), (("weight order", cols) if keep_columns and cols.nbytes <= KEEP_COLUMNS else None)


def _weight_order_grad_input(gy, w, g, x_shape):
    """dx = col2im(dY · W): each kernel offset's slice of the column gradient added back onto its window."""
    n, c, h, w_ = x_shape
    o, _, kh, kw = w.shape
    ho, wo = g.out_hw
    gcols = np.matmul(nhwc(gy).reshape(-1, o), w.reshape(o, -1)).reshape(n, ho, wo, c, kh, kw)
    hp, wp = g.extent()
    gxp = np.zeros((n, hp, wp, c), gy.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[(slice(None),) + offset_window(g, i, j)] += gcols[..., i, j]
    return nchw(crop(gxp, g.pad[0], g.pad[2], h, w_))


def _weight_order_grad_weight(x, gy, g, w_shape, saved):
    cols = saved[1] if saved is not None else _weight_order_columns(x, g)
    o = w_shape[0]
    return np.matmul(nhwc(gy).reshape(-1, o).T, cols).reshape(w_shape)


# ----- the three kernels -------------------------------------------------------------------------------------------

def conv_forward(x: np.ndarray, w: np.ndarray, g: ConvGeometry, keep_columns: bool = False):
    """y = conv(x, w) for NCHW-shaped x (any memory layout); returns (y, saved).

    ``y`` is NCHW-shaped (in NHWC memory except for a 1×1 convolution of an NCHW input). With
    ``keep_columns`` (the weight gradient will be asked for) and columns of at most ``KEEP_COLUMNS``
    bytes, ``saved`` = ("cols", columns) for ``conv_grad_weight``; else None (it rebuilds them from x).
    """
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo = g.out_hw
    if g.pointwise:
        return _pointwise_forward(x, w, g), None
    if w.shape[1] == 1 and g.groups > 1:
        return _depthwise_forward(x, w, g), None
    if weight_order(g, n, o):
        return _weight_order_forward(x, w, g, keep_columns)
    if winograd(g, c, o):
        return _winograd_forward(x, w, g, keep_columns)
    gr = g.groups
    wm = weight_matrix(w, gr)
    k = wm.shape[1]
    transposed = transposed_columns(g, c)
    y = np.empty((n, ho, wo, o), x.dtype)
    per_image = ho * wo * k * gr
    nbytes = n * per_image * x.dtype.itemsize
    keep = keep_columns and n > 0 and nbytes <= KEEP_COLUMNS
    kept = None
    if keep:
        kept = np.empty((k, n, ho * wo) if transposed else (n * ho * wo, gr, k), x.dtype)
    parts = parts_for(n, n * per_image)

    def part(a, b):
        for c0, c1 in _chunks(a, b, per_image * x.dtype.itemsize, parts):
            xp = padded_input(x[c0:c1], g, transposed)
            if transposed:
                cols = im2col_transposed(xp, g, None if kept is None else kept[:, c0:c1])
                np.matmul(cols.reshape(k, -1).T, wm[0], out=y[c0:c1].reshape(-1, o))
            else:
                cols = im2col(xp, g, None if kept is None else kept[c0 * ho * wo:c1 * ho * wo])
                grouped_matmul(cols, wm, y[c0:c1].reshape(-1, gr, o // gr))

    over_batch(part, n, n * per_image)
    return nchw(y), (("cols", kept) if keep else None)


def _winograd_forward(x, w, g, keep_columns):
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo = g.out_hw
    th, tw = _tiles((ho, wo))
    y = np.empty((n, ho, wo, o), x.dtype)
    keep = keep_columns and n > 0 and 16 * n * th * tw * c * x.dtype.itemsize <= KEEP_COLUMNS
    kept = np.empty((16, n * th * tw, c), x.dtype) if keep else None
    _winograd_conv(nhwc(x), _winograd_kernels(w).transpose(0, 2, 1), g.pad[0], g.pad[2], y, kept)
    return nchw(y), (("winograd", kept) if keep else None)


def conv_grad_input(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dL/dx for dL/dy ``gy`` (NCHW-shaped, any memory layout): col2im(dY · W_matᵀ), NCHW-shaped result.

    With stride 1 and no more output than 1.5 × input channels per group, dx is computed as the
    correlation of dY, zero-padded by dilation·(k − 1) − pad, with the flipped kernel whose in/out
    channels are swapped: columns of dY and one GEMM, no scatter. Otherwise by :func:`col2im`.
    """
    n, c, h, w_ = x_shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = g.stride, g.dilation
    if g.pointwise:
        return _pointwise_grad_input(gy, w, g, x_shape)
    if cg == 1 and g.groups > 1:
        return _depthwise_grad_input(gy, w, g, x_shape)
    gr = g.groups
    if weight_order(g, n, o):
        return _weight_order_grad_input(gy, w, g, x_shape)
    top, left = dh * (kh - 1) - g.pad[0], dw * (kw - 1) - g.pad[2]
    if winograd(g, c, o):  # the correlation of dY with the flipped kernel, channels swapped
        gx = np.empty((n, h, w_, c), gy.dtype)
        _winograd_conv(nhwc(gy), _winograd_kernels(w, flipped=True), top, left, gx)
        return nchw(gx)
    if not (sh == 1 and sw == 1 and 2 * (o // gr) <= 3 * cg):
        return nchw(col2im(gy, w, g, x_shape))
    hp, wp = h + dh * (kh - 1), w_ + dw * (kw - 1)
    gyn = nhwc(gy)
    gx = np.empty((n, h, w_, c), gy.dtype)
    wm = flipped_weight_matrix(w, gr)
    corr = ConvGeometry((hp, wp), (h, w_), (kh, kw), (1, 1), (dh, dw), (0, 0, 0, 0), gr)
    per_image = h * w_ * wm.shape[1] * gr
    parts = parts_for(n, n * per_image)

    def part(a, b):
        for c0, c1 in _chunks(a, b, per_image * gy.dtype.itemsize, parts):
            cols = im2col(place(gyn[c0:c1], top, left, hp, wp, True), corr)
            grouped_matmul(cols, wm, gx[c0:c1].reshape(-1, gr, cg))

    over_batch(part, n, n * per_image)
    return nchw(gx)


def col2im(gy: np.ndarray, w: np.ndarray, g: ConvGeometry, x_shape: tuple) -> np.ndarray:
    """dx = col2im(dY · W_matᵀ) for any stride: every row of the column gradient dcols = dY · W_matᵀ is added
    back onto the receptive field it came from, one kernel offset (i, j) at a time (a strided slice of the
    padded gradient per offset). Returns the NHWC gradient of the padded input, cropped to x.

    The column gradient comes out of one GEMM per group as (N·Ho·Wo, kH, kW, C); with one group and fewer
    than 32 channels it is first regrouped by offset, (kH·kW, N·Ho·Wo, C), so that each addition reads
    whole image rows (Wo·C contiguous numbers) rather than runs of C.
    """
    n, c, h, w_ = x_shape
    o, cg, kh, kw = w.shape
    ho, wo = g.out_hw
    gr = g.groups
    by_offset = gr == 1 and cg < 32
    hp, wp = g.extent()
    gxp = np.zeros((n, hp, wp, c), gy.dtype)
    wk = weight_matrix(w, gr).transpose(0, 2, 1)                           # (groups, O/groups, kH·kW·Cg)
    gyn = nhwc(gy)
    per_image = ho * wo * kh * kw * c
    parts = parts_for(n, n * per_image)

    def part(a, b):
        for c0, c1 in _chunks(a, b, per_image * gy.dtype.itemsize, parts):
            m = c1 - c0
            gyc = np.ascontiguousarray(gyn[c0:c1]).reshape(-1, gr, o // gr)
            gcols = grouped_matmul(gyc, wk, workspace((gyc.shape[0], gr, kh * kw * cg), gy.dtype))
            src = gcols.reshape(m, ho, wo, gr, kh, kw, cg).transpose(4, 5, 0, 1, 2, 3, 6)  # [i, j]: (m, Ho, Wo, G, Cg)
            if by_offset:
                regrouped = workspace(src.shape, gy.dtype, "pad")
                regrouped[...] = src
                src = regrouped
            dst = gxp[c0:c1].reshape(m, hp, wp, gr, cg)
            for i in range(kh):
                for j in range(kw):
                    dst[(slice(None),) + offset_window(g, i, j)] += src[i, j]

    over_batch(part, n, n * per_image)
    return crop(gxp, g.pad[0], g.pad[2], h, w_)


def conv_grad_weight(x: np.ndarray | None, gy: np.ndarray, g: ConvGeometry, w_shape: tuple,
                     saved: tuple | None = None) -> np.ndarray:
    """dL/dW = colsᵀ · dY, reshaped to (O, C/groups, kH, kW); the columns are rebuilt from x (chunk by
    chunk), unless the forward pass ``saved`` them. Each part of the batch sums its own share."""
    o, cg, kh, kw = w_shape
    if g.pointwise:
        return _pointwise_grad_weight(x, gy, g, w_shape)
    if cg == 1 and g.groups > 1:
        return _depthwise_grad_weight(x, gy, g, w_shape)
    gr = g.groups
    gyn = nhwc(gy)
    n = gy.shape[0]
    k = kh * kw * cg
    ho, wo = g.out_hw
    if weight_order(g, n, o):
        return _weight_order_grad_weight(x, gy, g, w_shape, saved)
    if winograd(g, cg * gr, o):
        return _winograd_weight_gradient(x, gyn, g, w_shape, saved)
    transposed = transposed_columns(g, cg * gr)
    kept = saved[1] if saved is not None else None
    per_image = ho * wo * k * gr
    parts = parts_for(n, n * per_image)

    def part(a, b):
        total = np.zeros((gr, k, o // gr), gy.dtype)
        term = np.empty_like(total)
        chunks = [(a, b)] if kept is not None else _chunks(a, b, per_image * gy.dtype.itemsize, parts)
        for c0, c1 in chunks:
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


def _winograd_weight_gradient(x, gyn, g, w_shape, saved):
    """dW = Gᵀ-transform of dU, dU[ξ] = Σ_chunks V[ξ]ᵀ · dM[ξ] (the 16 GEMMs split over threads by ξ)."""
    o, c = w_shape[:2]
    n, ho, wo = gyn.shape[:3]
    th, tw = _tiles((ho, wo))
    per = th * tw
    kept = saved[1] if saved is not None else None
    # With the transforms kept, one GEMM per ξ over the whole batch: accumulating chunk by chunk measured
    # 5.2 vs 3.9 ms at 256@14×14, batch 8.
    step = n if kept is not None else _winograd_images(n, th, tw, max(c, o), gyn.dtype.itemsize)
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
                _winograd_input(nhwc(x[c0 + i0:c0 + i1]), g.pad[0] - 2 * r0, g.pad[2], r1 - r0, tw,
                                v5[:, i0:i1, r0:r1])

            over_images_or_rows(transform_input, c1 - c0, th, 16 * t * c)
        dm5 = dm.reshape(16, c1 - c0, th, tw, o)

        def transform_grad(i0, i1, r0, r1, c0=c0, dm5=dm5):
            _winograd_output_grad(gyn[c0 + i0:c0 + i1, 2 * r0:2 * r1], r1 - r0, tw, dm5[:, i0:i1, r0:r1])

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


# ----- 1×1 convolutions: a GEMM in the input's own layout ----------------------------------------------------------

def _subsample(a: np.ndarray, g: ConvGeometry) -> np.ndarray:
    (sh, sw), (ho, wo) = g.stride, g.out_hw
    return a[:, :, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw]


def _pointwise_forward(x, w, g):
    n, c = x.shape[:2]
    o = w.shape[0]
    gr = g.groups
    ho, wo = g.out_hw
    xs = _subsample(x, g)
    work = n * ho * wo * max(c, o)
    if is_channels_last(x):
        y = np.empty((n, ho, wo, o), x.dtype)
        wm = weight_matrix(w, gr)

        def part(a, b):
            xc = np.ascontiguousarray(nhwc(xs[a:b])).reshape(-1, gr, c // gr)
            grouped_matmul(xc, wm, y[a:b].reshape(-1, gr, o // gr))

        over_batch(part, n, work)
        return nchw(y)
    y = np.empty((n, o, ho, wo), x.dtype)
    w3 = w.reshape(gr, o // gr, c // gr)

    def part(a, b):
        xc = np.ascontiguousarray(xs[a:b]).reshape(b - a, gr, c // gr, ho * wo)
        np.matmul(w3, xc, out=y[a:b].reshape(b - a, gr, o // gr, ho * wo))

    over_batch(part, n, work)
    return y


def _pointwise_grad_input(gy, w, g, x_shape):
    n, c, h, w_ = x_shape
    o = w.shape[0]
    gr = g.groups
    ho, wo = g.out_hw
    last = is_channels_last(gy)
    full = (ho, wo) == (h, w_)
    gx = np.empty((n, h, w_, c) if last else x_shape, gy.dtype) if full else \
        np.zeros((n, h, w_, c) if last else x_shape, gy.dtype)
    gx = nchw(gx) if last else gx
    gxs = _subsample(gx, g)

    def part(a, b):
        m = b - a
        if last:
            out = np.empty((m, ho, wo, c), gy.dtype) if not full else nhwc(gx[a:b])
            grouped_matmul(nhwc(gy[a:b]).reshape(-1, gr, o // gr), weight_matrix(w, gr).transpose(0, 2, 1),
                           out.reshape(-1, gr, c // gr))
            if not full:
                gxs[a:b] = nchw(out)
        else:
            gc = np.ascontiguousarray(gy[a:b]).reshape(m, gr, o // gr, ho * wo)
            wt = w.reshape(gr, o // gr, c // gr).transpose(0, 2, 1)
            if full:
                np.matmul(wt, gc, out=gx[a:b].reshape(m, gr, c // gr, ho * wo))
            else:
                gxs[a:b] = np.matmul(wt, gc).reshape(m, c, ho, wo)

    over_batch(part, n, n * ho * wo * max(c, o))
    return gx


def _pointwise_grad_weight(x, gy, g, w_shape):
    o, cg = w_shape[:2]
    gr = g.groups
    n = x.shape[0]
    ho, wo = g.out_hw
    xs = _subsample(x, g)
    last = is_channels_last(gy) or is_channels_last(x)

    def part(a, b):
        if last:
            xc = np.ascontiguousarray(nhwc(xs[a:b])).reshape(-1, gr, cg)
            gc = np.ascontiguousarray(nhwc(gy[a:b])).reshape(-1, gr, o // gr)
            return weight_from_matrix(np.matmul(xc.transpose(1, 2, 0), gc.transpose(1, 0, 2)), w_shape)
        xc = np.ascontiguousarray(xs[a:b]).reshape(b - a, gr, cg, -1)
        gc = np.ascontiguousarray(gy[a:b]).reshape(b - a, gr, o // gr, -1)
        return np.matmul(gc, xc.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w_shape)

    results = over_batch(part, n, n * ho * wo * max(cg * gr, o))
    return sum(results[1:], results[0])


# ----- depthwise convolutions (C/groups = 1): einsum over the window view -----------------------------------------
# With a channel multiplier m = O / C, output channel c·m + k sees input channel c only. With stride 1 along
# W (and m = 1) the windows of one output row at offset (i, j) are one run of Wo·C contiguous numbers, so
# einsum multiplies runs of Wo·C (the kernel tiled along W) instead of runs of C.

def _row_windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The read-only view (N, Ho, kH, kW, Wo·C) of a contiguous padded NHWC input (needs stride 1 along W)."""
    (kh, kw), (sh, _), (dh, dw), (ho, wo) = g.kernel, g.stride, g.dilation, g.out_hw
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (xp.shape[0], ho, kh, kw, wo * xp.shape[3]), (s0, s1 * sh, s1 * dh, s2 * dw, s3),
                      writeable=False)


def _tiled(k: np.ndarray, times: int) -> np.ndarray:
    """A (kH, kW, C) kernel repeated along W: (kH, kW, times·C), contiguous."""
    kh, kw, c = k.shape
    return np.ascontiguousarray(np.broadcast_to(k[:, :, None, :], (kh, kw, times, c))).reshape(kh, kw, times * c)


def _depthwise_kernel(w: np.ndarray, c: int) -> np.ndarray:
    """(O, 1, kH, kW) -> (kH, kW, C, m), contiguous."""
    o, _, kh, kw = w.shape
    return np.ascontiguousarray(w.reshape(c, o // c, kh, kw).transpose(2, 3, 0, 1))


def _depthwise_into(out: np.ndarray, xp: np.ndarray, k: np.ndarray, g: ConvGeometry) -> None:
    """out (N, Ho, Wo, C·m) = Σ_ij window_ij · k[i, j] for a padded NHWC input and a (kH, kW, C, m) kernel."""
    n, c = xp.shape[0], xp.shape[3]
    (ho, wo), m = g.out_hw, k.shape[3]
    if m == 1 and g.stride[1] == 1:
        np.einsum("nhijq,ijq->nhq", _row_windows(xp, g), _tiled(k[..., 0], wo), out=out.reshape(n, ho, wo * c))
    else:
        np.einsum("nhwijc,ijck->nhwck", windows(xp, g), k, out=out.reshape(n, ho, wo, c, m))


def _depthwise_forward(x, w, g):
    n, c = x.shape[:2]
    o = w.shape[0]
    ho, wo = g.out_hw
    k = _depthwise_kernel(w, c)
    y = np.empty((n, ho, wo, o), x.dtype)

    def part(a, b):
        _depthwise_into(y[a:b], padded_input(x[a:b], g), k, g)

    over_batch(part, n, n * ho * wo * o, blas=False)
    return nchw(y)


def _depthwise_grad_input(gy, w, g, x_shape):
    n, c, h, w_ = x_shape
    o, _, kh, kw = w.shape
    m = o // c
    (sh, sw), (dh, dw), (ho, wo) = g.stride, g.dilation, g.out_hw
    k = _depthwise_kernel(w, c)
    gyn = nhwc(gy)
    work = n * h * w_ * o
    if sh == 1 and sw == 1:  # a depthwise correlation of dY with the flipped kernel
        top, left = dh * (kh - 1) - g.pad[0], dw * (kw - 1) - g.pad[2]
        hp, wp = h + dh * (kh - 1), w_ + dw * (kw - 1)
        corr = ConvGeometry((hp, wp), (h, w_), (kh, kw), (1, 1), (dh, dw), (0, 0, 0, 0), c)
        kf = np.ascontiguousarray(k[::-1, ::-1])
        gx = np.empty((n, h, w_, c), gy.dtype)

        def part(a, b):
            gyp = place(gyn[a:b], top, left, hp, wp, True)
            if m == 1:
                _depthwise_into(gx[a:b], gyp, kf, corr)
            else:
                v = windows(gyp, corr).reshape(b - a, h, w_, kh, kw, c, m)
                np.einsum("nhwijck,ijck->nhwc", v, kf, out=gx[a:b])

        over_batch(part, n, work, blas=False)
        return nchw(gx)
    hp, wp = g.extent()
    gxp = np.zeros((n, hp, wp, c), gy.dtype)

    def part(a, b):
        gc = np.ascontiguousarray(gyn[a:b]).reshape(b - a, ho, wo, c, m)
        for i in range(kh):
            for j in range(kw):
                dst = gxp[(slice(a, b),) + offset_window(g, i, j)]
                dst += gc[..., 0] * k[i, j, :, 0] if m == 1 else np.einsum("nhwck,ck->nhwc", gc, k[i, j])

    over_batch(part, n, work, blas=False)
    return nchw(crop(gxp, g.pad[0], g.pad[2], h, w_))


def _depthwise_grad_weight(x, gy, g, w_shape):
    o, _, kh, kw = w_shape
    n, c = x.shape[:2]
    m = o // c
    ho, wo = g.out_hw
    gyn = nhwc(gy)

    def part(a, b):
        xp = padded_input(x[a:b], g)
        gc = np.ascontiguousarray(gyn[a:b])
        if m == 1 and g.stride[1] == 1:
            gk = np.einsum("nhijq,nhq->ijq", _row_windows(xp, g), gc.reshape(b - a, ho, wo * c))
            return gk.reshape(kh, kw, wo, c).sum(axis=2)[..., None]
        return np.einsum("nhwijc,nhwck->ijck", windows(xp, g), gc.reshape(b - a, ho, wo, c, m))

    results = over_batch(part, n, n * ho * wo * o, blas=False)
    gk = sum(results[1:], results[0])
    return np.ascontiguousarray(gk.transpose(2, 3, 0, 1)).reshape(w_shape)
