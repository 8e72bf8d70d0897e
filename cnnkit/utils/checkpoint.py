"""``cnnkit.utils.checkpoint``: PyTorch's activation checkpointing API, computing the same values and gradients.

PyTorch's ``checkpoint(function, *args)`` frees the activations inside ``function`` after the forward pass and
recomputes them in backward, trading time for memory; the results and gradients are those of
``function(*args)``. cnnkit runs ``function(*args, **kwargs)`` and keeps its activations: the same values and
gradients, without the memory saving (the compatibility document lists this difference).
``checkpoint_sequential(functions, segments, input)`` runs the modules of ``functions`` in order.
"""
__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, with gradients to ``args`` and to the parameters ``function`` uses."""
    if not callable(function):
        raise TypeError(f"checkpoint: expected a callable function, got {type(function).__name__}")
    return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """The modules of ``functions`` (a ``Sequential`` or a list) applied to ``input`` in order."""
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"checkpoint_sequential: expected segments a positive int, got {segments!r}")
    modules = list(functions.children()) if hasattr(functions, "children") else list(functions)
    for module in modules:
        input = module(input)
    return input
