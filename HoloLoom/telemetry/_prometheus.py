"""Prometheus plumbing for :mod:`HoloLoom.telemetry`: buckets, lock-free histograms, the store gauges."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import MissingDependencyError

try:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.registry import Collector
    from prometheus_client.utils import floatToGoString
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("Prometheus metrics", "server") from exc

if TYPE_CHECKING:
    from .metrics import LoomMetrics

__all__ = ["STAGE_BUCKETS", "UNIT_BUCKETS", "WEAVE_BUCKETS", "FastHistogram", "StoreCollector"]

# Seconds. A FAST weave on a small embedded store takes a few ms; RESEARCH on a server
# backend may take seconds. Fine low buckets keep p50/p95 interpolation honest.
WEAVE_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5,
                 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
UNIT_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

class Accumulator:
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


class FastHistogram(Collector):
    """A labelled Prometheus histogram with lock-free, single-writer accumulators."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] | list[str],
                 buckets: tuple[float, ...], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self._series: dict[tuple[str, ...], Accumulator] = {}
        registry.register(self)

    def labels(self, *values: str) -> Accumulator:
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = Accumulator(self.bounds)
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


class StoreCollector(Collector):
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
