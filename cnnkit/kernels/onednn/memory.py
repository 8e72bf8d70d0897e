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
    if a.flags.c_contiguous:
        strides, step = [], 1
        for n in reversed(a.shape):
            strides.append(step)
            step *= n
        return tuple(reversed(strides))
    return tuple(s // a.itemsize for s in a.strides)


_described: dict = {}


def describe(a: np.ndarray, shape: tuple | None = None):
    """The memory descriptor of float32 array ``a`` (viewed with ``shape`` when given: a weight's 5-d group view);
    looked up by the array's shape and byte strides, so the element strides are worked out once per pair."""
    if shape is not None and shape != a.shape:
        a = a.reshape(shape)
    key = (a.shape, a.strides, a.itemsize)
    md = _described.get(key)
    if md is None:
        md = _described[key] = array_md(a.shape, element_strides(a))
    return md


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


def attr(relu: bool = False, add: tuple | None = None):
    """The (cached) primitive attributes cnnkit creates every primitive with: a scratchpad that cnnkit passes
    at each execution (so two threads may run one primitive at once); with ``add`` (shape, strides in elements)
    a binary post-op adding a tensor of that layout to the output (argument ``"post_add"``), then with ``relu``
    a ReLU post-op."""
    key = (relu, add)
    a = _attrs.get(key)
    if a is None:
        lib = library.lib()
        a = ctypes.c_void_p()
        check(lib.dnnl_primitive_attr_create(ctypes.byref(a)), "dnnl_primitive_attr_create")
        check(lib.dnnl_primitive_attr_set_scratchpad_mode(a, library.SCRATCHPAD_USER),
              "dnnl_primitive_attr_set_scratchpad_mode")
        if relu or add:
            ops = ctypes.c_void_p()
            check(lib.dnnl_post_ops_create(ctypes.byref(ops)), "dnnl_post_ops_create")
            if add:
                check(lib.dnnl_post_ops_append_binary(ops, library.ALG["binary_add"], array_md(*add)),
                      "dnnl_post_ops_append_binary")
            if relu:
                check(lib.dnnl_post_ops_append_eltwise(ops, library.ALG["eltwise_relu"], 0.0, 0.0),
                      "dnnl_post_ops_append_eltwise")
            check(lib.dnnl_primitive_attr_set_post_ops(a, ops), "dnnl_primitive_attr_set_post_ops")
            lib.dnnl_post_ops_destroy(ops)
        with _mds_lock:
            a = _attrs.setdefault(key, a)
    return a


def _address(md) -> int:
    """A memory descriptor's address (``c_void_p`` from :func:`array_md`, int from a primitive's query)."""
    return md.value if isinstance(md, ctypes.c_void_p) else md


_local = threading.local()


def transient(slot: str, nbytes: int) -> np.ndarray:
    """This thread's buffer for ``slot`` (at least ``nbytes``, 64-byte aligned, the first ``nbytes`` returned), reused
    from call to call: for data that lives only while one primitive runs, such as the scratchpad every primitive
    of this thread shares or an argument reordered into the layout the primitive chose. A fresh buffer of
    megabytes costs the primitive the page faults of mapping it at every call (docs/performance.md, "Transient
    buffers")."""
    buffers = _local.__dict__.setdefault("transient", {})
    buf = buffers.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[slot] = aligned(nbytes)
    return buf[:nbytes]


class _Bound:
    """One thread's prepared arguments of a primitive for one list of (DNNL_ARG_*, descriptor) slots: the
    dnnl_memory_t objects, made once, and the exec-arg array over them. A run only points each memory object
    at its buffer (``dnnl_memory_set_data_handle``, skipped when the address is the last run's)."""

    __slots__ = ("mems", "args", "addresses", "_destroy")

    def __init__(self, slots: tuple):
        lib = library.lib()
        self._destroy = lib.dnnl_memory_destroy     # usable at shutdown
        self.mems, self.addresses = [], [None] * len(slots)
        for _, md in slots:
            mem = ctypes.c_void_p()
            check(lib.dnnl_memory_create(ctypes.byref(mem), md, library.engine(), None), "dnnl_memory_create")
            self.mems.append(mem)
        self.args = library.exec_args([(arg, mem) for (arg, _), mem in zip(slots, self.mems)])

    def point(self, arrays) -> None:
        """Point the memory objects at ``arrays`` (in slot order)."""
        addresses = self.addresses
        for i, a in enumerate(arrays):
            address = a.ctypes.data
            if address != addresses[i]:
                check(_set_data_handle(self.mems[i], address), "dnnl_memory_set_data_handle")
                addresses[i] = address

    def __del__(self):
        for mem in self.mems:
            self._destroy(mem)


def _set_data_handle(mem, address: int) -> int:
    return library.lib().dnnl_memory_set_data_handle(mem, address)


class Primitive:
    """A created primitive and its descriptor (destroyed with the object), with the reorders it needs.

    Runs reuse per-thread prepared arguments (:class:`_Bound`) keyed by the descriptors' addresses, so the
    descriptors passed to :meth:`run` must live as long as the primitive: the cached ones of :func:`array_md` /
    :func:`describe` / :func:`any_md`, or the primitive's own (:meth:`md`)."""

    MAX_BOUND = 64
    """Prepared argument sets kept per primitive (threads × descriptor lists) before they are all dropped."""

    def __init__(self, pd: ctypes.c_void_p):
        lib = library.lib()
        self.pd = pd
        self._destroy = lib.dnnl_primitive_destroy, lib.dnnl_primitive_desc_destroy   # usable at shutdown
        self.handle = ctypes.c_void_p()
        check(lib.dnnl_primitive_create(ctypes.byref(self.handle), pd), "dnnl_primitive_create")
        self.threads = library.team()    # oneDNN balances the work for this team and runs it, whatever the setting
        self._scratch_md = self.md("scratchpad")
        self.scratch_bytes = md_size(self._scratch_md)
        self._reorders: dict = {}
        self._wants: dict = {}     # (argument name, user descriptor address) -> the primitive's descriptor or None
        self._bound: dict = {}     # (thread id, slots) -> _Bound

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
            with library.threads(self.threads):      # the same team as the primitive's (cached with it)
                r = self._reorders[key] = reorder(src_md, dst_md)
        return r

    def _want(self, name: str, user_md):
        """(DNNL_ARG_*, the descriptor the primitive wants for argument ``name`` if it differs from ``user_md``,
        else None), cached."""
        key = (name, _address(user_md))
        found = self._wants.get(key)
        if found is None:
            want = self.md(name)
            found = self._wants[key] = (ARG[name], None if md_equal(want, user_md) else want)
        return found

    def execute(self, slots: tuple, arrays: list) -> None:
        """One execution with the arguments ``slots`` ((DNNL_ARG_*, descriptor address), ...) over ``arrays``."""
        key = (threading.get_ident(), slots)
        bound = self._bound.get(key)
        if bound is None:
            if len(self._bound) >= self.MAX_BOUND:
                self._bound = {}       # a run in another thread holds its own reference to its _Bound
            bound = self._bound[key] = _Bound(slots)
        bound.point(arrays)
        library.execute(self.handle, bound.args)

    def prepared(self) -> int:
        """How many prepared argument sets (threads × descriptor lists) the primitive keeps now."""
        return len(self._bound)

    def run(self, inputs: dict, outputs: dict) -> None:
        """Execute with ``inputs`` and ``outputs`` {argument name: (array, user descriptor)}; an argument whose
        layout the primitive chose differently is reordered into (inputs) or out of (outputs) a buffer."""
        slots, arrays, after = [], [], []
        for direction, given in (("in", inputs), ("out", outputs)):
            for name, (array, user_md) in given.items():
                arg, want = self._want(name, user_md)
                if want is None:
                    slots.append((arg, _address(user_md)))
                    arrays.append(array)
                    continue
                buf = transient(f"{direction}:{name}", md_size(want))    # used up before run() returns
                slots.append((arg, want))
                arrays.append(buf)
                if direction == "in":
                    run_reorder(self.reorder_to(user_md, want, ("in", name)), array, user_md, buf, want)
                else:
                    after.append((self.reorder_to(want, user_md, ("out", name)), want, buf, user_md, array))
        if self.scratch_bytes:
            slots.append((ARG["scratchpad"], self._scratch_md))
            arrays.append(transient("scratchpad", self.scratch_bytes))
        self.execute(tuple(slots), arrays)
        for r, want, buf, user_md, array in after:
            run_reorder(r, buf, want, array, user_md)

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
    r.execute(((ARG["src"], _address(src_md)), (ARG["dst"], _address(dst_md))), [src, dst])
