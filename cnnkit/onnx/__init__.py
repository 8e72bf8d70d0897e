"""ONNX export (``ck.onnx.export``): a traced model written with the ``onnx`` package's helpers.

Optional: needs ``pip install 'cnnkit[onnx]'`` (onnx, and onnxruntime to run the file); importing
``cnnkit.onnx`` works without them, ``export`` and ``verify`` say what is missing.
"""
from .export import export
from .graph import ExportError
from .verify import verify

__all__ = ["ExportError", "export", "verify"]
