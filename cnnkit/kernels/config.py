"""The tunables of the convolution engine: one frozen :class:`Config`, read with :func:`config` and changed
for a scope with :func:`using`.

    with kernels.using(algorithm="winograd", keep_columns=0):
        ...                      # convolutions started here see the new values; the old ones return after

The current config lives in a :class:`contextvars.ContextVar`: a scope changes nothing outside itself, so
two threads (or two asyncio tasks) never see each other's values. A thread starts with the defaults; the
engine's own worker threads run in the context of the call that started them.
"""
from __future__ import annotations

import contextvars
import dataclasses
import math
import numbers
import os
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["ALGORITHMS", "Config", "config", "using", "set_num_threads", "get_num_threads",
           "use_deterministic_algorithms", "are_deterministic_algorithms_enabled"]

ALGORITHMS = ("pointwise", "depthwise", "weight_order", "winograd", "im2col")
"""The convolution algorithms, in the order :func:`cnnkit.kernels.select` tries them."""


def _default_threads() -> int:
    """CNNKIT_NUM_THREADS, else OMP_NUM_THREADS (torch's variable), else the usable cores. Not
    OPENBLAS_NUM_THREADS: a single-threaded BLAS is when cnnkit's own threads split the GEMM kernels."""
    for var in ("CNNKIT_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Config:
    """Every tunable of the engine (the measurements behind the defaults are in docs/performance.md)."""

    column_budget: int = 8 * 2 ** 20
    """Bytes of im2col columns (or Winograd transforms) built at once; a larger layer is processed in chunks of
    images, each multiplied while it is still in the L3 cache."""

    keep_columns: int = 32 * 2 ** 20
    """Columns (or Winograd input transforms) up to this many bytes are kept from the forward pass for the
    weight gradient; larger ones are rebuilt from the input, chunk by chunk."""

    threads: int = dataclasses.field(default_factory=_default_threads)
    """Parts the batch is split into (CNNKIT_NUM_THREADS, else OMP_NUM_THREADS, else the cores); set for the whole
    process with :func:`set_num_threads`."""

    parallel_min: int = 1 << 18
    """Work (elements of columns or outputs) below which a kernel runs on the calling thread only."""

    chunks_per_thread: int = 2
    """Pieces of the batch per thread (claimed dynamically, so that a slowed-down core does less) ..."""

    piece_min: int = 1 << 20
    """... as long as each piece keeps this much work (elements)."""

    split_blas_kernels: bool | None = None
    """Split the kernels whose work is mostly GEMMs (im2col, Winograd, 1×1, weight order) over our threads?
    None (the default): when NumPy's BLAS runs on one thread (OPENBLAS_NUM_THREADS=1, or a threadpoolctl limit
    set by the program), read before each kernel; otherwise they run on the calling thread and BLAS's threads
    split each GEMM. cnnkit never changes BLAS's thread count. The depthwise kernels (einsum, no BLAS) are
    always split."""

    winograd_min_channels: int = 32
    """3×3 stride-1 convolutions with at least this many input and output channels use Winograd F(2×2, 3×3)."""

    winograd_min_map: int = 4
    """... and an output of at least this height and width. On 1×1 – 3×3 maps with padding most of every 4×4
    tile is padding: U = G g Gᵀ mixes all 9 taps, so the float32 rounding of the taps that only meet padding
    stays in the output (it cancels only in exact arithmetic). Measured on GoogLeNet's 1×1, 2×2 and 3×3 layer
    shapes (tests/kernels/test_winograd_accuracy.py), Winograd's forward or input-gradient error reaches 1.05 –
    1.95× the float32 rule of tests/oracle.py (2 × torch float32's error), im2col's 0.3 – 0.8×; from 4×4 on
    Winograd stays within 0.85×. Nor does Winograd save work there: its 16 multiplications per tile and channel
    pair are no fewer than a direct product that skips the padding (16 against 16 on a 2×2 map, 64 against 49
    on 3×3, 16 against 1 on 1×1)."""

    weight_order_pixels: float = 1.0
    """One group and N·Ho·Wo ≤ weight_order_pixels × O output pixels: columns in the weight's own order."""

    algorithm: str | None = None
    """An algorithm of :data:`ALGORITHMS` forced on every convolution it can compute (None: the engine picks)."""

    onednn_linear_min: int = 0
    """A float32 linear layer goes to oneDNN's inner product (when the backend is active) from this many
    multiply-adds (batch × in × out) on. 0: every one. Alone, a product below about 2²⁴ costs less in NumPy's GEMM
    than the calls into the library; inside a network whose convolutions run on oneDNN, a GEMM on NumPy's BLAS
    costs far more: BLAS's threads and oneDNN's OpenMP threads spin after their work and take the cores from each
    other (docs/performance.md: LeNet-5's step 4× slower, ResNet-18's 1.4×)."""


    onednn_batch_norm: bool = True
    """Run float32 channels-last batch normalization on oneDNN (when the backend is active); False keeps it on
    the NumPy path."""

    adaptive_threads: bool = dataclasses.field(default_factory=lambda: os.environ.get("CNNKIT_ADAPTIVE_THREADS") != "0")
    """While other processes keep cores busy, start one thread fewer per busy core (at least one) in oneDNN's
    primitives and cnnkit's batch split (:mod:`cnnkit.kernels.contention`); False: always ``threads``, for
    bitwise-repeatable weight gradients (:func:`use_deterministic_algorithms` sets it for the process, and
    ``CNNKIT_ADAPTIVE_THREADS=0`` in the environment makes False the default)."""


_MINIMUM = {"column_budget": 1, "keep_columns": 0, "threads": 1, "parallel_min": 0, "chunks_per_thread": 1,
            "piece_min": 1, "winograd_min_channels": 0, "winograd_min_map": 1,
            "weight_order_pixels": 0, "onednn_linear_min": 0}
_FLAGS = ("split_blas_kernels", "onednn_batch_norm", "adaptive_threads")
_OPTIONS = tuple(f.name for f in dataclasses.fields(Config))


def _checked(name: str, value):
    """``value`` if it is valid for option ``name``; a TypeError or ValueError naming the option otherwise."""
    if name not in _OPTIONS:
        raise TypeError(f"kernels.using: unknown option {name!r}; expected one of {', '.join(_OPTIONS)}")
    if name == "algorithm":
        if value is not None and value not in ALGORITHMS:
            raise ValueError(f"kernels.using: expected algorithm to be None or one of {', '.join(ALGORITHMS)}, "
                             f"got {value!r}")
        return value
    if name in _FLAGS:
        if not isinstance(value, bool) and not (name == "split_blas_kernels" and value is None):
            kind = "a bool or None" if name == "split_blas_kernels" else "a bool"
            raise TypeError(f"kernels.using: expected {name} to be {kind}, got {value!r}")
        return value
    if name == "weight_order_pixels":
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    else:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok:
        kind = "a number" if name == "weight_order_pixels" else "an int"
        raise TypeError(f"kernels.using: expected {name} to be {kind}, got {value!r}")
    if value < _MINIMUM[name]:
        raise ValueError(f"kernels.using: expected {name} to be at least {_MINIMUM[name]}, got {value!r}")
    return value if name == "weight_order_pixels" else int(value)


_DEFAULT = Config()
_current: contextvars.ContextVar[Config] = contextvars.ContextVar("cnnkit_kernels_config")


def config() -> Config:
    """The config in effect here (in this thread / context)."""
    return _current.get(_DEFAULT)


def set_num_threads(num: int) -> None:
    """Set the default number of cnnkit's own threads (``Config.threads``), as ``torch.set_num_threads``.

    It sizes cnnkit's worker pool, for every thread and context from now on except inside a
    ``kernels.using(threads=...)`` block. NumPy's BLAS keeps its own thread count (OPENBLAS_NUM_THREADS):
    cnnkit never changes process-wide settings of the libraries it calls."""
    global _DEFAULT
    if not isinstance(num, numbers.Integral) or isinstance(num, bool):
        raise TypeError(f"set_num_threads: expected a positive int, got {num!r}")
    if num < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {num!r}")
    _DEFAULT = dataclasses.replace(_DEFAULT, threads=int(num))


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Bitwise-repeatable results from now on (``mode``), as ``torch.use_deterministic_algorithms``: for every thread
    and context except inside a ``kernels.using(adaptive_threads=...)`` block.

    At a fixed thread count every cnnkit kernel gives the same bits run after run. What can change them is the
    thread count: a weight gradient summed over the batch is split between threads (oneDNN's, or cnnkit's own
    batch split), and ``adaptive_threads`` starts fewer threads while other processes keep cores busy. So
    deterministic mode is ``adaptive_threads`` off (``threads`` always). ``warn_only`` is accepted for torch's
    signature: no cnnkit operation is nondeterministic at a fixed thread count, so there is nothing to warn of."""
    global _DEFAULT
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: expected mode to be a bool, got {mode!r}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"use_deterministic_algorithms: expected warn_only to be a bool, got {warn_only!r}")
    _DEFAULT = dataclasses.replace(_DEFAULT, adaptive_threads=not mode)


def are_deterministic_algorithms_enabled() -> bool:
    """Are results bitwise repeatable here (``adaptive_threads`` off: see :func:`use_deterministic_algorithms`)?"""
    return not config().adaptive_threads


def get_num_threads() -> int:
    """The number of cnnkit's own threads in effect here (``config().threads``), as ``torch.get_num_threads``."""
    return config().threads


@contextmanager
def using(**options):
    """Change some options of :func:`config` for the ``with`` block (nested blocks stack); yields the new config.

    Unknown option names raise TypeError, values of the wrong type TypeError, out-of-range values ValueError.
    """
    changes = {name: _checked(name, value) for name, value in options.items()}
    new = dataclasses.replace(_current.get(_DEFAULT), **changes)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)
