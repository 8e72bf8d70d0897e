"""``cnnkit models``: the names of the model registry, one a line."""
from __future__ import annotations

from .. import models

HELP = "list the registered models"
DESCRIPTION = "List the registered models."


def add_arguments(parser) -> None:
    pass


def run(args, context) -> int:
    for name in models.list():
        print(name, file=context.out)
    return 0
