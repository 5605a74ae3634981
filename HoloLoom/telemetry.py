"""Prometheus metrics for HoloLoom, fed by the weave event stream.

    metrics = LoomMetrics()            # its own CollectorRegistry, never the global one
    detach = metrics.attach(loom)      # subscribe to loom.events
    server = serve_metrics(metrics, 9464)   # http://127.0.0.1:9464/metrics
    ...
    server.close(); detach()

Every number comes from the same start/end events the trace and the terminal UI read:
weave and stage latency, queries by complexity/tool/arm/outcome, errors by stage and
type, feedback rewards. The store gauges (memory count per namespace, backend health)
are read from ``loom.stats()`` when ``/metrics`` is scraped (through the loom's event
loop, so the store is only ever touched from its own loop), by ``await refresh()``, or
every few seconds by ``start_refreshing()`` (for ``asgi_app()`` served on the loom's own
loop, where a scrape cannot wait on the loop).

Other processes' weaves (``hololoom ask``, a TUI, an app) reach a standalone metrics
process through the weave log (``HOLOLOOM_HOME/state/weaves.jsonl``, one Spacetime per
line): :meth:`LoomMetrics.follow_weave_log` replays each new record as the events it was
made from, so both routes update the same series. :func:`run_metrics_server` is the
whole of ``hololoom metrics --port``.

Metric names (all prefixed ``hololoom_``):

    weave_duration_seconds{complexity}                histogram
    stage_duration_seconds{stage,loom_name,complexity} histogram
    weave_confidence{complexity}                      histogram
    queries_total{complexity,tool,arm,outcome}        counter (outcome: ok|degraded|error)
    errors_total{stage,type}                          counter
    weaves_in_progress                                gauge
    feedback_reward{tool,arm}                         histogram
    memory_shards{backend,namespace}                  gauge
    backend_up{backend}                               gauge (1 healthy, 0 not)
    backend_health_latency_seconds{backend}           gauge
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import MissingDependencyError, ValidationError
from .weaving.events import LoomEvent, Stage

try:
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
    from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.registry import Collector
    from prometheus_client.utils import floatToGoString
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("Prometheus metrics", "server") from exc

__all__ = ["DEFAULT_METRICS_PORT", "LoomMetrics", "MetricsServer", "run_metrics_server", "serve_metrics"]

log = logging.getLogger("HoloLoom.telemetry")

DEFAULT_METRICS_PORT = 9464  # the port OpenTelemetry's Prometheus exporter uses by convention

# Seconds. A FAST weave on a small embedded store takes a few ms; RESEARCH on a server
# backend may take seconds. Fine low buckets keep p50/p95 interpolation honest.
WEAVE_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5,
                 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
UNIT_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

_MAX_OPEN_WEAVES = 10_000  # weaves whose end we never saw (cancelled mid-stage) are forgotten past this


class _Accumulator:
    """One labelled histogram series: bucket counts and a sum, no lock.

    Observations come from one thread (the event loop's); a scrape from another thread
    may see an observation half-applied, which the next scrape corrects. That trade buys
    an observation ~10x cheaper than prometheus_client's locked one, and there are eleven
    per weave.
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1  # le: the first bound >= value
        self.sum += value


class _FastHistogram(Collector):
    """A labelled Prometheus histogram with lock-free, single-writer accumulators."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] | list[str],
                 buckets: tuple[float, ...], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self._series: dict[tuple[str, ...], _Accumulator] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Accumulator:
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = _Accumulator(self.bounds)
        return series

    def describe(self) -> Iterable[HistogramMetricFamily]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterable[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in list(self._series.items()):
            counts, total = list(series.counts), series.sum
            cumulative, buckets = 0, []
            for le, n in zip(self._les, counts):
                cumulative += n
                buckets.append((le, cumulative))
            family.add_metric(list(values), buckets, total)
        yield family


class _StoreCollector(Collector):
    """Memory count and backend health, read from the loom when scraped."""

    def __init__(self, owner: "LoomMetrics") -> None:
        self._owner = owner

    def collect(self) -> Iterable[GaugeMetricFamily]:
        stats = self._owner._stats_for_scrape()
        shards = GaugeMetricFamily("hololoom_memory_shards", "Memories (shards) stored, per namespace",
                                   labels=["backend", "namespace"])
        up = GaugeMetricFamily("hololoom_backend_up", "1 when the memory backend reports healthy, else 0",
                               labels=["backend"])
        latency = GaugeMetricFamily("hololoom_backend_health_latency_seconds",
                                    "How long the last backend health check took", labels=["backend"])
        yield GaugeMetricFamily("hololoom_weaves_in_progress", "Weaves started and not yet finished",
                                value=float(self._owner._started - self._owner._finished))
        if stats is not None:
            backend = str(stats.get("backend", "unknown"))
            for namespace, count in sorted((stats.get("namespaces") or {}).items()):
                shards.add_metric([backend, str(namespace)], float(count))
            health = stats.get("health") or {}
            up.add_metric([backend], 1.0 if health.get("ok") else 0.0)
            if health.get("latency_ms") is not None:
                latency.add_metric([backend], float(health["latency_ms"]) / 1000.0)
        yield shards
        yield up
        yield latency

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # dynamic: never call collect() at registration time


class LoomMetrics:
    """Prometheus metrics for one or more looms, in a registry of their own.

    Args:
        registry: where to register (default: a new ``CollectorRegistry``; never the
            process-global one, so an application embedding HoloLoom keeps its own).
        scrape_timeout: seconds a scrape waits for ``loom.stats()`` before serving the last
            known store gauges.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, scrape_timeout: float = 2.0) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
        self.scrape_timeout = scrape_timeout
        r = self.registry
        self.weave_seconds = _FastHistogram("hololoom_weave_duration_seconds", "Whole-weave latency, by complexity level",
                                            ["complexity"], WEAVE_BUCKETS, r)
        self.stage_seconds = _FastHistogram("hololoom_stage_duration_seconds", "Per-stage latency",
                                            ["stage", "loom_name", "complexity"], STAGE_BUCKETS, r)
        self.confidence = _FastHistogram("hololoom_weave_confidence", "Confidence of woven answers (0..1)",
                                         ["complexity"], UNIT_BUCKETS, r)
        self.queries = Counter("hololoom_queries", "Weaves finished, by complexity, tool, routing arm and outcome",
                               ["complexity", "tool", "arm", "outcome"], registry=r)
        self.errors = Counter("hololoom_errors", "Stage failures and tool failures, by stage and error type",
                              ["stage", "type"], registry=r)
        self.feedback_reward = Histogram("hololoom_feedback_reward", "Feedback rewards (0..1), by tool and arm",
                                         ["tool", "arm"], buckets=UNIT_BUCKETS, registry=r)
        self.registry.register(_StoreCollector(self))
        self._started = 0  # weaves_in_progress = started - finished (plain ints: cheap)
        self._finished = 0
        self._stage_children: dict[tuple[Any, str], Any] = {}
        self._query_children: dict[tuple[str, str, str, str], Any] = {}
        self._weave_children: dict[str, tuple[Any, Any]] = {}
        self._open: dict[str, dict[str, str]] = {}  # weave id -> what its stages have told us so far
        self._looms: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_stats: dict[str, Any] | None = None
        self._log_positions: dict[Path, tuple[int, int]] = {}
        self._log_lock = threading.Lock()

    # -- wiring ------------------------------------------------------------------------

    def attach(self, loom: Any) -> Callable[[], None]:
        """Subscribe to ``loom.events``; returns a function that detaches again.

        The loom's ``stats()`` feeds the store gauges (the first attached loom's).
        """
        unsubscribe = loom.events.subscribe(self.observe)
        self._looms.append(loom)
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            pass  # learned from the first event instead

        def detach() -> None:
            unsubscribe()
            if loom in self._looms:
                self._looms.remove(loom)

        return detach

    def observe(self, event: Any) -> None:
        """Update the metrics from one LoomEvent (a plain, synchronous subscriber: cheap).

        Labelled children are cached in plain dicts: ``labels()`` costs more than the
        observation itself, and this runs twenty times per weave.
        """
        phase = event.phase
        kind = event.kind
        if kind == "stage":
            if phase != "end":
                return
            info = self._open.get(event.weave_id)
            if info is None:
                info = self._open[event.weave_id] = {}
            data = event.data
            stage = event.stage
            if stage is Stage.PATTERN and "complexity" in data:
                info["complexity"] = str(data["complexity"])
            elif stage is Stage.ROUTE and "arm" in data:
                info["arm"] = str(data["arm"])
            elif stage is Stage.CONVERGE and "tool" in data:
                info["tool"] = str(data["tool"])
            complexity = info.get("complexity", "unknown")
            if event.duration_ms is not None:
                key = (stage, complexity)
                child = self._stage_children.get(key)
                if child is None:
                    child = self._stage_children[key] = self.stage_seconds.labels(stage.value, stage.loom_name, complexity)
                child.observe(event.duration_ms / 1000.0)
            if event.error:
                # the stage raised: the weave is over, without a weave "end" event
                self.errors.labels(stage.value, _error_type(event.error)).inc()
                self.queries.labels(complexity, info.get("tool", "none"), info.get("arm", "none"), "error").inc()
                self._finished += 1
                self._open.pop(event.weave_id, None)
            elif data.get("failed") and data.get("error"):  # a tool failure is reported, not raised
                self.errors.labels(stage.value, _error_type(str(data["error"]))).inc()
        elif kind == "weave":
            if phase == "start":
                self._started += 1
                if self._loop is None:
                    try:
                        self._loop = asyncio.get_running_loop()
                    except RuntimeError:
                        pass
                if len(self._open) >= _MAX_OPEN_WEAVES:
                    self._open.pop(next(iter(self._open)))
                self._open[event.weave_id] = {}
                return
            self._finished += 1
            self._open.pop(event.weave_id, None)
            data = event.data
            complexity = str(data.get("complexity", "unknown"))
            outcome = "degraded" if data.get("degraded") else "ok"
            key = (complexity, str(data.get("tool", "none")), str(data.get("arm", "none")), outcome)
            counter = self._query_children.get(key)
            if counter is None:
                counter = self._query_children[key] = self.queries.labels(*key)
            counter.inc()
            children = self._weave_children.get(complexity)
            if children is None:
                children = self._weave_children[complexity] = (self.weave_seconds.labels(complexity),
                                                                self.confidence.labels(complexity))
            if event.duration_ms is not None:
                children[0].observe(event.duration_ms / 1000.0)
            if data.get("confidence") is not None:
                children[1].observe(float(data["confidence"]))
        elif kind == "feedback":
            data = event.data
            if data.get("reward") is not None:
                self.feedback_reward.labels(str(data.get("tool", "none")), str(data.get("arm") or "none")).observe(
                    float(data["reward"]))

    # -- other processes, through the weave log ----------------------------------------

    def observe_record(self, record: dict[str, Any]) -> None:
        """Count one weave-log record (a Spacetime as JSON) as the events that made it.

        Records carrying ``"kind": "feedback"`` (with reward/tool/arm) count as feedback.
        """
        weave_id = str(record.get("id") or record.get("weave_id") or "")
        if record.get("kind") == "feedback":
            self.observe(LoomEvent("feedback", "end", weave_id, data=record.get("data") or record))
            return
        self.observe(LoomEvent("weave", "start", weave_id, data={"query": record.get("query")}))
        failed = None
        for st in record.get("stages") or ():
            try:
                stage = Stage(st["stage"])
            except (KeyError, ValueError):
                continue
            event = LoomEvent("stage", "end", weave_id, stage, duration_ms=st.get("duration_ms"),
                              data=st.get("data") or {}, error=st.get("error"))
            self.observe(event)
            if event.error:
                failed = event
                break
        if failed is None:
            routing = record.get("routing") or {}
            self.observe(LoomEvent("weave", "end", weave_id, duration_ms=record.get("duration_ms"), data={
                "complexity": record.get("complexity"), "tool": record.get("tool"),
                "arm": routing.get("arm", record.get("backend")), "confidence": record.get("confidence"),
                "degraded": record.get("degraded")}))

    def read_weave_log(self, path: str | Path, *, from_start: bool = False) -> int:
        """Count the records appended to ``path`` since the last call; returns how many.

        The first call starts at the end of the file unless ``from_start``. A rotated
        log (smaller than where we were, or a new file) is read from its beginning.
        Records written by this process are skipped while a loom is attached, since its
        events were counted already.
        """
        path = Path(path)
        with self._log_lock:
            state = self._log_positions.get(path)
            try:
                stat = path.stat()
            except FileNotFoundError:
                self._log_positions[path] = (0, 0)
                return 0
            if state is None:
                state = (stat.st_ino, 0 if from_start else stat.st_size)
            inode, offset = state
            if stat.st_ino != inode or stat.st_size < offset:
                inode, offset = stat.st_ino, 0
            if stat.st_size == offset:
                self._log_positions[path] = (inode, offset)
                return 0
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next call
            self._log_positions[path] = (inode, offset + end)
            own_pid = os.getpid() if self._looms else None
            count = 0
            for raw in chunk[:end].splitlines():
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                if own_pid is not None and (record.get("process") or {}).get("pid") == own_pid:
                    continue
                self.observe_record(record)
                count += 1
            return count

    def follow_weave_log(self, path: str | Path, *, interval: float = 1.0, from_start: bool = False) -> "asyncio.Task[None]":
        """Read new weave-log records every ``interval`` seconds; cancel the task to stop."""
        if interval <= 0:
            raise ValidationError("interval must be a positive number of seconds")
        self.read_weave_log(path, from_start=from_start)

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    self.read_weave_log(path)
                except Exception as exc:  # a bad read must not end the follower
                    log.warning("reading the weave log %s failed: %s", path, exc)

        return asyncio.get_running_loop().create_task(loop(), name="hololoom-metrics-follow")

    # -- store gauges ------------------------------------------------------------------

    async def refresh(self) -> dict[str, Any] | None:
        """Read ``loom.stats()`` now (memory count, backend health) for the next scrape."""
        if not self._looms:
            return None
        self._loop = self._loop or asyncio.get_running_loop()
        self._last_stats = await self._looms[0].stats()
        return self._last_stats

    def _stats_for_scrape(self) -> dict[str, Any] | None:
        """Fresh stats when the loom's loop is running in another thread; else the last known."""
        loop = self._loop
        if not self._looms or loop is None or not loop.is_running() or loop.is_closed():
            return self._last_stats
        try:
            if asyncio.get_running_loop() is loop:
                return self._last_stats  # scraped from the loop's own thread: cannot wait on it
        except RuntimeError:
            pass
        future = asyncio.run_coroutine_threadsafe(self.refresh(), loop)
        try:
            return future.result(timeout=self.scrape_timeout)
        except Exception as exc:  # a slow or failing store must not fail the scrape
            future.cancel()
            log.warning("store stats for /metrics failed: %s", exc)
            return self._last_stats

    def start_refreshing(self, interval: float = 15.0) -> "asyncio.Task[None]":
        """Refresh the store gauges every ``interval`` seconds on the running loop.

        Needed only when ``/metrics`` is served from the loom's own loop (an ASGI app in
        the same process): that scrape cannot wait on the loop, so it serves the last
        refreshed values. Cancel the returned task to stop.
        """
        if interval <= 0:
            raise ValidationError("interval must be a positive number of seconds")

        async def loop() -> None:
            while True:
                try:
                    await self.refresh()
                except Exception as exc:  # keep refreshing: the store may come back
                    log.warning("store stats refresh failed: %s", exc)
                await asyncio.sleep(interval)

        return asyncio.get_running_loop().create_task(loop(), name="hololoom-metrics-refresh")

    # -- exposition --------------------------------------------------------------------

    def wsgi_app(self) -> Any:
        """A WSGI app serving these metrics (mount it in your own server)."""
        from prometheus_client import make_wsgi_app

        return make_wsgi_app(self.registry)

    def asgi_app(self) -> Any:
        """An ASGI app serving these metrics (e.g. ``app.mount("/metrics", m.asgi_app())``).

        Pair it with :meth:`start_refreshing` for fresh store gauges.
        """
        from prometheus_client import make_asgi_app

        return make_asgi_app(self.registry)

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format (what ``/metrics`` serves)."""
        return generate_latest(self.registry)


def _error_type(error: str) -> str:
    """'StoreError: disk full' -> 'StoreError' (the orchestrator formats errors so)."""
    head = error.split(":", 1)[0].strip()
    return head if head.isidentifier() else "Error"


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


def serve_metrics(loom_or_metrics: Any, port: int = DEFAULT_METRICS_PORT, host: str = "127.0.0.1") -> MetricsServer:
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


async def run_metrics_server(loom: Any, *, port: int = DEFAULT_METRICS_PORT, host: str = "127.0.0.1",
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
    weave_log = getattr(getattr(loom, "orchestrator", None), "log", None)
    if follow_log and weave_log is not None:
        tasks.append(metrics.follow_weave_log(weave_log.path))
    try:
        if ready is not None:
            ready(server)
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        server.close()
        detach()
