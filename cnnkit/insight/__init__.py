"""``cnnkit.insight``: looking inside networks — ``summary`` (shapes, parameters, MACs, receptive fields)."""
from .summary import LayerRow, Summary, default_input_size, summary
from . import kernels  # noqa: E402
from .explain import ConvExplanation, explain_conv, render_conv_png  # noqa: E402
from .explain_pool import PoolExplanation, explain_pool  # noqa: E402
from .filtering import filter_image, run_filter  # noqa: E402
from .learn_edge import EdgeLearning, learn_edge  # noqa: E402
from .receptive_box import FieldBox, receptive_field  # noqa: E402
from .visualize import feature_maps, filter_grid, visualize  # noqa: E402

__all__ = ["LayerRow", "Summary", "default_input_size", "summary", "kernels", "ConvExplanation", "explain_conv",
           "render_conv_png", "PoolExplanation", "explain_pool", "filter_image", "run_filter", "EdgeLearning",
           "learn_edge", "FieldBox", "receptive_field", "feature_maps", "filter_grid", "visualize"]
