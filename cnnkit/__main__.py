"""``python -m cnnkit`` runs the ``cnnkit`` command."""
import sys

from .cli import main

sys.exit(main())
