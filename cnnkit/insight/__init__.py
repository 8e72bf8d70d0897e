"""``cnnkit.insight``: looking inside networks — ``summary`` (shapes, parameters, MACs, receptive fields)."""
from .summary import LayerRow, Summary, default_input_size, summary

__all__ = ["LayerRow", "Summary", "default_input_size", "summary"]
