"""cnnkit: a convolutional-neural-network framework on NumPy with its own autograd.

    import cnnkit as ck
    x = ck.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2x
"""
from . import autograd, backend, ops
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
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
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.compare import (
                      allclose,
                      eq,
                      ge,
                      gt,
                      isfinite,
                      isnan,
                      le,
                      logical_and,
                      logical_not,
                      logical_or,
                      lt,
                      ne,
)
from .ops.dtype import cast
from .ops.elementwise import (
                      abs,
                      add,
                      clamp,
                      clip,
                      clone,
                      div,
                      exp,
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
from .ops.linalg import matmul
from .ops.pad import pad
from .ops.reduce import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from .ops.shape import (
                      cat,
                      chunk,
                      concatenate,
                      expand,
                      flatten,
                      permute,
                      reshape,
                      split,
                      squeeze,
                      stack,
                      t,
                      transpose,
                      unsqueeze,
)
from .random import get_generator, get_rng_state, initial_seed, manual_seed, set_rng_state
from .tensor import (
                      Tensor,
                      arange,
                      as_tensor,
                      empty,
                      from_numpy,
                      full,
                      full_like,
                      ones,
                      ones_like,
                      rand,
                      rand_like,
                      randint,
                      randn,
                      randn_like,
                      tensor,
                      zeros,
                      zeros_like,
)

bool = bool_
long = int64
float = float32
double = float64

# ck.onnx.export: the optional onnx package is imported only when it is called
from . import data, distributed, models, nn, onnx, optim, train  # noqa: E402
from ._version import __version__  # noqa: E402
from .insight.summary import summary  # noqa: E402
from .io.checkpoint import load, save  # noqa: E402
