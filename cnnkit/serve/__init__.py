"""``cnnkit.serve``: the page where you draw a digit and watch every layer answer (``cnnkit serve``).

    from cnnkit.serve import run_serve, create_app
    run_serve("runs/lenet5-digits/checkpoint.safetensors", port=8000)   # prints the URL, serves until Ctrl-C
    app = create_app("runs/lenet5-digits/checkpoint.safetensors")       # the ASGI app (for tests, other servers)

Needs the ``serve`` extra (``pip install 'cnnkit[serve]'``: Starlette and uvicorn). Modules: ``app`` (routes),
``model`` (the checkpoint's model answering one drawing), ``upload`` (checks of uploads), ``tiles`` (feature maps
as PNG tiles), ``run`` (``run_serve``), ``static/`` (the page: plain HTML, CSS and JavaScript).
"""
from .app import create_app, require_extra
from .run import DEFAULT_CHECKPOINT, run_serve

__all__ = ["DEFAULT_CHECKPOINT", "create_app", "require_extra", "run_serve"]
