"""``ck.onnx.verify``: run an exported file with onnxruntime and compare it with the model it came from.

For each input x the error is measured relative to the size of cnnkit's output y (evaluation mode):

    error(x) = max |y_onnx − y| / max |y|

and the file is accepted when the largest error is at most ``rtol`` (1e-4: float32 arithmetic done in
another order, by another library). Needs onnxruntime (``pip install 'cnnkit[onnx]'``).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, no_grad
from .graph import ExportError


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("onnx.verify: the 'onnxruntime' package is not installed; pip install 'cnnkit[onnx]'"
                          ) from None
    return onnxruntime


def _arrays(out) -> list:
    return [out._data] if isinstance(out, Tensor) else [o._data for o in out]


def verify(model, path, inputs, rtol: float = 1e-4, input_name: str = "input") -> float:
    """The largest relative error of onnxruntime's outputs of the file ``path`` against ``model``'s
    evaluation-mode outputs over ``inputs`` (arrays or Tensors, e.g. two batch sizes); raises
    ``ExportError`` when it exceeds ``rtol`` or an output's shape differs. Every module's mode is restored."""
    ort = _import_onnxruntime()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    modes = [(m, m.training) for m in model.modules()]
    worst = 0.0
    try:
        model.eval()
        for x in inputs:
            x = np.ascontiguousarray(x._data if isinstance(x, Tensor) else x)
            with no_grad():
                want = _arrays(model(Tensor._wrap(x)))
            got = session.run(None, {input_name: x})
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                if g.shape != w.shape:
                    raise ExportError(f"onnx.verify: output {i} of {path} has shape {g.shape} at input "
                                      f"{x.shape}, the model's has {w.shape}")
                scale = float(np.abs(w).max()) if w.size else 0.0
                diff = float(np.abs(g.astype(np.float64) - w).max()) if w.size else 0.0
                worst = max(worst, diff / scale if scale else diff)
    finally:
        for m, mode in modes:
            m.training = mode
    if not worst <= rtol:
        raise ExportError(f"onnx.verify: onnxruntime's output of {path} differs from the model's by {worst:.3g} "
                          f"(relative to its largest value), more than {rtol:g}")
    return worst
