"""``python -m cnnkit.cli`` runs the ``cnnkit`` command."""
import sys

from .main import main

sys.exit(main())
