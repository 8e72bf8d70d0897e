"""The ONNX tests need the optional packages (``pip install 'cnnkit[onnx]'``); without them they are skipped.
The large models carry the suite's ``slow`` marker."""
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
