"""``cnnkit export``: a checkpoint as an ONNX file (:func:`cnnkit.onnx.export`), checked by running it with
onnxruntime against the model (:func:`cnnkit.onnx.verify`)."""
from __future__ import annotations

import json

import numpy as np

from .. import models
from ..insight import default_input_size
from ..io.checkpoint import load
from ..onnx import export, verify
from ..train import restore
from ..train.restore import checkpoint_model
from . import args as A

HELP = "a checkpoint as an ONNX file, verified with onnxruntime (needs cnnkit[onnx])"
DESCRIPTION = ("Rebuild the model of a `cnnkit train` checkpoint from its meta (or, with --model, of a bare state "
               "dict such as one written by `cnnkit convert`), trace it in evaluation mode and write it as ONNX. "
               "The file takes standardized images (N, C, H, W) as 'input' and gives 'output'; a training "
               "checkpoint's standardization (mean, std) is printed and stored in the file's metadata. The file "
               "is then run with onnxruntime on random inputs (batch 2 and 3, or 2 with --no-dynamic-batch) and "
               "its outputs compared with the model's. Needs pip install 'cnnkit[onnx]'.")


def add_arguments(e) -> None:
    e.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by `cnnkit train`, or a state dict with --model")
    e.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write (atomically)")
    e.add_argument("--opset", type=A.positive_int, default=17, help="ONNX opset, 13 or later (default: 17)")
    e.add_argument("--no-dynamic-batch", dest="dynamic_batch", action="store_false",
                   help="fix the batch size at 2 instead of a symbolic first dim")
    e.add_argument("--model", type=A.model_name, default=None,
                   help="the checkpoint is a bare state dict of this registered model (see `cnnkit models`)")
    e.add_argument("--num-classes", type=A.positive_int, default=None,
                   help="with --model: classes of the model's last layer (default: the model's default)")
    e.add_argument("--input", type=A.shape, default=None, metavar="C,H,W",
                   help="with --model: one sample's shape (default: the model's native input)")
    e.add_argument("--no-verify", dest="verify", action="store_false",
                   help="do not run the file with onnxruntime afterwards")


def _from_state_dict(args):
    """(model, sample shape, metadata) of a bare state dict (or of a training checkpoint's weights)."""
    loaded = state = load(args.checkpoint)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"{args.checkpoint} holds a {type(state).__name__}, not a state dict")
    model = models.get(args.model, **({} if args.num_classes is None else {"num_classes": args.num_classes}))
    try:
        model.load_state_dict(state)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{args.checkpoint} ({checkpoint_model(loaded)}): its weights do not fit --model "
                         f"{args.model}: {e}") from None
    shape = args.input if args.input is not None else default_input_size(model)
    return model.eval(), tuple(shape), args.model, {"cnnkit.model": args.model}


def _from_training_checkpoint(args):
    """(model, sample shape, metadata) of a `cnnkit train` checkpoint, rebuilt from its meta."""
    for option in ("num_classes", "input"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option.replace('_', '-')} goes with --model (a bare state dict); a training "
                             f"checkpoint says it in its meta")
    try:
        restored = restore(args.checkpoint)
    except ValueError as e:
        state = load(args.checkpoint)
        if isinstance(state, dict) and isinstance(state.get("meta"), dict):
            raise
        raise ValueError(f"{e}; for a bare state dict (e.g. written by `cnnkit convert`) pass --model NAME"
                         ) from None
    metadata = {"cnnkit.model": restored.name,
                "cnnkit.preprocessing": json.dumps({"channels": restored.channels, "size": restored.size,
                                                    "mean": restored.mean.tolist(), "std": restored.std.tolist()})}
    if restored.data:
        metadata["cnnkit.data"] = restored.data
    shape = (restored.channels, restored.size, restored.size)
    mean = ", ".join(f"{v:.4g}" for v in restored.mean)
    std = ", ".join(f"{v:.4g}" for v in restored.std)
    inputs = f"images in [0, 1] standardized per channel: (x - mean) / std, mean [{mean}], std [{std}]"
    return restored.model, shape, f"{restored.describe()}; input: {inputs}", metadata


def run(args, context) -> int:
    build = _from_state_dict if args.model is not None else _from_training_checkpoint
    model, shape, what, metadata = build(args)
    rng = np.random.default_rng(0)
    batches = (2, 3) if args.dynamic_batch else (2,)
    inputs = [rng.standard_normal((n,) + shape).astype(np.float32) for n in batches]
    export(model, inputs[0], args.onnx, opset=args.opset, dynamic_batch=args.dynamic_batch, metadata=metadata)
    batch = "batch" if args.dynamic_batch else "2"
    print(f"wrote {args.onnx}: {what}; 'input' ({batch}, {', '.join(map(str, shape))}), opset {args.opset}",
          file=context.out)
    if args.verify:
        try:
            error = verify(model, args.onnx, inputs)
        except ImportError as e:
            raise ImportError(f"{e} (the file was written unchecked; --no-verify skips the check)") from None
        sizes = " and ".join(str(n) for n in batches)
        print(f"onnxruntime: outputs equal the model's at batch {sizes} (largest difference {error:.1e} of the "
              f"largest output)", file=context.out)
    return 0
