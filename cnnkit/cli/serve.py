"""``cnnkit serve``: the draw-a-digit page for a checkpoint (:func:`cnnkit.serve.run_serve`).

With no checkpoint it serves the one ``cnnkit train lenet5`` writes and, when there is none yet, runs that
command first (this package's ``train``, progress bar included), so the command works on a fresh install.
"""
from __future__ import annotations

import argparse

from ..serve import DEFAULT_CHECKPOINT, run_serve
from . import args as A
from . import train

HELP = "a web page to draw a digit and watch every layer answer (needs the serve extra)"
RAW_DESCRIPTION = True
DESCRIPTION = f"""\
Serve a web page where you draw a digit (mouse, touch or pen) and see, after
every stroke, the predicted class, the probabilities and the output of every
convolution, pooling and fully connected layer of the model. It prints the
URL and serves until Ctrl-C.

CHECKPOINT is a checkpoint written by `cnnkit train`; without one it serves
{DEFAULT_CHECKPOINT}, training it first with
`cnnkit train lenet5` when it does not exist. Drawings are converted like `cnnkit predict` converts
image files. Needs the serve extra: pip install 'cnnkit[serve]'.

API: GET / (the page), POST /api/predict (a PNG; JSON answer), GET /api/model,
GET /healthz.
"""

port_number = A.checked(int, "a port number in 0..65535", lambda v: 0 <= v <= 65535)


def add_arguments(p) -> None:
    p.add_argument("checkpoint", nargs="?", default=None, metavar="CHECKPOINT",
                   help=f"a checkpoint written by `cnnkit train` (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8000,
                   help="the port to listen on (default: 8000; 0 picks a free one)")


def train_default_checkpoint(context) -> None:
    """``cnnkit train lenet5`` writing :data:`~cnnkit.serve.DEFAULT_CHECKPOINT`."""
    parser = argparse.ArgumentParser(prog="cnnkit train")
    train.add_arguments(parser)
    args = parser.parse_args(["lenet5", "--out", str(DEFAULT_CHECKPOINT.parent)])
    if DEFAULT_CHECKPOINT.name != train.CHECKPOINT:
        raise ValueError(f"serve: `cnnkit train` writes {train.CHECKPOINT}, not {DEFAULT_CHECKPOINT.name}")
    train.run(args, context)


def run(args, context) -> int:
    return run_serve(args.checkpoint, host=args.host, port=args.port,
                     train_default=lambda: train_default_checkpoint(context), stream=context.out,
                     err=context.err)
