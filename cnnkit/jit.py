"""``cnnkit.jit``: what ``torch.jit`` answers to eager code, for programs that mark methods for TorchScript.

cnnkit has no TorchScript, so code always runs eagerly, as PyTorch's own eager mode runs it:
``is_scripting()`` and ``is_tracing()`` are False; the decorators ``unused``, ``ignore``, ``export``,
``_overload`` and ``_overload_method`` return the function unchanged (PyTorch's do too outside scripting);
``annotate(the_type, the_value)`` is ``the_value``. Compiling (``script``, ``trace``) and TorchScript files
(``save``, ``load``) are deliberately absent: asking for them raises ``AttributeError`` with the reason.
"""
__all__ = ["annotate", "export", "ignore", "is_scripting", "is_tracing", "unused"]


def is_scripting() -> bool:
    """False: cnnkit code never runs under TorchScript."""
    return False


def is_tracing() -> bool:
    """False: cnnkit has no tracer."""
    return False


def unused(fn):
    """``fn`` itself (the mark tells TorchScript to skip compiling it)."""
    return fn


def export(fn):
    """``fn`` itself (the mark tells TorchScript to compile it as an entry point)."""
    return fn


def ignore(drop=False, **kwargs):
    """``@ignore`` or ``@ignore(drop=...)``: the function itself."""
    if callable(drop):
        return drop
    return lambda fn: fn


def annotate(the_type, the_value):
    """``the_value`` (the type is a hint for TorchScript)."""
    return the_value


def _overload(fn):
    """An overload declaration for TorchScript: ``fn`` itself (the last definition of the name wins in Python)."""
    return fn


def _overload_method(fn):
    """A method overload declaration for TorchScript (torchvision's DenseNet uses it): ``fn`` itself."""
    return fn


def __getattr__(name: str):
    from ._compat import absent_error
    raise absent_error(f"torch.jit.{name}", "module 'cnnkit.jit'")
