"""Reading and writing files: ``checkpoint`` (``ck.save``/``ck.load`` on safetensors, no pickle),
``atomic`` (write-to-temp-then-rename) and ``torch_file`` (``ck.io.load_torch``/``ck.io.convert_torch``:
PyTorch checkpoints read without torch and without running their pickles' code)."""
from .torch_file import TorchFileError, convert_torch, load_torch

__all__ = ["TorchFileError", "convert_torch", "load_torch"]
