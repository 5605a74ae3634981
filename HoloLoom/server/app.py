"""The FastAPI application: one ``HoloLoom`` per process, shared by every request.

    app = create_app()                      # HoloLoom.from_env() and ServerSettings.from_env()
    uvicorn.run(app, host="127.0.0.1", port=8000)

The loom is opened in the lifespan (model loaded, store connected) before the first
request and closed at shutdown. ``/metrics`` serves the loom's Prometheus registry plus
per-route request counts; ``/mcp`` is the MCP server over streamable HTTP behind the same
tokens as the REST endpoints.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..loom import HoloLoom
from ..telemetry import LoomMetrics
from .auth import TokenTable
from .errors import ApiError, error_body, install_error_handlers
from .limits import BodySizeLimit, RateLimiter
from .routes import router
from .settings import ALL_NAMESPACES, METRICS_GRANT, ServerSettings

__all__ = ["create_app"]

log = logging.getLogger("hololoom.server")

DESCRIPTION = """Long-term memory and multi-hop retrieval over HTTP.

Send `Authorization: Bearer <token>`; each token may use only the namespaces it was given
(403 otherwise, and nothing is touched). Errors are JSON: `{"error": {"type", "message", "status"}}`.
"""


class _RequestMetrics:
    """ASGI middleware counting requests by method, route template and status."""

    def __init__(self, app: ASGIApp, *, requests: Counter, seconds: Histogram) -> None:
        self.app, self.requests, self.seconds = app, requests, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.seconds.labels(route).observe(time.perf_counter() - started)


class _McpGate:
    """Authenticates ``/mcp`` with the API's tokens and hands the caller to the MCP tools."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from ..mcp_server import PRINCIPAL_SCOPE_KEY

        headers = dict(scope.get("headers") or [])
        try:
            who = self.state.tokens.principal_for((headers.get(b"authorization") or b"").decode("latin-1"))
            await self.state.rate_limiter.check(who.label)
        except ApiError as exc:
            body = json.dumps(error_body(exc.status, exc.type, exc.message)).encode()
            extra = [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
            await send({"type": "http.response.start", "status": exc.status,
                        "headers": [(b"content-type", b"application/json"), *extra]})
            await send({"type": "http.response.body", "body": body})
            return
        scope[PRINCIPAL_SCOPE_KEY] = who
        await self.app(scope, receive, send)


def _add_metrics_route(app: FastAPI, metrics: LoomMetrics) -> None:
    """``/metrics``: the gauges name namespaces, so with auth on only '*' or '@metrics' tokens may scrape."""

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        who = app.state.tokens.principal_for(request.headers.get("authorization"))
        if not who.namespaces & {ALL_NAMESPACES, METRICS_GRANT}:
            raise ApiError(403, "Forbidden", "this token may not read /metrics")
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _mount_mcp(app: FastAPI, mcp_server: Any) -> None:
    """Serve the MCP tools at ``/mcp`` (streamable HTTP, stateless, JSON) behind the API's tokens."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings

    # Builds the session manager; the API's tokens guard the route, so DNS-rebinding
    # protection (which pins Host to localhost) is off: compose reaches us as "hololoom:8000".
    mcp_server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.add_route("/mcp", _McpGate(StreamableHTTPASGIApp(mcp_server.session_manager), app.state),
                  methods=["GET", "POST", "DELETE"], include_in_schema=False)


def create_app(
    *,
    loom_factory: Callable[[], HoloLoom] | None = None,
    settings: ServerSettings | None = None,
    mcp: bool = True,
) -> FastAPI:
    """Build the API.

    Args:
        loom_factory: makes the process's one loom (default ``HoloLoom.from_env``); it is
            opened at startup and closed at shutdown.
        settings: listening, tokens and limits (default ``ServerSettings.from_env()``).
        mcp: also serve the MCP tools at ``/mcp`` (needs the ``mcp`` package).
    """
    settings = settings or ServerSettings.from_env()
    factory = loom_factory or HoloLoom.from_env
    metrics = LoomMetrics()
    mcp_server: Any = None
    if mcp:
        from ..mcp_server import build_mcp_server

        mcp_server = build_mcp_server(lambda: app.state.loom)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loom = factory()
        await loom.open()
        app.state.loom = loom
        app.state.tokens = TokenTable(settings, default_namespace=loom.settings.namespace)
        detach = metrics.attach(loom)
        refresher = metrics.start_refreshing(15.0)
        try:
            async with contextlib.AsyncExitStack() as stack:
                if mcp_server is not None:
                    await stack.enter_async_context(mcp_server.session_manager.run())
                log.info("HoloLoom API ready: backend=%s, auth=%s, tokens=%d", loom.store.name,
                         "on" if settings.auth_enabled else "off (loopback only)", len(settings.tokens))
                yield
        finally:
            refresher.cancel()
            detach()
            await loom.close()

    app = FastAPI(title="HoloLoom", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.rate_limit)
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(router)

    _add_metrics_route(app, metrics)
    if mcp_server is not None:
        _mount_mcp(app, mcp_server)
    requests = Counter("hololoom_http_requests", "HTTP requests by method, route and status",
                       ["method", "route", "status"], registry=metrics.registry)
    seconds = Histogram("hololoom_http_request_duration_seconds", "HTTP request latency by route", ["route"],
                        registry=metrics.registry)
    app.add_middleware(_RequestMetrics, requests=requests, seconds=seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
