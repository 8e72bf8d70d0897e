"""Operator fusion in eager mode: layers that follow one another computed as one convolution, for inference.

    Conv2d → ReLU                      y = max(conv2d(x, W) + b, 0)
    Conv2d → BatchNorm2d (eval) [→ ReLU]
                                       y = [max(]conv2d(x, W') + b'[, 0)],   s = γ / √(running_var + ε),
                                       W' = W · s (per output channel),      b' = (b − running_mean) · s + β

When no gradient is being recorded (under ``no_grad``/``inference_mode``, or with neither the input nor any of the
layers' parameters requiring one), :class:`~cnnkit.nn.Sequential` computes such a chain of its children as one
convolution, and so do the ResNet blocks of the model zoo (:func:`conv_bn`, :func:`conv_bn_add_relu`). On oneDNN the
ReLU is a post-op of the convolution primitive (applied to each output value before it is stored); on the NumPy
kernels it runs in place on the convolution's fresh output. The batch normalization in evaluation mode is an affine
map per output channel, so it is folded into the convolution's weight and bias (what
``torch.nn.utils.fusion.fuse_conv_bn_eval`` does by hand): its pass over the output is gone. The folded weight is
computed once in float64, rounded to the weight's dtype, and kept while the layers are unchanged (the weight's array
and version; the per-channel vectors compared by value). Conv → ReLU gives the values of the two modules bit for
bit; a folded batch norm rounds once where the modules round twice (measured differences in
tests/nn/test_fusion.py).

A chain is left unfused (its modules called as usual) when anything could observe the difference: a forward hook
or pre-hook on one of its modules, a subclass, a padding mode other than zeros, a batch norm in training mode or
without running statistics, or a gradient being recorded. oneDNN's ReLU maps NaN to 0 where PyTorch keeps NaN, so
the post-op is used only when the input, the weight and the bias are finite (the input checked at each call, the
weight once while unchanged: :func:`cnnkit.kernels.onednn.packed.finite`); otherwise the ReLU runs on NumPy.

A ResNet block's end, relu(bn(conv(x)) + shortcut), is one convolution too (:func:`conv_bn_add_relu`): the
shortcut is added by the primitive (oneDNN's binary post-op) or in place, and the ReLU then runs in place on NumPy
(after an addition the finiteness of the sum is not known without another pass). Not fused: BatchNorm → ReLU →
Conv (DenseNet's order), anything an eager ``forward`` calls that a container cannot see.
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from ..autograd.grad_mode import is_grad_enabled
from ..ops.activation import relu as relu_op
from ..ops.conv import conv2d, conv2d_add_relu, conv2d_relu
from ..tensor import Tensor
from .activation import ReLU
from .conv import Conv2d
from .module import name_error
from .normalization import BatchNorm2d

__all__ = ["conv_relu_fusable", "conv_relu", "conv_bn_foldable", "conv_bn", "folded", "residual_foldable",
           "conv_bn_add_relu"]


def _plain(module, kind) -> bool:
    """``module`` is exactly a ``kind`` (not a subclass) with no forward hook or pre-hook."""
    return type(module) is kind and not (module._forward_hooks or module._forward_pre_hooks)


def _no_graph(x, modules) -> bool:
    """Would calling ``modules`` on ``x`` record no gradient?"""
    if not is_grad_enabled():
        return True
    if getattr(x, "requires_grad", False):
        return False
    return not any(p.requires_grad for m in modules for p in m.parameters())


def conv_relu_fusable(conv, relu, x) -> bool:
    """May ``relu(conv(x))`` be computed as one op here (see the module docstring)?"""
    return (_plain(conv, Conv2d) and _plain(relu, ReLU) and conv.padding_mode == "zeros"
            and _no_graph(x, (conv,)))


def _call(fn, conv, x, weight, bias):
    try:
        return fn(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    except (ValueError, TypeError, IndexError) as e:
        name_error(e, conv)        # errors name the convolution, as its own call would
        raise


def conv_relu(conv, x):
    """max(conv(x), 0) in one op."""
    return _call(conv2d_relu, conv, x, conv.weight, conv.bias)


def conv_bn_foldable(conv, bn, relu, x) -> bool:
    """May ``relu(bn(conv(x)))`` be one convolution here (module docstring)? ``relu``: a ReLU module, True for
    the functional ``F.relu``, or None for ``bn(conv(x))``."""
    return (_plain(conv, Conv2d) and _plain(bn, BatchNorm2d) and (relu is None or relu is True or _plain(relu, ReLU))
            and conv.padding_mode == "zeros" and not bn.training and bn.running_mean is not None
            and bn.running_var is not None and bn.running_mean.dtype == conv.weight.dtype
            and _no_graph(x, (conv, bn)))


_lock = threading.Lock()
_folds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()     # conv -> (state, W', b')


def _vectors(conv, bn) -> tuple:
    """The per-channel vectors the fold reads, as bytes (compared by value at each call: 0.25 µs each)."""
    return tuple(None if t is None else t._data.tobytes() for t in (conv.bias, bn.weight, bn.bias, bn.running_mean,
                                                                    bn.running_var))


def _same(state, conv, bn) -> bool:
    w, version, eps, bn_ref, vectors = state
    if w is not conv.weight._data or version != conv.weight._version[0] or eps != bn.eps or bn_ref() is not bn:
        return False
    return vectors == _vectors(conv, bn)


def folded(conv, bn) -> tuple:
    """(W', b') as Tensors: the convolution with the evaluation-mode batch normalization folded in (module
    docstring), computed in float64 and rounded to the weight's dtype; kept while both layers are unchanged."""
    with _lock:
        entry = _folds.get(conv)
    if entry is not None and _same(entry[0], conv, bn):
        return entry[1], entry[2]
    w = conv.weight._data
    scale = 1.0 / np.sqrt(bn.running_var._data.astype(np.float64) + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight._data
    shift = -bn.running_mean._data.astype(np.float64) * scale
    if conv.bias is not None:
        shift = shift + conv.bias._data * scale
    if bn.bias is not None:
        shift = shift + bn.bias._data
    weight = Tensor._wrap((w.astype(np.float64) * scale[:, None, None, None]).astype(w.dtype))
    bias = Tensor._wrap(shift.astype(w.dtype))
    state = (w, conv.weight._version[0], bn.eps, weakref.ref(bn), _vectors(conv, bn))
    with _lock:
        _folds[conv] = (state, weight, bias)
    return weight, bias


def conv_bn(conv, bn, relu, x):
    """``relu(bn(conv(x)))`` (``relu``: a ReLU module, True for ``F.relu``, None for ``bn(conv(x))``): one
    convolution with the batch norm folded in when :func:`conv_bn_foldable`, else the modules called in turn."""
    if conv_bn_foldable(conv, bn, relu, x):
        weight, bias = folded(conv, bn)
        return _call(conv2d if relu is None else conv2d_relu, conv, x, weight, bias)
    y = bn(conv(x))
    if relu is None:
        return y
    return relu_op(y) if relu is True else relu(y)


def residual_foldable(conv, bn, relu, shortcut, x) -> bool:
    """May a residual block's end, ``relu(bn(conv(x)) + shortcut(block input))``, be one convolution here:
    :func:`conv_bn_foldable` and no hook in the shortcut's modules (``shortcut`` None: the identity)?"""
    if relu is None or not conv_bn_foldable(conv, bn, relu, x):
        return False
    return shortcut is None or (_hook_free(shortcut) and _no_graph(None, (shortcut,)))


def _hook_free(module) -> bool:
    """No forward hook or pre-hook on ``module`` or any module inside it."""
    if module._forward_hooks or module._forward_pre_hooks:
        return False
    return all(m is None or _hook_free(m) for m in module._modules.values())


def conv_bn_add_relu(conv, bn, residual, x):
    """max(bn(conv(x)) + residual, 0) as one convolution (the batch norm folded, ``residual`` added by the
    primitive or in place, the ReLU in place); call :func:`residual_foldable` first."""
    weight, bias = folded(conv, bn)
    return _call(lambda *args: conv2d_add_relu(args[0], args[1], args[2], residual, *args[3:]), conv, x, weight,
                 bias)
