"""Serving ``/metrics``: a thread-backed HTTP endpoint, and ``hololoom metrics --port`` in one call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import start_http_server

from ..errors import ValidationError
from .metrics import DEFAULT_METRICS_PORT, LoomMetrics

if TYPE_CHECKING:
    from ..loom import HoloLoom

__all__ = ["MetricsServer", "run_metrics_server", "serve_metrics"]


class MetricsServer:
    """A running ``/metrics`` HTTP endpoint (a daemon thread); ``close()`` stops it."""

    def __init__(self, metrics: LoomMetrics, server: Any, thread: threading.Thread, detach: Callable[[], None] | None) -> None:
        self.metrics = metrics
        self._server = server
        self._thread = thread
        self._detach = detach
        self.host, self.port = server.server_address[:2]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._detach is not None:
            self._detach()
            self._detach = None

    def __enter__(self) -> "MetricsServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(loom_or_metrics: "LoomMetrics | HoloLoom", port: int = DEFAULT_METRICS_PORT, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``/metrics`` on ``host:port`` (127.0.0.1 by default; port 0 picks a free one).

    Args:
        loom_or_metrics: a :class:`LoomMetrics`, or a loom (metrics are created and
            attached to it, and detached again by ``close()``).

    Raises:
        ValidationError: a bad port.
        OSError: the port is taken.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValidationError(f"port must be an integer in 0..65535, got {port!r}")
    detach = None
    if isinstance(loom_or_metrics, LoomMetrics):
        metrics = loom_or_metrics
    else:
        metrics = LoomMetrics()
        detach = metrics.attach(loom_or_metrics)
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return MetricsServer(metrics, server, thread, detach)


async def run_metrics_server(loom: "HoloLoom", *, port: int = DEFAULT_METRICS_PORT, host: str = "127.0.0.1",
                             follow_log: bool = True, refresh_interval: float = 15.0,
                             ready: Callable[[MetricsServer], None] | None = None) -> None:
    """Serve ``/metrics`` for ``loom`` until cancelled: ``hololoom metrics --port`` in one call.

    Counts this process's weaves from the event stream and, with ``follow_log``, every
    other process's from the loom's weave log; the store gauges come from ``loom.stats()``
    at each scrape. ``ready(server)`` is called once the endpoint is listening.
    """
    metrics = LoomMetrics()
    detach = metrics.attach(loom)
    server = serve_metrics(metrics, port, host)
    tasks = [metrics.start_refreshing(refresh_interval)]
    if follow_log:
        tasks.append(metrics.follow_weave_log(loom.home.weaves))
    try:
        if ready is not None:
            ready(server)
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        server.close()
        detach()
