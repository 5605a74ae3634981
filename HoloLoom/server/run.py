"""Run the API under uvicorn (what ``hololoom serve`` does)."""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependencyError
from .settings import ServerSettings

__all__ = ["serve"]


def serve(settings: ServerSettings | None = None, *, log_level: str = "info", access_log: bool = True,
          **app_options: Any) -> None:
    """Serve until interrupted. One process, one event loop, one ``HoloLoom``.

    Raises:
        ConfigurationError: no tokens configured and ``settings.host`` is not loopback.
    """
    settings = settings or ServerSettings.from_env()
    settings.check_bind()
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("hololoom serve", "server") from exc
    from .app import create_app

    import logging

    for noisy in ("httpx", "httpcore"):  # one line per backend call (Qdrant's REST) drowns the access log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app = create_app(settings=settings, **app_options)
    # No reverse-proxy header trust, no server banner; the access log shows paths and
    # statuses only (tokens travel in headers, which are never logged).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=access_log,
                proxy_headers=False, server_header=False, timeout_graceful_shutdown=20)
