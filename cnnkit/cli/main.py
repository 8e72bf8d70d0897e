"""The ``cnnkit`` parser, built from the command table, and ``main``: parse, dispatch, and turn an error into one
line on stderr (no traceback) with its exit code."""
from __future__ import annotations

import argparse
import os
import re
import sys

from .._suggest import did_you_mean, nearest
from .._version import __version__
from .commands import COMMANDS
from .context import Context
from .messages import one_line_warnings, out_of_memory


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cnnkit train: error: ... (see 'cnnkit train --help')``, exit code 2
    (instead of the whole usage block before the message); help and errors go to the context's streams."""

    def __init__(self, *args, context: Context | None = None, **kwargs):
        self.option_names: list = []  # every --option of this parser, for the nearest-name hint
        super().__init__(*args, **kwargs)
        self.context = context if context is not None else Context()

    def add_argument(self, *names, **kwargs):
        self.option_names.extend(n for n in names if isinstance(n, str) and n.startswith("--"))
        return super().add_argument(*names, **kwargs)

    def print_help(self, file=None):
        super().print_help(file if file is not None else self.context.out)

    def exit(self, status=0, message=None):
        if message:
            self.context.err.write(message)
        sys.exit(status)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_with_hint(message)} (see '{self.prog} --help')\n")

    def unrecognized(self, unknown: list):
        """The error for arguments no option takes, with the nearest option of each unknown --option."""
        hints = [f"{u} -> {found}" for u in unknown if u.startswith("--")
                 for found in [nearest(u.split("=", 1)[0], self.option_names)] if found is not None]
        hint = f" (did you mean: {', '.join(hints)}?)" if hints else ""
        self.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from ([^)]*)\)")


def _with_hint(message: str) -> str:
    """argparse's ``invalid choice: 'adm' (choose from 'sgd', 'adam', ...)`` with ``(did you mean 'adam'?)``."""
    match = _INVALID_CHOICE.search(message)
    if match is None or "did you mean" in message:
        return message
    choices = [c.strip().strip("'") for c in match.group(2).split(",")]  # quoted or not, as Python versions differ
    return message[:match.end(1) + 1] + did_you_mean(match.group(1), choices) + message[match.end(1) + 1:]


def build_parser(context: Context | None = None, commands: dict | None = None) -> Parser:
    """The parser of the whole command line: a subparser per row of the command table (``commands``, default
    :data:`~cnnkit.cli.commands.COMMANDS`)."""
    parser = Parser(prog="cnnkit", description="cnnkit: convolutional neural networks on NumPy", context=context)
    parser.add_argument("--version", action="version", version=f"cnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (COMMANDS if commands is None else commands).values():
        formatter = argparse.RawDescriptionHelpFormatter if command.raw_description else argparse.HelpFormatter
        command.add_arguments(sub.add_parser(command.name, help=command.help, description=command.description,
                                             formatter_class=formatter, context=parser.context))
    parser.commands = sub.choices  # name -> the command's parser
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush into a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None, *, datasets=None, stdout=None, stderr=None, commands=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code (argparse's errors and
    ``--help`` exit through ``SystemExit``).

    ``datasets`` replaces entries of the ``--data`` table (name -> ``load(train, data_dir, download)``, see
    ``context.py``); ``stdout`` / ``stderr`` receive the output instead of ``sys.stdout`` / ``sys.stderr``;
    ``commands`` replaces the command table (name -> ``commands.Command``).
    """
    commands = COMMANDS if commands is None else commands
    context = Context(stdout=stdout, stderr=stderr)
    if datasets is not None:
        context.datasets.update(datasets)
    parser = build_parser(context, commands)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's parser, which names the command
        parser.commands[args.command].unrecognized(unknown)
    try:
        with one_line_warnings(args.command, context.err):
            code = commands[args.command].run(args, context)
        context.out.flush()
        return code
    except BrokenPipeError:  # e.g. `cnnkit models | head -2`: the reader has gone; nothing more to say
        _silence_stdout()
        return 141
    except MemoryError as e:  # NumPy says what it was asked for: "Unable to allocate 3.81 GiB for an array ..."
        print(f"cnnkit {args.command}: error: out of memory: {out_of_memory(e)}", file=context.err)
        return 1
    except KeyboardInterrupt:
        print(f"\ncnnkit {args.command}: interrupted", file=context.err)
        return 130
    except (ValueError, TypeError, OSError, FloatingPointError, ImportError) as e:
        print(f"cnnkit {args.command}: error: {e}", file=context.err)
        return 1
