"""``cnnkit run SCRIPT.py [ARGS]``: run an unmodified PyTorch script with ``torch`` resolved to cnnkit."""
from __future__ import annotations

import argparse

from ..run import run_script

HELP = "run an unmodified PyTorch script on cnnkit (torch resolves to cnnkit for that run)"
DESCRIPTION = ("Run SCRIPT.py as __main__ with ARGS as its command line, 'torch' (and torch.nn, torch.optim, "
               "torch.utils.data, ...) resolved to cnnkit for that run only. The script's output and errors are its "
               "own; the exit code is the script's.")


def add_arguments(parser) -> None:
    parser.add_argument("script", metavar="SCRIPT.py", help="the PyTorch script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's own arguments")


def run(args, context) -> int:
    return run_script(args.script, args.args, stderr=context.err)
