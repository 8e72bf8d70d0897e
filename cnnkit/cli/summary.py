"""``cnnkit summary``: a model's layers as a table (``cnnkit.insight.summary``)."""
from __future__ import annotations

from .. import models
from ..insight import default_input_size
from ..insight import summary as summarize
from . import args as A

HELP = "a model's layers: shapes, parameters, MACs, receptive fields"
DESCRIPTION = "Print a table of the model's layers (ck.summary)."


def add_arguments(s) -> None:
    s.add_argument("model", metavar="MODEL", help="a registered model (see `cnnkit models`)")
    s.add_argument("--input", type=A.shape, default=None, metavar="C,H,W",
                   help="one sample's shape (default: the model's native input, e.g. 1,28,28 for lenet5)")
    s.add_argument("--num-classes", type=A.positive_int, default=None, help="classes of the model's last layer")
    s.add_argument("--batch-size", type=A.positive_int, default=1)
    s.add_argument("--depth", type=A.non_negative_int, default=3,
                   help="deepest nesting level shown (deeper layers are folded into their parent's row)")


def run(args, context) -> int:
    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if args.model == "lenet5" and args.input is not None:
        kwargs["in_channels"] = args.input[0]
    model = models.get(args.model, **kwargs)
    size = args.input if args.input is not None else default_input_size(model)
    print(summarize(model, size, batch_size=args.batch_size, depth=args.depth), file=context.out)
    return 0
