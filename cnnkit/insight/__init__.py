"""``cnnkit.insight``: looking inside networks — ``summary`` (shapes, parameters, MACs, receptive fields); image
kernels and ``filter_image``; step-by-step explainers of convolution, pooling and learning a kernel; the first
layer's filters, feature maps and a unit's receptive field (``visualize``).

``trace.py`` runs a model once and records its module calls; ``receptive_field.py`` and ``macs.py`` compute
receptive fields and multiply-adds from such a trace; ``summary.py`` tabulates them.
"""
from .receptive_field import receptive_fields
from .summary import LayerRow, Summary, default_input_size, summary
from . import kernels  # noqa: E402,I001  (after summary: the order other branches edit)
from .explain import ConvExplanation, explain_conv, render_conv_png, run_explain_conv  # noqa: E402
from .explain_pool import PoolExplanation, explain_pool, run_explain_pool  # noqa: E402
from .filtering import filter_image, run_filter  # noqa: E402
from .learn_edge import EdgeLearning, learn_edge, run_learn_edge  # noqa: E402
from .receptive_box import FieldBox, receptive_field  # noqa: E402
from .visualize import feature_maps, filter_grid, run_visualize, visualize  # noqa: E402

__all__ = ["LayerRow", "Summary", "default_input_size", "receptive_fields", "summary",
           "kernels", "filter_image", "run_filter",
           "ConvExplanation", "explain_conv", "render_conv_png", "run_explain_conv",
           "PoolExplanation", "explain_pool", "run_explain_pool", "EdgeLearning", "learn_edge", "run_learn_edge",
           "FieldBox", "receptive_field", "feature_maps", "filter_grid", "visualize", "run_visualize"]
