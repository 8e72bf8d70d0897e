"""The command table: every ``cnnkit`` subcommand, in the order ``cnnkit --help`` lists them.

The parser, the help and the dispatch are all built from :data:`COMMANDS` (see ``main.py``). A command is a
module of this package that defines

    HELP = "one line for `cnnkit --help`"
    DESCRIPTION = "the paragraph at the top of `cnnkit NAME --help`"
    RAW_DESCRIPTION = True                # optional: print DESCRIPTION as written (argparse re-wraps otherwise)
    def add_arguments(parser): ...        # parser.add_argument(...), with the types of args.py
    def run(args, context) -> int: ...    # the exit code; write to context.out / context.err, load data
                                          # with context.load(...); raise ValueError / OSError for errors

To add a command (e.g. ``filter``): write ``cnnkit/cli/filter.py`` as above and add one row
``Command.of("filter", filter)`` below. ``main`` turns the errors it raises into one line
``cnnkit filter: error: ...`` and exit code 1. Library logic belongs in the library (``cnnkit.data``,
``cnnkit.train``, ...); a command module only reads arguments, calls it and prints.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

from . import convert, evaluate, explain, export, models, predict, run, serve, summary, train, visualize
from . import filter as filter_command


class Command(NamedTuple):
    """One row of the table: the name, the module, and what the parser and the dispatch take from it."""

    name: str
    module: ModuleType
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[..., int]
    raw_description: bool = False

    @classmethod
    def of(cls, name: str, module: ModuleType) -> Command:
        return cls(name, module, module.HELP, module.DESCRIPTION, module.add_arguments, module.run,
                   getattr(module, "RAW_DESCRIPTION", False))


COMMANDS = {command.name: command for command in (
    Command.of("train", train),
    Command.of("eval", evaluate),
    Command.of("predict", predict),
    Command.of("models", models),
    Command.of("summary", summary),
    Command.of("filter", filter_command),
    Command.of("explain", explain),
    Command.of("visualize", visualize),
    Command.of("serve", serve),
    Command.of("convert", convert),
    Command.of("export", export),
    Command.of("run", run),
)}
