"""``cnnkit.insight``: looking inside networks — ``summary`` (shapes, parameters, MACs, receptive fields).

``trace.py`` runs a model once and records its module calls; ``receptive_field.py`` and ``macs.py`` compute
receptive fields and multiply-adds from such a trace; ``summary.py`` tabulates them.
"""
from .receptive_field import receptive_fields
from .summary import LayerRow, Summary, default_input_size, summary

__all__ = ["LayerRow", "Summary", "default_input_size", "receptive_fields", "summary"]
