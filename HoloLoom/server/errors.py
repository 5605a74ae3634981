"""How every failure becomes an HTTP status and one JSON error body.

Each ``HoloLoomError`` subclass maps to the status of its nearest mapped ancestor, so an
error class added later (a new ``ValidationError`` subclass, say) is covered without an
edit here:

    ValidationError (and subclasses)        422  bad input; nothing was written
    NotFoundError                           404  no such memory or weave in this namespace
    ConfigurationError, MissingDependency   500  the server is misconfigured
    EmbeddingError                          500  the model failed
    StoreUnavailableError, StoreClosedError 503  a backend cannot be reached; retry later
    PartialWriteError                       503  a write reached some stores but not all
    StoreError                              502  a backend failed
    ToolError                               500  a tool failed
    HoloLoomError (anything else)           500

The API's own refusals use the same body: 400 (a body that is not JSON), 401 (no or
unknown token), 403 (namespace not granted to the token), 413 (body too large), 429
(rate limit). Bodies look like
``{"error": {"type": "InvalidQueryError", "message": "query is empty", "status": 422}}``
and never carry a traceback, a token or a password.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ConfigurationError,
    EmbeddingError,
    HoloLoomError,
    NotFoundError,
    PartialWriteError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
    ToolError,
    ValidationError,
)

__all__ = ["ApiError", "ERROR_STATUS", "error_body", "install_error_handlers", "status_for"]

log = logging.getLogger("hololoom.server")
_PHRASES = {s.value for s in HTTPStatus}

ERROR_STATUS: dict[type[HoloLoomError], int] = {
    ValidationError: 422,
    NotFoundError: 404,
    ConfigurationError: 500,
    EmbeddingError: 500,
    StoreUnavailableError: 503,
    StoreClosedError: 503,
    PartialWriteError: 503,
    StoreError: 502,
    ToolError: 500,
    HoloLoomError: 500,
}


class ApiError(Exception):
    """A refusal by the API itself (auth, limits), raised from handlers and dependencies."""

    def __init__(self, status: int, type_: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers or {}


def status_for(exc: HoloLoomError) -> int:
    """The HTTP status of a HoloLoomError: its nearest mapped ancestor's."""
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]  # type: ignore[index]
    return 500


def error_body(status: int, type_: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "status": status, **extra}}


def _json(status: int, type_: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(status, type_, message, **extra), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the JSON error body."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.type, exc.message, exc.headers)

    @app.exception_handler(HoloLoomError)
    async def _loom_error(request: Request, exc: HoloLoomError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, PartialWriteError):
            extra = {"written": exc.written, "failed": exc.failed}
        return _json(status, type(exc).__name__, str(exc), **extra)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        where = ".".join(first["loc"][1:]) or "body"
        return _json(422, "RequestValidationError", f"{where}: {first['message']}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "") if exc.status_code in _PHRASES else "HTTPError"
        return _json(exc.status_code, name, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: the traceback goes to the server log, never to the client.
        log.exception("%s %s: unexpected %s", request.method, request.url.path, type(exc).__name__)
        return _json(500, "InternalError", "internal error; the server log has the details")
