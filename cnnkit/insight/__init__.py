"""``cnnkit.insight``: looking inside networks.

``trace.py`` runs a model once and records its module calls; ``receptive_field.py`` and ``macs.py`` compute
receptive fields and multiply-adds from such a trace; ``summary.py`` tabulates them.

``kernels.py`` holds the classic image kernels and ``filtering.py`` applies them (``filter_image``);
``explain.py``, ``explain_pool.py`` and ``learn_edge.py`` work out a convolution, a pooling layer and the
learning of a kernel step by step; ``visualize.py`` draws a trained network's first-layer filters, its feature
maps and (``receptive_box.py``) the receptive field of one unit on the input.
"""
from . import kernels
from .explain import ConvExplanation, explain_conv, render_conv_png
from .explain_pool import PoolExplanation, explain_pool
from .filtering import filter_image, sample_image, side_by_side
from .learn_edge import EdgeLearning, learn_edge
from .receptive_box import FieldBox, receptive_box
from .receptive_field import receptive_fields
from .summary import LayerRow, Summary, default_input_size, summary
from .visualize import feature_maps, filter_grid, visualize

__all__ = ["LayerRow", "Summary", "default_input_size", "receptive_fields", "summary",
           "kernels", "filter_image", "sample_image", "side_by_side",
           "ConvExplanation", "explain_conv", "render_conv_png", "PoolExplanation", "explain_pool",
           "EdgeLearning", "learn_edge", "FieldBox", "receptive_box", "feature_maps", "filter_grid", "visualize"]
