"""What cnnkit deliberately leaves out of PyTorch's API, and where a name it has behaves differently.

``ABSENT`` maps a PyTorch name (as a user writes it: ``torch.fft``, ``torch.Tensor.register_hook``,
``torch.nn.LSTM``) to the reason it is absent; asking cnnkit for it raises ``AttributeError`` with that reason
(see :func:`absent_error`). ``DIFFERENCES`` maps a PyTorch name that cnnkit has to how it differs.
``docs/torch-compatibility.md`` is generated from these two tables and from the names cnnkit really has
(``tools/torch_compat.py``); a test regenerates it, so the document cannot drift from the code.
"""
from __future__ import annotations

__all__ = ["ABSENT", "DIFFERENCES", "absent_error"]

_GPU = "cnnkit runs on the CPU only"
_SCOPE = "outside cnnkit's scope (a CNN framework for 2-d images)"

ABSENT = {
    # torch
    "torch.jit": "no TorchScript: cnnkit models are plain Python modules",
    "torch.compile": "no graph compiler: cnnkit runs its NumPy kernels eagerly",
    "torch.autocast": "no mixed precision: cnnkit computes in float32 or float64",
    "torch.amp": "no mixed precision: cnnkit computes in float32 or float64",
    "torch.fft": "no FFT: cnnkit's convolutions use im2col, Winograd and direct kernels",
    "torch.linalg": "no linear-algebra module beyond matmul/mm/bmm",
    "torch.sparse": "no sparse tensors",
    "torch.hub": "no model hub: cnnkit.models builds the classic architectures, weights load from safetensors",
    "torch.quantization": "no quantization",
    "torch.einsum": "not implemented: write the product with matmul/bmm or reshape + sum",
    "torch.complex64": "no complex dtypes",
    "torch.bfloat16": "no bfloat16: NumPy has no such dtype",
    "torch.set_num_threads": "cnnkit sizes its thread pool itself (cnnkit.kernels config)",
    "torch.autograd.grad": "not implemented: use backward() and .grad (no higher-order gradients, no create_graph)",
    # Tensor
    "torch.Tensor.register_hook": "no tensor hooks: use Module.register_forward_hook or retain_grad()",
    "torch.Tensor.storage": "no storage objects: a Tensor wraps a NumPy array (Tensor.numpy())",
    "torch.Tensor.data_ptr": "no raw pointers: a Tensor wraps a NumPy array (Tensor.numpy())",
    "torch.Tensor.pin_memory": f"no pinned memory: {_GPU}",
    "torch.Tensor.share_memory_": "no shared-memory tensors (the DataLoader loads in-process)",
    "torch.Tensor.is_sparse": "no sparse tensors",
    "torch.Tensor.half": "no float16 computation: cnnkit computes in float32 or float64",
    # nn
    "torch.nn.Conv1d": _SCOPE, "torch.nn.Conv3d": _SCOPE, "torch.nn.MaxPool1d": _SCOPE, "torch.nn.MaxPool3d": _SCOPE,
    "torch.nn.BatchNorm3d": _SCOPE, "torch.nn.LSTM": _SCOPE, "torch.nn.GRU": _SCOPE, "torch.nn.RNN": _SCOPE,
    "torch.nn.Embedding": _SCOPE, "torch.nn.Transformer": _SCOPE, "torch.nn.MultiheadAttention": _SCOPE,
    "torch.nn.LayerNorm": "not implemented yet (BatchNorm and LocalResponseNorm are)",
    "torch.nn.GroupNorm": "not implemented yet (BatchNorm and LocalResponseNorm are)",
    "torch.nn.GELU": "not implemented: NumPy has no erf (ReLU6, SiLU, Hardswish, Softplus are there)",
    "torch.nn.SyncBatchNorm": "it is cnnkit.distributed.SyncBatchNorm (over MPI)",
    "torch.nn.functional.gelu": "not implemented: NumPy has no erf",
    "torch.nn.functional.grid_sample": "not implemented",
    "torch.nn.functional.affine_grid": "not implemented",
    "torch.nn.functional.conv1d": _SCOPE, "torch.nn.functional.conv3d": _SCOPE,
    "torch.nn.functional.scaled_dot_product_attention": _SCOPE,
    "torch.optim.LBFGS": "not implemented (first-order optimizers only)",
}

DIFFERENCES = {
    "torch.distributed": "data-parallel training over MPI (mpi4py): `init`, `DistributedSampler`, "
                         "`DistributedDataParallel`, `SyncBatchNorm`; not torch's process-group API "
                         "(`init_process_group`, backends, collectives on tensors)",
    "torch.Size": "prints as a plain tuple, `(2, 3)`, not `torch.Size([2, 3])`",
    "torch.device": f"any device can be named, but only 'cpu' holds data: {_GPU}, and moving data to another "
                    "device raises RuntimeError",
    "torch.Tensor.cuda": f"raises RuntimeError: {_GPU}",
    "torch.Tensor.to": "a CUDA/MPS device raises RuntimeError; dtype and 'cpu' work as in torch",
    "torch.cuda.is_available": "always False (device_count() is 0; seeding and synchronize are no-ops)",
    "torch.manual_seed": "one NumPy PCG64 generator drives everything: the same seed gives different numbers "
                         "than torch's (reproducible within cnnkit)",
    "torch.Generator": "wraps a NumPy PCG64 generator; only device 'cpu'",
    "torch.save": "safetensors files (tensors and state dicts), no pickle",
    "torch.load": "reads safetensors files only; never unpickles",
    "torch.Tensor.add_": "in-place methods are not recorded in the graph: on a tensor that requires grad (or "
                         "with an operand that does) they raise RuntimeError while grad mode is on; use them "
                         "under no_grad() (optimizer-style updates) or use the out-of-place op",
    "torch.Tensor.__iadd__": "`x += y` (also -=, *=, /=) changes x in place when nothing is recorded (so "
                              "`p -= lr * p.grad` under no_grad updates the parameter); while the graph is recorded "
                              "through x or y the result is computed out of place and the name rebound (same values "
                              "and gradients; other references to x keep the old values)",
    "torch.Tensor.backward": "an op whose input was changed in place after it was recorded raises "
                             "RuntimeError at backward (torch's version check; cnnkit checks every recorded "
                             "input, torch only the saved ones; views made by ops have their own counter)",
    "torch.Tensor.grad_fn": "nodes are cnnkit Functions: name() gives torch's name (MulBackward0), next_functions "
                            "is empty once backward freed the graph",
    "torch.utils.data.DataLoader": "loads in the calling process: num_workers, pin_memory, prefetch_factor, "
                                   "persistent_workers, timeout are accepted with torch's checks, worker_init_fn "
                                   "is never called",
    "torch.optim.Adagrad": "per-parameter state is created at the parameter's first gradient (torch: in the "
                           "constructor); the values are the same",
    "torch.nn.parallel.DataParallel": "runs the wrapped module on the CPU (state-dict keys get 'module.' as in "
                                      "torch); device_ids must be CPU devices",
    "torch.backends.cudnn": "benchmark / deterministic are plain attributes with no effect",
    "torch.nn.functional.interpolate": "modes nearest, nearest-exact, linear, bilinear, area; bicubic, trilinear "
                                       "and antialias raise ValueError",
}


def absent_error(qualified: str, owner: str) -> AttributeError:
    """The ``AttributeError`` for a name that cnnkit lacks: the reason if it is deliberately absent."""
    name = qualified.rpartition(".")[2]
    reason = ABSENT.get(qualified)
    if reason is None:
        return AttributeError(f"{owner} has no attribute {name!r}")
    return AttributeError(f"{owner} has no attribute {name!r}: {qualified} is deliberately absent from cnnkit "
                          f"({reason}); see docs/torch-compatibility.md")
