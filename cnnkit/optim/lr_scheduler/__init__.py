"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``).

A scheduler rewrites ``group['lr']`` of its optimizer's parameter groups; call ``scheduler.step()``
once per epoch (or per iteration), *after* ``optimizer.step()``. Constructing a scheduler stores each
group's starting rate as ``group['initial_lr']`` (``base_lrs``) and applies the rate of epoch 0.

The schedules use PyTorch's *chainable* (recursive) forms, which update the current rate from the
previous one, so the sequences equal torch's to the last bits; ``step(epoch)`` (deprecated in PyTorch)
uses the closed forms below.

==========================  ============================================================
StepLR(step_size, gamma)    lr_e = lr_0 * gamma ** (e // step_size)
MultiStepLR(milestones, g)  lr_e = lr_0 * gamma ** (number of milestones <= e)
ConstantLR(factor, n)       lr_e = lr_0 * factor for e < n, lr_0 afterwards
LinearLR(s, f, n)           lr_e = lr_0 * (s + (f - s) * min(e, n) / n)        (warm-up)
ExponentialLR(gamma)        lr_e = lr_0 * gamma ** e
PolynomialLR(n, power)      lr_e = lr_0 * (1 - min(e, n) / n) ** power
CosineAnnealingLR(T, m)     lr_e = m + (lr_0 - m) * (1 + cos(pi e / T)) / 2
LambdaLR(f)                 lr_e = lr_0 * f(e)
SequentialLR                one schedule after another, switching at milestones
ReduceLROnPlateau           lr <- max(lr * factor, min_lr) when a metric stops improving
==========================  ============================================================

``state_dict()`` values are plain Python numbers, lists and dicts (JSON-friendly; ``best`` of
``ReduceLROnPlateau`` may be ``inf``, which Python's ``json`` writes as ``Infinity``).

Modules: ``base`` (``LRScheduler``: stepping, the chainable/closed-form protocol, state dicts), ``schedules``
(the rate as a function of the epoch: the table's first eight rows), ``sequential`` (``SequentialLR``),
``plateau`` (``ReduceLROnPlateau``, driven by a metric).
"""
from .base import LRScheduler
from .plateau import ReduceLROnPlateau
from .schedules import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from .sequential import SequentialLR

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
           "PolynomialLR", "CosineAnnealingLR", "SequentialLR", "ReduceLROnPlateau"]
