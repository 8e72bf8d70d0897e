"""Memory descriptors and memory objects for NumPy arrays, reorders between layouts, and :class:`Primitive`.

A NumPy array of any strides is described exactly (``dnnl_memory_desc_create_with_strides``, strides in
elements), so oneDNN reads and writes cnnkit's arrays in place: an NCHW-shaped view of NHWC memory is the
oneDNN layout ``nhwc``. A primitive may want another layout for an argument (weights in a blocked layout,
``format_tag_any``); :meth:`Primitive.run` then reorders into (or out of) a scratch buffer.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from ..layout import is_channels_last
from . import library
from .library import ARG, QUERY, Dims, check

__all__ = ["array_md", "any_md", "describe", "element_strides", "md_size", "md_equal", "aligned", "attr", "Primitive",
           "reorder",
           "run_reorder"]

_ALIGN = 64
_mds: dict = {}
_mds_lock = threading.Lock()


def array_md(shape: tuple, strides: tuple):
    """The (cached) float32 memory descriptor of an array of ``shape`` with ``strides`` in elements."""
    key = ("strided", shape, strides)
    md = _mds.get(key)
    if md is None:
        md = ctypes.c_void_p()
        check(library.lib().dnnl_memory_desc_create_with_strides(
            ctypes.byref(md), len(shape), Dims(*shape), library.F32, Dims(*strides)),
            "dnnl_memory_desc_create_with_strides")
        with _mds_lock:
            md = _mds.setdefault(key, md)
    return md


def any_md(shape: tuple):
    """The (cached) float32 memory descriptor of ``shape`` whose layout the primitive chooses."""
    key = ("any", shape)
    md = _mds.get(key)
    if md is None:
        md = ctypes.c_void_p()
        check(library.lib().dnnl_memory_desc_create_with_tag(
            ctypes.byref(md), len(shape), Dims(*shape), library.F32, library.ANY), "dnnl_memory_desc_create_with_tag")
        with _mds_lock:
            md = _mds.setdefault(key, md)
    return md


def element_strides(a: np.ndarray) -> tuple:
    """``a``'s strides in elements, those of size-1 dims made canonical: NHWC strides for a 4-d channels-last array,
    C-order strides for a C-contiguous one. A size-1 dim's stride addresses nothing, but oneDNN matches layouts
    by strides: a (N, C, 1, 1) gradient with C-order strides matched no channels-last format and got oneDNN's
    reference implementation (LeNet-5's C5: a 10× slower training step)."""
    if a.ndim == 4 and is_channels_last(a):
        n, c, h, w = a.shape
        return h * w * c, 1, w * c, c
    if a.flags.c_contiguous:      # a plain loop (np.prod per dim: 15 calls of ~10 µs per LeNet-5 C3 step)
        strides, step = [], 1
        for size in reversed(a.shape):
            strides.append(step)
            step *= size
        return tuple(reversed(strides))
    return tuple(s // a.itemsize for s in a.strides)


def describe(a: np.ndarray, shape: tuple | None = None):
    """The memory descriptor of array ``a`` (viewed with ``shape`` when given: a weight's 5-d group view)."""
    if shape is not None and shape != a.shape:
        a = a.reshape(shape)
    return array_md(a.shape, element_strides(a))


def md_size(md) -> int:
    return library.lib().dnnl_memory_desc_get_size(md)


def md_equal(a, b) -> bool:
    return bool(library.lib().dnnl_memory_desc_equal(a, b))


def aligned(nbytes: int) -> np.ndarray:
    """A fresh uint8 buffer of ``nbytes`` starting on a 64-byte boundary."""
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes]


_attrs: dict = {}


def attr(relu: bool = False):
    """The (cached) primitive attributes cnnkit creates every primitive with: a scratchpad that cnnkit passes
    at each execution (so two threads may run one primitive at once), and with ``relu`` a ReLU post-op."""
    a = _attrs.get(relu)
    if a is None:
        lib = library.lib()
        a = ctypes.c_void_p()
        check(lib.dnnl_primitive_attr_create(ctypes.byref(a)), "dnnl_primitive_attr_create")
        check(lib.dnnl_primitive_attr_set_scratchpad_mode(a, library.SCRATCHPAD_USER),
              "dnnl_primitive_attr_set_scratchpad_mode")
        if relu:
            ops = ctypes.c_void_p()
            check(lib.dnnl_post_ops_create(ctypes.byref(ops)), "dnnl_post_ops_create")
            check(lib.dnnl_post_ops_append_eltwise(ops, library.ALG["eltwise_relu"], 0.0, 0.0),
                  "dnnl_post_ops_append_eltwise")
            check(lib.dnnl_primitive_attr_set_post_ops(a, ops), "dnnl_primitive_attr_set_post_ops")
            lib.dnnl_post_ops_destroy(ops)
        with _mds_lock:
            a = _attrs.setdefault(relu, a)
    return a


class _Memories:
    """dnnl_memory_t objects over NumPy buffers, destroyed together when the block ends (the buffers are
    referenced until then)."""

    def __init__(self):
        self.made, self.buffers = [], []

    def __enter__(self):
        return self

    def of(self, md, buffer: np.ndarray):
        mem = ctypes.c_void_p()
        check(library.lib().dnnl_memory_create(ctypes.byref(mem), md, library.engine(),
                                               ctypes.c_void_p(buffer.ctypes.data)), "dnnl_memory_create")
        self.made.append(mem)
        self.buffers.append(buffer)
        return mem

    def __exit__(self, *exc):
        for mem in self.made:
            library.lib().dnnl_memory_destroy(mem)


class Primitive:
    """A created primitive and its descriptor (destroyed with the object), with the reorders it needs."""

    def __init__(self, pd: ctypes.c_void_p):
        lib = library.lib()
        self.pd = pd
        self._destroy = lib.dnnl_primitive_destroy, lib.dnnl_primitive_desc_destroy   # usable at shutdown
        self.handle = ctypes.c_void_p()
        check(lib.dnnl_primitive_create(ctypes.byref(self.handle), pd), "dnnl_primitive_create")
        self.scratch_bytes = md_size(self.md("scratchpad"))
        self._reorders: dict = {}

    def md(self, what: str):
        """The descriptor the primitive wants for argument ``what`` (a key of library.QUERY, else of library.ARG:
        an argument with no query of its own, such as ``bias`` or batch normalization's "mean", asked for by its
        DNNL_ARG_* number)."""
        if what in QUERY:
            return library.lib().dnnl_primitive_desc_query_md(self.pd, QUERY[what], 0)
        return library.lib().dnnl_primitive_desc_query_md(self.pd, QUERY["exec_arg"], ARG[what])

    def implementation(self) -> str:
        """oneDNN's name of the implementation it chose (e.g. 'brg_conv_fwd:avx512_core')."""
        out = ctypes.c_char_p()
        check(library.lib().dnnl_primitive_desc_query(self.pd, QUERY["impl_info_str"], 0, ctypes.byref(out)),
              "dnnl_primitive_desc_query")
        return out.value.decode()

    def reorder_to(self, src_md, dst_md, key) -> Primitive:
        """The (cached) reorder from ``src_md`` to ``dst_md``; ``key`` names the pair within this primitive."""
        r = self._reorders.get(key)
        if r is None:
            r = self._reorders[key] = reorder(src_md, dst_md)
        return r

    def run(self, inputs: dict, outputs: dict) -> None:
        """Execute with ``inputs`` and ``outputs`` {argument name: (array, user descriptor)}; an argument whose
        layout the primitive chose differently is reordered into (inputs) or out of (outputs) a buffer."""
        with _Memories() as mems:
            args, after = [], []
            for name, (array, user_md) in inputs.items():
                want = self.md(name)
                if md_equal(want, user_md):
                    args.append((ARG[name], mems.of(user_md, array)))
                else:
                    buf = aligned(md_size(want))
                    r = self.reorder_to(user_md, want, ("in", name))
                    library.execute(r.handle, [(ARG["src"], mems.of(user_md, array)), (ARG["dst"], mems.of(want, buf))])
                    args.append((ARG[name], mems.of(want, buf)))
            for name, (array, user_md) in outputs.items():
                want = self.md(name)
                if md_equal(want, user_md):
                    args.append((ARG[name], mems.of(user_md, array)))
                else:
                    buf = aligned(md_size(want))
                    args.append((ARG[name], mems.of(want, buf)))
                    after.append((self.reorder_to(want, user_md, ("out", name)), want, buf, user_md, array))
            if self.scratch_bytes:
                args.append((ARG["scratchpad"], mems.of(self.md("scratchpad"), aligned(self.scratch_bytes))))
            library.execute(self.handle, args)
            for r, want, buf, user_md, array in after:
                library.execute(r.handle, [(ARG["src"], mems.of(want, buf)), (ARG["dst"], mems.of(user_md, array))])

    def __del__(self):
        destroy_primitive, destroy_pd = self._destroy
        destroy_primitive(self.handle)
        destroy_pd(self.pd)


def reorder(src_md, dst_md) -> Primitive:
    """A reorder primitive copying memory of layout ``src_md`` into layout ``dst_md``."""
    pd = ctypes.c_void_p()
    eng = library.engine()
    check(library.lib().dnnl_reorder_primitive_desc_create(ctypes.byref(pd), src_md, eng, dst_md, eng, attr()),
          "dnnl_reorder_primitive_desc_create")
    return Primitive(pd)


def run_reorder(r: Primitive, src: np.ndarray, src_md, dst: np.ndarray, dst_md) -> None:
    """Run reorder ``r``: ``src`` (layout ``src_md``) copied into the buffer ``dst`` (layout ``dst_md``)."""
    with _Memories() as mems:
        library.execute(r.handle, [(ARG["src"], mems.of(src_md, src)), (ARG["dst"], mems.of(dst_md, dst))])
