"""``run_serve``: what ``cnnkit serve [CHECKPOINT] [--host HOST] [--port PORT]`` runs.

With no checkpoint it serves the one ``cnnkit train lenet5`` writes (``DEFAULT_CHECKPOINT``); when that file
does not exist yet it calls ``train_default()`` first (the command line passes its ``cnnkit train lenet5``,
progress bar included), so the command works on a fresh install. The socket listens before the server
starts, so a port in use is an ``OSError`` (not an exit from inside uvicorn), the printed URL answers at once,
and ``port=0`` picks a free port (the printed URL has the real one).
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

DEFAULT_CHECKPOINT = Path("runs") / "lenet5-digits" / "checkpoint.safetensors"


def resolve_checkpoint(checkpoint=None, train_default=None, stream=None) -> Path:
    """The checkpoint to serve: ``checkpoint``, or ``DEFAULT_CHECKPOINT`` (trained first by ``train_default()``
    when it is missing)."""
    stream = stream if stream is not None else sys.stderr
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        return path
    path = DEFAULT_CHECKPOINT
    if not path.is_file():
        if train_default is None:
            raise FileNotFoundError(f"no checkpoint at {path}; train one with `cnnkit train lenet5` or "
                                    f"name a checkpoint")
        print(f"no checkpoint at {path} yet: training LeNet-5 on the built-in digits first", file=stream,
              flush=True)
        train_default()
        if not path.is_file():
            raise FileNotFoundError(f"training finished but wrote no checkpoint at {path}")
    return path


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (IPv4 or IPv6, as the host resolves) and listening, so connections
    made as soon as the URL is printed wait in its queue until uvicorn accepts them."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535, got {port!r}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise OSError(f"cannot resolve the host {host!r}: {e.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run_serve(checkpoint=None, host: str = "127.0.0.1", port: int = 8000, train_default=None, stream=None,
              err=None) -> int:
    """Serve the page and the API for ``checkpoint`` on ``host``:``port`` until interrupted (Ctrl-C); prints the
    URL to ``stream`` (default stdout), the note that the default checkpoint is being trained to ``err`` (default
    stderr). Returns 0."""
    from .app import create_app, require_extra

    require_extra()
    import uvicorn

    from .model import Predictor

    stream = stream if stream is not None else sys.stdout
    predictor = Predictor(resolve_checkpoint(checkpoint, train_default, err))
    app = create_app(predictor)
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    print(f"cnnkit serve: {predictor.restored.describe()} at {url_of(sock)} (Ctrl-C stops)", file=stream, flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
