"""Convolution on oneDNN: forward, input gradient and weight gradient of a float32 2-d convolution.

    forward       y  = x ⋆ W                 dnnl_convolution_forward (prop forward_training)
    grad_input    dx = dy ⋆ᵀ W                dnnl_convolution_backward_data
    grad_weight   dW = x ⋆ dy                 dnnl_convolution_backward_weights

The same interface as the NumPy algorithms of ``cnnkit/kernels/`` (``forward``, ``grad_input``,
``grad_weight``), so :func:`cnnkit.kernels.select` can hand a layer to it. Activations are passed in place
with their own strides (NCHW or NHWC memory) and outputs are allocated channels-last (an NCHW-shaped view of
NHWC memory, like the NumPy kernels'); the weight, stored (O, C/g, kH, kW) — viewed (g, O/g, C/g, kH, kW)
for groups — is reordered into the layout the primitive chose; a forward pass that will not ask for the weight
gradient (``keep`` False: inference, a frozen layer) keeps that copy while the weight is unchanged
(:mod:`.packed`). oneDNN's dilation counts the gaps
(d − 1) and its padding is (top, left) / (bottom, right).
"""
from __future__ import annotations

import ctypes

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..layout import is_channels_last
from . import cache, library, packed
from .library import ALG, PROP, Dims
from .memory import Primitive, any_md, array_md, attr, describe, element_strides, md_equal, reorder, run_reorder

__all__ = ["supports", "channels_last", "plain", "forward", "gradient_layout", "has_grad_input", "grad_input",
           "grad_weight", "forward_primitive", "grad_input_primitive"]


REORDER_MIN = 2 ** 19
"""Elements from which :func:`channels_last` copies a C-contiguous float32 array with a oneDNN reorder on the
configured threads rather than NumPy's one-thread copy. Measured at 2 threads on a quiet machine (fresh output
each call): 4×3×224×224 0.53 vs 0.77 ms, 4×64×55×55 1.23 vs 1.76, 8×128×56×56 2.5 vs 2.8, 4×64×56×56 level;
below, the reorder's fixed cost loses (LeNet-5's 64×6×14×14: 0.38 vs 0.15 ms)."""


def channels_last(a: np.ndarray) -> np.ndarray:
    """``a`` in NHWC memory (a copy unless it is already): oneDNN's fast convolutions read and write
    channels-last activations; for mixed layouts it has only its reference implementation."""
    if is_channels_last(a):
        return a
    if a.size < REORDER_MIN or a.dtype != np.float32 or not a.flags.c_contiguous:
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    out = _nhwc_empty(a.shape, a.dtype)
    src, dst = describe(a), describe(out)
    threads = library.configured_threads()
    with library.threads(threads):    # a primitive runs the team it was created for: created here, keyed by it
        r = cache.get(("conv_nhwc_copy", a.shape, threads), lambda: reorder(src, dst))
        run_reorder(r, a, src, out, dst)
    return out


def _nhwc_empty(shape: tuple, dtype) -> np.ndarray:
    """A new NCHW-shaped array in NHWC memory that owns its memory (``base`` None, like torch's fresh tensors:
    autograd then hands an input gradient to a leaf's ``.grad`` without copying it)."""
    n, c, h, w = shape
    itemsize = np.dtype(dtype).itemsize
    layout = as_strided(np.empty(1, dtype), shape, (h * w * c * itemsize, itemsize, w * c * itemsize, c * itemsize),
                        writeable=False)     # only its strides are read
    return np.empty_like(layout, order="K")


def plain(g, a: np.ndarray) -> bool:
    """Does this convolution run on ``a`` in its NCHW memory? Only a 1×1, stride-1, unpadded, ungrouped one of a
    C-contiguous (not also channels-last) array: oneDNN runs it as a GEMM per image reading NCHW in place
    (``gemm:jit``, as fast as its NHWC 1×1 kernels, measured on one thread: forward 4.3 vs 5.2 ms, input
    gradient 4.5 vs 5.9, weight gradient 8.8 vs 6.7 for ResNet's 256→64 at 56×56, batch 4), which saves the
    NHWC copies of x and dy. Other layers, NCHW, get only slow GEMM or reference implementations (a 3×3: 1.5-2×
    slower than NHWC; a depthwise one 6×)."""
    return (g.kernel == (1, 1) and g.stride == (1, 1) and g.groups == 1 and max(g.pad) == 0
            and a.flags.c_contiguous and not is_channels_last(a) and _plain_runs(g, a.shape[1]))


def _plain_runs(g, channels: int) -> bool:
    """Has oneDNN a non-reference implementation of an NCHW 1×1 convolution of this geometry and ``channels``
    (probed with the (cached) forward primitive of a batch of one, ``channels`` in and out)?"""
    x_key = _plain_key((1, channels) + tuple(g.in_hw))
    p = forward_primitive(g, x_key, (channels, channels, 1, 1), x_key)
    return p is not None and not p.implementation().startswith("ref")


def _plain_key(shape: tuple) -> tuple:
    n, c, h, w = shape
    return tuple(shape), (c * h * w, h * w, w, 1)


def _arranged(a: np.ndarray, in_place: bool) -> np.ndarray:
    return a if in_place else channels_last(a)


def _empty(shape: tuple, dtype, in_place: bool) -> np.ndarray:
    return np.empty(shape, dtype) if in_place else _nhwc_empty(shape, dtype)


def _nhwc_strides(shape: tuple) -> tuple:
    n, c, h, w = shape
    return h * w * c, 1, w * c, c


def _weight_shape(w_shape: tuple, groups: int) -> tuple:
    o, cg, kh, kw = w_shape
    return (groups, o // groups, cg, kh, kw) if groups > 1 else tuple(w_shape)


def _out_shape(g, x_shape: tuple, w_shape: tuple) -> tuple:
    return (x_shape[0], w_shape[0]) + tuple(g.out_hw)


def _geometry(g) -> tuple:
    (sh, sw), (dh, dw), (top, bottom, left, right) = g.stride, g.dilation, g.pad
    return Dims(sh, sw), Dims(dh - 1, dw - 1), Dims(top, left), Dims(bottom, right)


def _create(fn, *args, prefer_jit: bool = False) -> Primitive | None:
    pd = ctypes.c_void_p()
    status = fn(ctypes.byref(pd), *args)
    if status != 0:          # unimplemented or invalid for this shape: the NumPy kernels take the layer
        return None
    try:
        return Primitive(_preferred(pd) if prefer_jit else pd)
    except library.DnnlError:    # the half-made Primitive destroys the descriptor when it is collected
        return None


def _impl(pd) -> str:
    out = ctypes.c_char_p()
    library.check(library.lib().dnnl_primitive_desc_query(pd, library.QUERY["impl_info_str"], 0, ctypes.byref(out)),
                  "dnnl_primitive_desc_query")
    return out.value.decode()


_BRGEMM = ("brgconv:", "brg_fwd:", "brgconv_strided:", "brdgmm_dw:")


def _preferred(pd):
    """``pd``, or the descriptor of oneDNN's direct JIT implementation (``jit``, ``jit_dw`` for depthwise) of the
    same instruction set when oneDNN's first choice is a BRGEMM one (``brgconv``, ``brgconv_strided``,
    ``brdgmm_dw``; its 1×1 ``brgconv_1x1`` is kept). Asked for by depthwise layers only (forward and input
    gradient: the depthwise 128@56 forward 1.18 vs 1.26 ms, 2 threads). On other layers the JIT input gradient
    was faster on small layers (LeNet-5's C3 0.58 vs 0.98 ms) but less accurate: with it, the public AlexNet
    client's float32 gradients were 2.2× further from float64 than torch float32's (median over the parameters;
    the rule allows 2×), 1.7× without (docs/performance.md)."""
    first = _impl(pd)
    if not first.startswith(_BRGEMM) or "brgconv_1x1" in first:     # brg_fwd+brgconv_1x1: a 1×1 input gradient
        return pd
    isa = first.rsplit(":", 1)[-1]
    want = f"jit_dw:{isa}" if first.startswith("brdgmm_dw:") else f"jit:{isa}"
    lib = library.lib()
    first_pd = ctypes.c_void_p()     # a copy of the first choice (a clone does not iterate: pd itself does)
    if lib.dnnl_primitive_desc_clone(ctypes.byref(first_pd), pd) != 0:
        return pd
    while lib.dnnl_primitive_desc_next_impl(pd) == 0:   # advances pd in place; non-zero past the last one
        if _impl(pd) == want:
            lib.dnnl_primitive_desc_destroy(first_pd)
            return pd
    lib.dnnl_primitive_desc_destroy(pd)
    return first_pd


def _fast(make) -> Primitive | None:
    """``make(plain=True)``: the primitive reading the activations in cnnkit's layout, unless oneDNN has only its
    reference implementation for that layout (e.g. the weight gradient of a one-channel NHWC input); then
    ``make(plain=False)``, with the activations in the layout oneDNN chooses (reordered at each run)."""
    p = make(True)
    if p is not None and p.implementation().startswith("ref"):
        q = make(False)
        if q is not None and not q.implementation().startswith("ref"):
            return q
    return p



def _bias_md(w_shape: tuple, bias: bool):
    return array_md((w_shape[0],), (1,)) if bias else None


def forward_primitive(g, x_md_key: tuple, w_shape: tuple, y_key: tuple, relu: bool = False,
                      bias: bool = False, add: bool = False) -> Primitive | None:
    """The (cached) forward primitive for an input described by ``x_md_key`` (shape, strides in elements) and an
    output by ``y_key`` (with ``bias``: adding a contiguous (O,) bias; with ``add``: adding a tensor of the
    output's layout, then with ``relu`` the ReLU); None when oneDNN has no implementation for it."""
    threads = library.configured_threads()
    key = ("conv_fwd", x_md_key, w_shape, y_key, g, relu, bias, add, threads)

    def create():
        with library.threads(threads):
            return _create(library.lib().dnnl_convolution_forward_primitive_desc_create, library.engine(),
                           PROP["forward_training"], ALG["convolution_direct"], array_md(*x_md_key),
                           any_md(_weight_shape(w_shape, g.groups)), _bias_md(w_shape, bias), array_md(*y_key),
                           *_geometry(g), attr(relu, y_key if add else None),
                           prefer_jit=g.groups > 1 and w_shape[1] == 1)
    return cache.get(key, create)


def supports(g, x_shape: tuple, w_shape: tuple, dtype) -> bool:
    """Can oneDNN compute this convolution (float32, a primitive exists for channels-last activations)?"""
    if np.dtype(dtype) != np.float32 or library.lib() is None or min(g.pad) < 0:
        return False
    y_shape = _out_shape(g, x_shape, w_shape)
    if min(x_shape) < 1 or min(y_shape) < 1:
        return False
    x_key = (tuple(x_shape), _nhwc_strides(x_shape))
    return forward_primitive(g, x_key, tuple(w_shape), (y_shape, _nhwc_strides(y_shape))) is not None


def _key(a: np.ndarray) -> tuple:
    return a.shape, element_strides(a)


def _weights(w: np.ndarray, groups: int) -> tuple:
    """(array, descriptor) of the weight as oneDNN sees it: (g, O/g, C/g, kH, kW) for groups (a copy only if the
    weight's strides cannot be viewed so)."""
    w = w.reshape(_weight_shape(w.shape, groups))
    return w, describe(w)


def _packed_weights(p: Primitive, w: np.ndarray, groups: int, keep: bool) -> tuple:
    """(array, descriptor) of the weight for primitive ``p``: the weight itself when ``p`` reads cnnkit's layout,
    else its copy in ``p``'s layout (a kept one, else reordered now and, with ``keep``, kept while the weight is
    unchanged: :mod:`.packed`)."""
    view, md = _weights(w, groups)
    want = p.md("weights")
    if md_equal(want, md):
        return view, md
    return packed.get(w, want, lambda buf: run_reorder(p.reorder_to(md, want, ("in", "weights")), view, md,
                                                       buf, want), keep), want


def forward(x: np.ndarray, w: np.ndarray, g, keep: bool = False, bias: np.ndarray | None = None,
            relu: bool = False, add: np.ndarray | None = None):
    """(y, kept): y = conv(x, w) (+ ``bias``, added by the primitive), NCHW-shaped in NHWC memory (in NCHW
    memory for an NCHW x that :func:`plain` runs in place); with ``keep`` (the weight gradient will be asked for)
    ``kept`` is x as the primitive read it (x itself, or the NHWC copy made here, so that :func:`grad_weight`
    does not copy x again), else None. With ``add`` (an array of y's shape) y += add inside the primitive (a
    binary post-op; ``add`` copied to y's layout if it is in another), then with ``relu`` the primitive's ReLU
    post-op is applied to y (NaN becomes 0)."""
    in_place = plain(g, x)
    x = _arranged(x, in_place)
    y = _empty(_out_shape(g, x.shape, w.shape), x.dtype, in_place)
    p = forward_primitive(g, _key(x), tuple(w.shape), _key(y), relu=relu, bias=bias is not None,
                          add=add is not None)
    inputs = {"src": (x, describe(x))}
    if add is not None:
        if add.strides != y.strides or add.dtype != y.dtype:
            like = np.empty_like(y)
            np.copyto(like, add)
            add = like
        inputs["post_add"] = (add, describe(add))
    if bias is not None:
        bias = np.ascontiguousarray(bias)
        inputs["bias"] = (bias, describe(bias))
    with library.threads(p.threads):     # the weight's reorder too (fork safety)
        inputs["weights"] = _packed_weights(p, w, g.groups, not keep)
        p.run(inputs, {"dst": (y, describe(y))})
    return y, (x if keep else None)


def grad_input_primitive(g, x_shape: tuple, gy_shape: tuple, w_shape: tuple,
                         in_place: bool = False) -> Primitive | None:
    """The (cached) backward-data primitive for channels-last gradients (NCHW ones with ``in_place``, see
    :func:`plain`); None when oneDNN has none for the shape or only its reference implementation (e.g. LeNet-5's
    C5, 16→120 channels 5×5 onto 1×1: ~100× slower than the NumPy kernels), so that the caller computes dL/dx
    on the NumPy kernels instead."""
    threads = library.configured_threads()
    layout = _plain_key if in_place else (lambda shape: (tuple(shape), _nhwc_strides(shape)))
    x_key, gy_key = layout(x_shape), layout(gy_shape)
    key = ("conv_bwd_data", x_key, gy_key, tuple(w_shape), g, threads)

    def create():
        hint = forward_primitive(g, x_key, tuple(w_shape), gy_key)
        if hint is None:
            return None
        with library.threads(threads):
            p = _create(library.lib().dnnl_convolution_backward_data_primitive_desc_create, library.engine(),
                        ALG["convolution_direct"], array_md(*x_key), any_md(_weight_shape(w_shape, g.groups)),
                        array_md(*gy_key), *_geometry(g), hint.pd, attr(),
                        prefer_jit=g.groups > 1 and w_shape[1] == 1)
        return None if p is None or p.implementation().startswith("ref") else p
    return cache.get(key, create)


def has_grad_input(gy: np.ndarray, w_shape: tuple, g, x_shape: tuple) -> bool:
    """Does :func:`grad_input` run on oneDNN for this dL/dy (else the NumPy kernels take dL/dx)?"""
    return grad_input_primitive(g, tuple(x_shape), gy.shape, tuple(w_shape), plain(g, gy)) is not None


def gradient_layout(gy: np.ndarray, g) -> np.ndarray:
    """dL/dy as both gradients read it: in place when :func:`plain` runs it, else in NHWC memory."""
    return _arranged(gy, plain(g, gy))


def grad_input(gy: np.ndarray, w: np.ndarray, g, x_shape: tuple) -> np.ndarray:
    """dL/dx, NCHW-shaped in NHWC memory, or in NCHW memory for a dL/dy that :func:`plain` runs in place (only
    for a shape :func:`has_grad_input` holds for)."""
    in_place = plain(g, gy)
    gy = _arranged(gy, in_place)
    gx = _empty(tuple(x_shape), gy.dtype, in_place)
    p = grad_input_primitive(g, tuple(x_shape), gy.shape, tuple(w.shape), in_place)
    if p is None:
        raise library.DnnlError("dnnl_convolution_backward_data_primitive_desc_create", 3)
    with library.threads(p.threads):
        p.run({"diff_dst": (gy, describe(gy)), "weights": _packed_weights(p, w, g.groups, False)},
              {"diff_src": (gx, describe(gx))})
    return gx


def grad_weight(x: np.ndarray, gy: np.ndarray, g, w_shape: tuple, kept=None, bias: bool = False):
    """dL/dW (O, C/groups, kH, kW), C-contiguous, from x (or the channels-last x that :func:`forward` kept); with
    ``bias`` the pair (dL/dW, dL/db), db summed by the same primitive."""
    x = x if kept is None else kept
    in_place = plain(g, x) and plain(g, gy)
    x, gy = _arranged(x, in_place), _arranged(gy, in_place)
    gw = np.empty(w_shape, gy.dtype)
    threads = library.configured_threads()
    key = ("conv_bwd_weights", _key(x), _key(gy), tuple(w_shape), g, bias, threads)

    def make(plain: bool):
        hint = forward_primitive(g, _key(x), tuple(w_shape), _key(gy), bias=bias)
        if hint is None:
            return None
        with library.threads(threads):
            return _create(library.lib().dnnl_convolution_backward_weights_primitive_desc_create, library.engine(),
                           ALG["convolution_direct"], describe(x) if plain else any_md(x.shape),
                           any_md(_weight_shape(w_shape, g.groups)), _bias_md(w_shape, bias),
                           describe(gy) if plain else any_md(gy.shape), *_geometry(g), hint.pd, attr())
    p = cache.get(key, lambda: _fast(make))
    if p is None:
        raise library.DnnlError("dnnl_convolution_backward_weights_primitive_desc_create", 3)
    outputs = {"diff_weights": (gw, describe(gw, _weight_shape(w_shape, g.groups)))}
    if bias:
        gb = np.empty(w_shape[0], gy.dtype)
        outputs["diff_bias"] = (gb, describe(gb))
    with library.threads(threads):
        p.run({"src": (x, describe(x)), "diff_dst": (gy, describe(gy))}, outputs)
    return (gw, gb) if bias else gw
