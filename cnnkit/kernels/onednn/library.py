"""Loading oneDNN's shared library (``libdnnl.so.3``, the ``cnnkit[onednn]`` extra) and the few C calls cnnkit uses.

The declarations below are our own, written from oneDNN's C API (``dnnl.h``, ``dnnl_types.h`` of v3.2) with only
the constants cnnkit needs. The library is found, in this order, at ``CNNKIT_ONEDNN_LIBRARY``, in the
environment's ``lib/`` (where the wheel installs it) and on the loader's path. ``CNNKIT_ONEDNN=0`` keeps it
unloaded. Loading fails quietly (then :func:`lib` returns None and :func:`load_error` says why): the NumPy
kernels are the fallback, so an absent or incompatible library changes nothing for the user.

Every primitive runs through :func:`execute`, which counts executions (the proof that the backend ran) and
runs oneDNN's OpenMP region with cnnkit's thread count (``kernels.config().threads``), set through OpenMP's own
per-thread call on the calling thread and restored afterwards: nothing process-wide changes.

Fork safety: GNU OpenMP (libgomp, which libdnnl is linked to) hangs in a child forked after the parent ran a
parallel region (its worker threads do not exist in the child, yet the child's next region waits for them) —
measured: a oneDNN convolution in a ``multiprocessing`` 'fork' child of a process that had run one never
returned. So a child forked after the library loaded runs oneDNN on one thread (:func:`usable_threads`; a
one-thread region does not start the team), with primitives of its own (the thread count is part of the
primitive cache's key). 'spawn' and 'forkserver' children load the library afresh and use every thread.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

from .. import contention
from ..config import config

__all__ = ["lib", "load_error", "version", "check", "engine", "stream", "threads", "configured_threads",
           "usable_threads", "forked", "openmp", "team",
           "execute", "exec_args", "executions", "last_run_threads",
           "DnnlError", "SUPPORTED_MAJOR", "SCRATCHPAD_USER", "F32", "ANY", "ARG", "QUERY", "PROP", "ALG", "Dims",
           "ExecArg", "NORM"]

SUPPORTED_MAJOR = 3
"""The major version of oneDNN's C API these declarations are written for."""

# dnnl_data_type_t, dnnl_format_tag_t, dnnl_engine_kind_t
F32 = 3
ANY = 1                   # dnnl_format_tag_any: the primitive chooses the layout
_CPU = 1
# dnnl_prop_kind_t, dnnl_alg_kind_t
PROP = {"forward_training": 64, "forward_inference": 96, "backward_data": 160, "backward_weights": 192,
        "backward": 128}
ALG = {"convolution_direct": 0x1, "eltwise_relu": 0x20, "pooling_max": 0x1ff, "pooling_avg_include_padding": 0x2ff,
       "pooling_avg_exclude_padding": 0x3ff, "binary_add": 0x1fff0}
# DNNL_ARG_*
ARG = {"src": 1, "dst": 17, "weights": 33, "bias": 41, "scratchpad": 80, "diff_src": 129, "diff_dst": 145,
       "diff_weights": 161, "diff_bias": 169, "workspace": 64, "mean": 49, "variance": 50, "scale": 51, "shift": 52,
       "diff_scale": 255, "diff_shift": 256,
       "post_add": 32768 | 2}    # DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1: the first post-op's operand
# dnnl_query_t
QUERY = {"src": 129, "diff_src": 130, "weights": 131, "diff_weights": 132, "dst": 133, "diff_dst": 134,
         "scratchpad": 136, "impl_info_str": 8, "workspace": 135, "exec_arg": 255}
SCRATCHPAD_USER = 1       # dnnl_scratchpad_mode_user
# dnnl_normalization_flags_t
NORM = {"none": 0x0, "use_global_stats": 0x1, "use_scale": 0x2, "use_shift": 0x4, "fuse_norm_relu": 0x8}

Dims = ctypes.c_int64 * 12    # dnnl_dims_t (DNNL_MAX_NDIMS = 12)


class ExecArg(ctypes.Structure):
    """dnnl_exec_arg_t: {int arg; dnnl_memory_t memory;}"""
    _fields_ = [("arg", ctypes.c_int), ("memory", ctypes.c_void_p)]


class _Version(ctypes.Structure):
    """dnnl_version_t"""
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


class DnnlError(RuntimeError):
    """A oneDNN call returned a status other than dnnl_success."""

    def __init__(self, call: str, status: int):
        super().__init__(f"onednn: {call} failed with status {status}")
        self.status = status


_P, _PP, _I, _U, _S = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_uint, ctypes.c_size_t
_DIMS = ctypes.POINTER(ctypes.c_int64)
_SIGNATURES = {   # name: (restype, argtypes)
    "dnnl_version": (ctypes.POINTER(_Version), []),
    "dnnl_engine_create": (_I, [_PP, _I, _S]),
    "dnnl_stream_create": (_I, [_PP, _P, _U]),
    "dnnl_stream_wait": (_I, [_P]),
    "dnnl_memory_desc_create_with_strides": (_I, [_PP, _I, _DIMS, _I, _DIMS]),
    "dnnl_memory_desc_create_with_tag": (_I, [_PP, _I, _DIMS, _I, _I]),
    "dnnl_memory_desc_destroy": (_I, [_P]),
    "dnnl_memory_desc_get_size": (_S, [_P]),
    "dnnl_memory_desc_equal": (_I, [_P, _P]),
    "dnnl_memory_desc_clone": (_I, [_PP, _P]),
    "dnnl_memory_create": (_I, [_PP, _P, _P, _P]),
    "dnnl_memory_destroy": (_I, [_P]),
    "dnnl_convolution_forward_primitive_desc_create":
        (_I, [_PP, _P, _I, _I, _P, _P, _P, _P, _DIMS, _DIMS, _DIMS, _DIMS, _P]),
    "dnnl_convolution_backward_data_primitive_desc_create":
        (_I, [_PP, _P, _I, _P, _P, _P, _DIMS, _DIMS, _DIMS, _DIMS, _P, _P]),
    "dnnl_convolution_backward_weights_primitive_desc_create":
        (_I, [_PP, _P, _I, _P, _P, _P, _P, _DIMS, _DIMS, _DIMS, _DIMS, _P, _P]),
    "dnnl_reorder_primitive_desc_create": (_I, [_PP, _P, _P, _P, _P, _P]),
    "dnnl_primitive_desc_query_md": (_P, [_P, _I, _I]),
    "dnnl_primitive_desc_query": (_I, [_P, _I, _I, _P]),
    "dnnl_primitive_desc_destroy": (_I, [_P]),
    "dnnl_primitive_create": (_I, [_PP, _P]),
    "dnnl_primitive_execute": (_I, [_P, _P, _I, ctypes.POINTER(ExecArg)]),
    "dnnl_primitive_destroy": (_I, [_P]),
    "dnnl_primitive_attr_create": (_I, [_PP]),
    "dnnl_primitive_attr_destroy": (_I, [_P]),
    "dnnl_primitive_attr_set_scratchpad_mode": (_I, [_P, _I]),
    "dnnl_primitive_attr_set_post_ops": (_I, [_P, _P]),
    "dnnl_post_ops_create": (_I, [_PP]),
    "dnnl_post_ops_destroy": (_I, [_P]),
    "dnnl_post_ops_append_eltwise": (_I, [_P, _I, ctypes.c_float, ctypes.c_float]),
    "dnnl_post_ops_append_binary": (_I, [_P, _I, _P]),
    "dnnl_pooling_forward_primitive_desc_create":
        (_I, [_PP, _P, _I, _I, _P, _P, _DIMS, _DIMS, _DIMS, _DIMS, _DIMS, _P]),
    "dnnl_pooling_backward_primitive_desc_create":
        (_I, [_PP, _P, _I, _P, _P, _DIMS, _DIMS, _DIMS, _DIMS, _DIMS, _P, _P]),
    "dnnl_inner_product_forward_primitive_desc_create": (_I, [_PP, _P, _I, _P, _P, _P, _P, _P]),
    "dnnl_inner_product_backward_data_primitive_desc_create": (_I, [_PP, _P, _P, _P, _P, _P, _P]),
    "dnnl_inner_product_backward_weights_primitive_desc_create": (_I, [_PP, _P, _P, _P, _P, _P, _P, _P]),
    "dnnl_batch_normalization_forward_primitive_desc_create": (_I, [_PP, _P, _I, _P, _P, ctypes.c_float, _U, _P]),
    "dnnl_batch_normalization_backward_primitive_desc_create":
        (_I, [_PP, _P, _I, _P, _P, _P, ctypes.c_float, _U, _P, _P]),
    "dnnl_memory_set_data_handle": (_I, [_P, _P]),
    "dnnl_primitive_desc_next_impl": (_I, [_P]),
    "dnnl_primitive_desc_clone": (_I, [_PP, _P]),
}

_lib = None
_load_error: str | None = None
_loaded = False
_load_lock = threading.Lock()
_engine = None
_local = threading.local()
_omp = None
_executions = 0
_forked = False


def _candidates() -> list[str]:
    explicit = os.environ.get("CNNKIT_ONEDNN_LIBRARY", "")
    if explicit:
        return [explicit]
    found = [os.path.join(prefix, "lib", "libdnnl.so.3") for prefix in dict.fromkeys((sys.prefix, sys.base_prefix))]
    return found + [ctypes.util.find_library("dnnl") or "libdnnl.so.3"]


def _load() -> None:
    global _lib, _load_error, _loaded, _engine, _omp
    if os.environ.get("CNNKIT_ONEDNN", "") == "0":
        _load_error = "switched off by CNNKIT_ONEDNN=0"
        return
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            handle = ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
            continue
        try:
            for name, (restype, argtypes) in _SIGNATURES.items():
                fn = getattr(handle, name)
                fn.restype, fn.argtypes = restype, argtypes
        except AttributeError as e:
            errors.append(f"{path}: {e}")
            continue
        v = handle.dnnl_version().contents
        if v.major != SUPPORTED_MAJOR:
            errors.append(f"{path}: version {v.major}.{v.minor}.{v.patch}, expected {SUPPORTED_MAJOR}.x")
            continue
        eng = ctypes.c_void_p()
        status = handle.dnnl_engine_create(ctypes.byref(eng), _CPU, 0)
        if status != 0:
            errors.append(f"{path}: dnnl_engine_create failed with status {status}")
            continue
        _lib, _engine = handle, eng
        _omp = _openmp()
        return
    _load_error = "; ".join(errors) or "libdnnl.so.3 not found"


def _openmp():
    """The OpenMP runtime libdnnl is linked to (already loaded with it), for its per-thread thread count."""
    try:
        omp = ctypes.CDLL("libgomp.so.1")
        omp.omp_get_max_threads.restype, omp.omp_get_max_threads.argtypes = ctypes.c_int, []
        omp.omp_set_num_threads.restype, omp.omp_set_num_threads.argtypes = None, [ctypes.c_int]
        return omp
    except (OSError, AttributeError):
        return None


def _after_fork_in_child() -> None:
    global _forked
    if _lib is not None:
        _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def forked() -> bool:
    """Is this process a child forked after the library had loaded (oneDNN then runs on one thread)?"""
    return _forked


def configured_threads() -> int:
    """cnnkit's thread count (``kernels.config().threads``, i.e. ``ck.set_num_threads``) as oneDNN may use it in
    this process (:func:`usable_threads`), one fewer per core other processes keep busy (``adaptive_threads``,
    :func:`cnnkit.kernels.contention.threads`): what a primitive runs with and is cached under."""
    return usable_threads(contention.configured(config()))


def usable_threads(n: int) -> int:
    """The OpenMP threads oneDNN may use for ``n`` requested: ``n``, or 1 in a forked child (see the module
    docstring). Primitives are created and cached for this count."""
    return 1 if _forked else n


def team() -> int:
    """The OpenMP thread count in effect on this thread now (``omp_get_max_threads``): inside :func:`threads`, its
    count. A primitive created now runs a team of that many threads whatever the setting when it runs."""
    return _omp.omp_get_max_threads() if _omp is not None else 1


def openmp():
    """The OpenMP runtime (ctypes.CDLL of libgomp) whose per-thread setting :func:`threads` changes, or None."""
    lib()
    return _omp


def lib():
    """The loaded library (a ctypes.CDLL), or None when it is absent, incompatible or switched off."""
    global _loaded
    if not _loaded:
        with _load_lock:
            if not _loaded:
                _load()
                _loaded = True
    return _lib


def load_error() -> str | None:
    """Why :func:`lib` is None (None when the library is loaded)."""
    lib()
    return _load_error


def version() -> tuple | None:
    """(major, minor, patch) reported by the loaded library's ``dnnl_version()``, or None."""
    handle = lib()
    if handle is None:
        return None
    v = handle.dnnl_version().contents
    return v.major, v.minor, v.patch


def check(status: int, call: str) -> None:
    """Raise :class:`DnnlError` unless ``status`` is dnnl_success (0)."""
    if status != 0:
        raise DnnlError(call, status)


def engine():
    """The CPU engine (one per process)."""
    lib()
    return _engine


def stream():
    """This thread's stream on the CPU engine (a stream is not shared between threads)."""
    s = getattr(_local, "stream", None)
    if s is None:
        s = ctypes.c_void_p()
        check(lib().dnnl_stream_create(ctypes.byref(s), engine(), 1), "dnnl_stream_create")
        _local.stream = s
    return s


class threads:
    """``with threads(n):`` runs the block with oneDNN on ``n`` OpenMP threads: OpenMP's per-thread setting
    (``omp_set_num_threads`` on the calling thread), restored when the block ends. Primitives are created inside
    it: a primitive balances its work for, and runs, the team in effect at its creation (a reorder created for two
    threads started a second thread when run inside ``threads(1)``), so the caches key primitives by the count. Runs
    are inside it too (for the implementations that read the setting at run time). One thread in a forked child
    (:func:`usable_threads`). (A class rather than a generator: it wraps every primitive run.)"""

    __slots__ = ("n", "before")

    def __init__(self, n: int):
        self.n = usable_threads(n)

    def __enter__(self):
        n = self.n
        self.before = before = _omp.omp_get_max_threads() if _omp is not None else n
        if before != n:
            _omp.omp_set_num_threads(n)
        return self

    def __exit__(self, *exc):
        if self.before != self.n:
            _omp.omp_set_num_threads(self.before)


def exec_args(args: list):
    """The dnnl_exec_arg_t array of ``args`` [(DNNL_ARG_*, dnnl_memory_t), ...], for :func:`execute`."""
    return (ExecArg * len(args))(*[ExecArg(a, m) for a, m in args])


def execute(primitive, args) -> None:
    """Run ``primitive`` with ``args`` ([(DNNL_ARG_*, dnnl_memory_t), ...], or an array made by :func:`exec_args`,
    which callers running a primitive again keep) on this thread's stream and wait for it (inside
    :func:`threads`)."""
    global _executions
    if not isinstance(args, ctypes.Array):
        args = exec_args(args)
    s = getattr(_local, "stream", None)
    if s is None:
        s = stream()
    check(_lib.dnnl_primitive_execute(primitive, s, len(args), args), "dnnl_primitive_execute")
    check(_lib.dnnl_stream_wait(s), "dnnl_stream_wait")
    _executions += 1
    if _omp is not None:
        _local.last_threads = _omp.omp_get_max_threads()


def last_run_threads() -> int | None:
    """The OpenMP thread count in effect (``omp_get_max_threads``) at this thread's last primitive execution:
    the team oneDNN ran it with. None before the first."""
    return getattr(_local, "last_threads", None)


def executions() -> int:
    """How many oneDNN primitives (convolutions, reorders, ...) cnnkit has executed in this process."""
    return _executions
