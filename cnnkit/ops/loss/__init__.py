"""Loss functions: softmax cross-entropy, negative log-likelihood, regression losses (MSE, L1, smooth L1,
Huber) and binary cross-entropy (on logits and on probabilities).

Each loss is one fused op with a hand-derived backward (PyTorch's semantics throughout, including the
order of rounding where PyTorch's result depends on it); each module's docstring gives the formulas.

- ``classification``: ``cross_entropy`` (class-index or class-probability targets, label smoothing), ``nll_loss``
- ``regression``: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``
- ``binary``: ``binary_cross_entropy_with_logits``, ``binary_cross_entropy``
- ``reduction``: 'none' | 'mean' | 'sum' (and PyTorch's legacy flags), the input checks the losses share
"""
from .binary import BCE, BCEWithLogits, binary_cross_entropy, binary_cross_entropy_with_logits
from .classification import (
    CrossEntropy,
    CrossEntropyProbs,
    NLLLoss,
    check_ignore_index,
    check_label_smoothing,
    cross_entropy,
    nll_loss,
)
from .reduction import REDUCTIONS, check_reduction, legacy_reduction
from .regression import Regression, check_positive, huber_loss, l1_loss, mse_loss, smooth_l1_loss

__all__ = ["CrossEntropy", "NLLLoss", "CrossEntropyProbs", "Regression", "BCEWithLogits", "BCE", "REDUCTIONS",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy_with_logits", "binary_cross_entropy"]
