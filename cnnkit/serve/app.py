"""The web app of ``cnnkit serve``: an ASGI application (Starlette) around one :class:`Predictor`.

    GET  /                the page (static/index.html): draw a digit, see the prediction and every layer
    GET  /static/...      its script and style sheet (shipped in the package; no CDN, works offline)
    POST /api/predict     body: a PNG (Content-Type: image/png); ``?invert=1`` for dark ink on a light
                          background. Answer: the predicted class, the probabilities, the preprocessed input
                          and the output of every conv / pool / linear layer (names and shapes as ck.summary)
    GET  /api/model       the model: architecture, parameter count, data set, test accuracy (from the checkpoint)
    GET  /healthz         {"status": "ok"}

Errors are JSON ``{"error": message}`` with a 4xx status (see :mod:`cnnkit.serve.upload` for the uploads).
"""
from __future__ import annotations

from pathlib import Path

from .upload import MAX_BYTES, BadUpload, check_content_type, check_length, too_large

STATIC = Path(__file__).with_name("static")


def require_extra() -> None:
    """An ImportError with the one line that says what to install unless the ``serve`` extra (Starlette and
    uvicorn) is installed."""
    import importlib.util

    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"serve needs {' and '.join(missing)}, which are not installed: "
                          f"pip install 'cnnkit[serve]'")


def create_app(predictor):
    """The Starlette application serving ``predictor`` (a :class:`~cnnkit.serve.model.Predictor`, or a
    checkpoint path to build one from)."""
    require_extra()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .model import Predictor

    if not isinstance(predictor, Predictor):
        predictor = Predictor(predictor)

    async def page(request):
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def predict(request):
        check_content_type(request.headers.get("content-type"))
        check_length(request.headers.get("content-length"))
        invert = _flag(request.query_params.get("invert"), "invert")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BYTES:
                raise too_large(len(body))
        answer = await run_in_threadpool(predictor.predict_png, bytes(body), invert)
        return JSONResponse(answer)

    async def model(request):
        return JSONResponse(predictor.info())

    async def healthz(request):
        return JSONResponse({"status": "ok", "model": predictor.restored.name})

    async def bad_upload(request, exc: BadUpload):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def http_error(request, exc: HTTPException):
        return JSONResponse({"error": f"{request.method} {request.url.path}: {exc.detail}"},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/model", model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={BadUpload: bad_upload, HTTPException: http_error})
    app.state.predictor = predictor
    return app


def _flag(value: str | None, name: str) -> bool:
    """A query flag: absent, '', 0, false, no -> False; 1, true, yes -> True; anything else is a 400."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise BadUpload(400, f"predict: the query parameter {name} must be 0/1 (or false/true), got {value!r}")
