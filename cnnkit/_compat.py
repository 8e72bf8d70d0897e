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
    "torch.jit.script": "no TorchScript: cnnkit models are plain Python modules, run eagerly",
    "torch.jit.trace": "no TorchScript: cnnkit models are plain Python modules, run eagerly",
    "torch.jit.save": "no TorchScript files: save a state dict (cnnkit.save, safetensors)",
    "torch.jit.load": "no TorchScript files: load a state dict (cnnkit.load, safetensors)",
    "torch.compile": "no graph compiler: cnnkit runs its NumPy kernels eagerly",
    "torch.autocast": "no mixed precision: cnnkit computes in float32 or float64",
    "torch.amp": "no mixed precision: cnnkit computes in float32 or float64",
    "torch.fft": "no FFT: cnnkit's convolutions use im2col, Winograd and direct kernels",
    "torch.linalg": "no linear-algebra module: matmul, mm, bmm, mv, dot, einsum, trace and norm are at the top level",
    "torch.fx": "no graph capture or transformation: models are plain Python modules run eagerly",
    "torch.futures": "no asynchronous futures (PyTorch uses them for RPC)",
    "torch.serialization": "no pickle machinery: cnnkit.save/load write and read safetensors, and "
                           "cnnkit.io.load_torch reads PyTorch's files without unpickling",
    "torch.distributions": "no probability-distributions module: rand, randn, normal, bernoulli and multinomial "
                           "draw samples",
    "torch.sparse": "no sparse tensors",
    "torch.hub": "no model hub: cnnkit.models builds the classic architectures, weights load from safetensors",
    "torch.quantization": "no quantization",
    "torch.complex64": "no complex dtypes",
    "torch.bfloat16": "no bfloat16: NumPy has no such dtype",
    # Tensor
    "torch.Tensor.register_hook": "no tensor hooks: use Module.register_forward_hook or retain_grad()",
    "torch.Tensor.storage": "no storage objects: a Tensor wraps a NumPy array (Tensor.numpy())",
    "torch.Tensor.data_ptr": "no raw pointers: a Tensor wraps a NumPy array (Tensor.numpy())",
    "torch.Tensor.pin_memory": f"no pinned memory: {_GPU}",
    "torch.Tensor.share_memory_": "no shared-memory tensors (the DataLoader loads in-process)",
    "torch.Tensor.is_sparse": "no sparse tensors",
    "torch.Tensor.half": "no float16 computation: cnnkit computes in float32 or float64",
    "torch.Tensor.name": "no named tensors (a prototype in PyTorch); the measured uses of .name are mostly of "
                         "other objects (argparse namespaces, files)",
    "torch.Tensor.resize": "deprecated in PyTorch: use reshape/view, or F.interpolate to resize an image (the "
                           "measured uses are mostly PIL's Image.resize)",
    "torch.Tensor.values": "a sparse-tensor accessor and cnnkit has no sparse tensors (the (values, indices) "
                           "results of max, min, sort and topk do have .values); the measured uses are mostly "
                           "dict.values()",
    "torch.Tensor.indices": "a sparse-tensor accessor and cnnkit has no sparse tensors (the (values, indices) "
                            "results of max, min, sort and topk do have .indices); the measured uses are mostly "
                            "other objects' attributes (self.indices)",
    "torch.Tensor.index": "not a documented Tensor method; the measured uses are list.index and str.index",
    # nn
    "torch.nn.modules": "cnnkit.nn's layers live in one module per family (cnnkit/nn/*.py), not at torch.nn.modules' "
                        "paths: import them from cnnkit.nn",
    "torch.nn.Conv1d": _SCOPE, "torch.nn.Conv3d": _SCOPE, "torch.nn.MaxPool1d": _SCOPE, "torch.nn.MaxPool3d": _SCOPE,
    "torch.nn.BatchNorm3d": _SCOPE, "torch.nn.LSTM": _SCOPE, "torch.nn.GRU": _SCOPE, "torch.nn.RNN": _SCOPE,
    "torch.nn.Embedding": _SCOPE, "torch.nn.Transformer": _SCOPE, "torch.nn.MultiheadAttention": _SCOPE,
    "torch.nn.SyncBatchNorm": "it is cnnkit.distributed.SyncBatchNorm (over MPI)",
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
    "torch.set_num_threads": "sizes cnnkit's own worker pool (`kernels.config().threads`); NumPy's BLAS keeps the "
                             "thread count of its environment (OPENBLAS_NUM_THREADS): cnnkit never changes a "
                             "process-wide setting",
    "torch.use_deterministic_algorithms": "cnnkit's results repeat bit for bit at a fixed thread count; deterministic "
                                          "mode keeps the count fixed (no adaptive threads under a busy neighbour: "
                                          "`kernels.config().adaptive_threads`); `warn_only` has nothing to warn of",
    "torch.utils.checkpoint.checkpoint": "runs the function once and keeps its activations: the same values and "
                                         "gradients as torch, without the memory saving",
    "torch.utils.checkpoint.checkpoint_sequential": "runs the modules in order and keeps their activations (no "
                                                    "memory saving)",
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
    "torch.autograd.grad": "create_graph=True and is_grads_batched=True raise RuntimeError: backward passes compute "
                           "on arrays and are not recorded, so there is no double backward (gradient penalties, "
                           "Hessian-vector products); the walk visits every op below the outputs",
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
    "torch.nn.Sequential": "when no gradient is recorded, a Conv2d followed by a ReLU, an eval-mode BatchNorm2d or "
                           "both runs as one convolution (cnnkit/nn/fusion.py): Conv2d → ReLU gives the same bits, "
                           "a folded batch norm rounds once where the two layers round twice (last-bit "
                           "differences); a hook on those modules, a subclass or a recorded gradient keeps them "
                           "separate",
    "torch.nn.functional.interpolate": "modes nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area "
                                       "(area for 4-d input only); antialias=True raises ValueError",
}


def absent_error(qualified: str, owner: str) -> AttributeError:
    """The ``AttributeError`` for a name that cnnkit lacks: the reason if it is deliberately absent."""
    name = qualified.rpartition(".")[2]
    reason = ABSENT.get(qualified)
    if reason is None:
        return AttributeError(f"{owner} has no attribute {name!r}")
    return AttributeError(f"{owner} has no attribute {name!r}: {qualified} is deliberately absent from cnnkit "
                          f"({reason}); see docs/torch-compatibility.md")
