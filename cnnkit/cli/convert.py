"""``cnnkit convert``: a PyTorch checkpoint (``.pth``) as a cnnkit checkpoint (``.safetensors``), read with
:func:`cnnkit.io.convert_torch` (no torch, no code from the file run)."""
from __future__ import annotations

from ..io import convert_torch

HELP = "a PyTorch .pth state dict as a cnnkit .safetensors checkpoint (no torch, no pickle code run)"
DESCRIPTION = ("Read a checkpoint written by torch.save (zip or legacy format) without torch and without running "
               "any code from its pickle, and write its state dict as a cnnkit checkpoint (safetensors), which "
               "`ck.load` reads and `model.load_state_dict` takes, e.g. torchvision's resnet18-f37072fd.pth for "
               "ck.models.resnet18(). bfloat16 tensors become float32; other dtypes are kept.")


def add_arguments(c) -> None:
    c.add_argument("source", metavar="IN.pth", help="a file written by torch.save")
    c.add_argument("target", metavar="OUT.safetensors", help="the cnnkit checkpoint to write (atomically)")
    c.add_argument("--key", default=None, metavar="KEY",
                   help="the entry holding the state dict when the file holds a training checkpoint, e.g. "
                        "state_dict or model (dotted for deeper ones: model.ema)")


def run(args, context) -> int:
    n = convert_torch(args.source, args.target, key=args.key)
    print(f"wrote {args.target}: {n} tensors", file=context.out)
    return 0
