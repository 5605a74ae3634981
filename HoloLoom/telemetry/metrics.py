"""Prometheus metrics for HoloLoom, fed by the weave event stream.

    metrics = LoomMetrics()            # its own CollectorRegistry, never the global one
    detach = metrics.attach(loom)      # subscribe to loom.events
    server = serve_metrics(metrics, 9464)   # http://127.0.0.1:9464/metrics (HoloLoom.telemetry.server)
    ...
    server.close(); detach()

Every number comes from the same typed events the trace and the terminal UI read:
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
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, ValidationError
from ..jsonl import JsonlFollower
from ..weaving.events import FeedbackGiven, LoomEvent, Stage, StageEnded, WeaveEnded, WeaveStarted
from ..weaving.spacetime import Spacetime
from ._prometheus import STAGE_BUCKETS, UNIT_BUCKETS, WEAVE_BUCKETS, FastHistogram, StoreCollector

try:
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("Prometheus metrics", "server") from exc

if TYPE_CHECKING:
    from ..loom import HoloLoom

__all__ = ["DEFAULT_METRICS_PORT", "LoomMetrics"]

log = logging.getLogger("HoloLoom.telemetry")

DEFAULT_METRICS_PORT = 9464  # the port OpenTelemetry's Prometheus exporter uses by convention

_MAX_OPEN_WEAVES = 10_000  # weaves whose end we never saw (cancelled mid-stage) are forgotten past this


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
        self.weave_seconds = FastHistogram("hololoom_weave_duration_seconds", "Whole-weave latency, by complexity level",
                                            ["complexity"], WEAVE_BUCKETS, r)
        self.stage_seconds = FastHistogram("hololoom_stage_duration_seconds", "Per-stage latency",
                                            ["stage", "loom_name", "complexity"], STAGE_BUCKETS, r)
        self.confidence = FastHistogram("hololoom_weave_confidence", "Confidence of woven answers (0..1)",
                                         ["complexity"], UNIT_BUCKETS, r)
        self.queries = Counter("hololoom_queries", "Weaves finished, by complexity, tool, routing arm and outcome",
                               ["complexity", "tool", "arm", "outcome"], registry=r)
        self.errors = Counter("hololoom_errors", "Stage failures and tool failures, by stage and error type",
                              ["stage", "type"], registry=r)
        self.feedback_reward = Histogram("hololoom_feedback_reward", "Feedback rewards (0..1), by tool and arm",
                                         ["tool", "arm"], buckets=UNIT_BUCKETS, registry=r)
        self.registry.register(StoreCollector(self))
        self._started = 0  # weaves_in_progress = started - finished (plain ints: cheap)
        self._finished = 0
        self._stage_children: dict[tuple[Any, str], Any] = {}
        self._query_children: dict[tuple[str, str, str, str], Any] = {}
        self._weave_children: dict[str, tuple[Any, Any]] = {}
        self._open: dict[str, dict[str, str]] = {}  # weave id -> what its stages have told us so far
        self._looms: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_stats: dict[str, Any] | None = None
        self._followers: dict[Path, JsonlFollower] = {}
        self._log_lock = threading.Lock()
        self._handlers: dict[type, Callable[[Any], None]] = {
            WeaveStarted: self._weave_started, StageEnded: self._stage_ended, WeaveEnded: self._weave_ended,
            FeedbackGiven: self._feedback,
        }

    # -- wiring ------------------------------------------------------------------------

    def attach(self, loom: "HoloLoom") -> Callable[[], None]:
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

    def observe(self, event: LoomEvent) -> None:
        """Update the metrics from one event (a plain, synchronous subscriber: in-memory counts only).

        Labelled children are cached in plain dicts: ``labels()`` costs more than the
        observation itself, and this runs a dozen times per weave.
        """
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _weave_started(self, event: WeaveStarted) -> None:
        self._started += 1
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        if len(self._open) >= _MAX_OPEN_WEAVES:
            self._open.pop(next(iter(self._open)))
        self._open[event.weave_id] = {}

    def _stage_ended(self, event: StageEnded) -> None:
        info = self._open.get(event.weave_id)
        if info is None:
            info = self._open[event.weave_id] = {}
        data, stage = event.data, event.stage
        label = _STAGE_LABELS.get(stage)
        if label is not None and label[1] in data:
            info[label[0]] = str(data[label[1]])
        complexity = info.get("complexity", "unknown")
        key = (stage, complexity)
        child = self._stage_children.get(key)
        if child is None:
            child = self._stage_children[key] = self.stage_seconds.labels(stage.value, stage.loom_name, complexity)
        child.observe(event.duration_ms / 1000.0)
        if event.error:
            # the stage raised: the weave is over, without a WeaveEnded
            self.errors.labels(stage.value, _error_type(event.error)).inc()
            self.queries.labels(complexity, info.get("tool", "none"), info.get("arm", "none"), "error").inc()
            self._finished += 1
            self._open.pop(event.weave_id, None)
        elif data.get("failed") and data.get("error"):  # a tool failure is reported, not raised
            self.errors.labels(stage.value, _error_type(str(data["error"]))).inc()

    def _weave_ended(self, event: WeaveEnded) -> None:
        self._finished += 1
        self._open.pop(event.weave_id, None)
        st = event.spacetime
        complexity = st.complexity.value
        key = (complexity, st.tool, str(st.routing.get("arm") or st.backend), "degraded" if st.degraded else "ok")
        counter = self._query_children.get(key)
        if counter is None:
            counter = self._query_children[key] = self.queries.labels(*key)
        counter.inc()
        children = self._weave_children.get(complexity)
        if children is None:
            children = self._weave_children[complexity] = (self.weave_seconds.labels(complexity),
                                                            self.confidence.labels(complexity))
        children[0].observe(st.duration_ms / 1000.0)
        children[1].observe(st.confidence)

    def _feedback(self, event: FeedbackGiven) -> None:
        self.feedback_reward.labels(event.tool, event.arm or "none").observe(event.reward)

    # -- other processes, through the weave log ----------------------------------------

    def observe_record(self, record: Mapping[str, Any]) -> None:
        """Count one weave-log record (a Spacetime as JSON) as the events that made it.

        Records carrying ``"kind": "feedback"`` (an earlier release's routing log) count as feedback.
        """
        if record.get("kind") == "feedback":
            data = record.get("data") or record
            if data.get("reward") is not None:
                self.observe(FeedbackGiven(weave_id=str(record.get("spacetime_id") or ""), reward=float(data["reward"]),
                                           tool=str(data.get("tool", "none")), arm=data.get("arm")))
            return
        st = Spacetime.from_dict(record)
        self.observe(WeaveStarted(weave_id=st.id, query=st.query, namespace=st.namespace, timestamp=st.created_at))
        for rec in st.stages:
            self.observe(StageEnded(weave_id=st.id, stage=rec.stage, started_at=rec.started_at,
                                    duration_ms=rec.duration_ms, data=rec.data, error=rec.error))
            if rec.error:
                return
        self.observe(WeaveEnded(weave_id=st.id, spacetime=st))

    def read_weave_log(self, path: str | Path, *, from_start: bool = False) -> int:
        """Count the records appended to ``path`` since the last call; returns how many.

        The first call starts at the end of the file unless ``from_start``. A rotated
        log is read from its beginning. Records written by this process are skipped
        while a loom is attached, since its events were counted already.
        """
        path = Path(path)
        with self._log_lock:
            follower = self._followers.get(path)
            if follower is None:
                follower = self._followers[path] = JsonlFollower(path, from_start=from_start)
            own_pid = os.getpid() if self._looms else None
            count = 0
            for record in follower.poll().records:
                if own_pid is not None and (record.get("process") or {}).get("pid") == own_pid:
                    continue
                try:
                    self.observe_record(record)
                except (KeyError, TypeError, ValueError):
                    continue  # not a weave record
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


#: Which stage's end data names the weave's complexity, routing arm and tool: (label, data key).
_STAGE_LABELS = {Stage.PATTERN: ("complexity", "complexity"), Stage.ROUTE: ("arm", "arm"), Stage.CONVERGE: ("tool", "tool")}
