"""cnnkit: a convolutional-neural-network framework on NumPy with its own autograd.

    import cnnkit as ck
    x = ck.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2x
"""
import math

from . import accelerator, autograd, backend, backends, cuda, jit, ops
from .autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .device import device
from .legacy_tensors import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.compare import allclose, eq, ge, gt, isfinite, isnan, le, logical_and, logical_not, logical_or, lt, ne
from .ops.dtype import cast
from .ops.einsum import einsum
from .ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    clone,
    div,
    exp,
    floor_divide,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sign,
    sqrt,
    sub,
    where,
)
from .ops.indexing import masked_fill
from .ops.linalg import bmm, dot, matmul, mm, mv, trace
from .ops.pad import pad
from .ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .ops.reduce import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from .ops.scatter import repeat_interleave, scatter, scatter_add
from .ops.select import flip, gather, index_select, narrow, roll, unbind
from .ops.shape import (
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    meshgrid,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    t,
    transpose,
    unsqueeze,
)
from .ops.sort import argsort, sort, topk, unique
from .ops.trig import acos, asin, atan, cos, cosh, sin, sinh, tan
from .ops.unary import (
    ceil,
    cumsum,
    dist,
    expm1,
    floor,
    log1p,
    logsumexp,
    norm,
    prod,
    reciprocal,
    round,
    rsqrt,
    square,
    trunc,
)
from .random import Generator, get_generator, get_rng_state, initial_seed, manual_seed, set_rng_state
from .tensor import Size, Tensor

bool = bool_
long = int64
int = int32
short = int16
half = float16
float = float32
double = float64

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan

# ck.onnx.export: the optional onnx package is imported only when it is called
from . import data, distributed, models, nn, onnx, optim, train, utils  # noqa: E402
from ._version import __version__  # noqa: E402
from .insight.summary import summary  # noqa: E402
from .io.checkpoint import load, save  # noqa: E402
from .kernels.config import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    get_num_threads,
    set_num_threads,
    use_deterministic_algorithms,
)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


def __getattr__(name: str):
    from ._compat import absent_error
    raise absent_error(f"torch.{name}", "module 'cnnkit'")
