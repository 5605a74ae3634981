"""Prometheus metrics from real weaves, scraped over HTTP the way Prometheus does.

A real Prometheus scraping them is ``tests/e2e/test_prometheus_scrape.py``; a metrics
server counting another process's weaves is ``tests/integration/test_metrics_processes.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from HoloLoom import HoloLoom, StoreClosedError, ToolResult, ValidationError
from HoloLoom.telemetry import DEFAULT_METRICS_PORT, LoomMetrics, serve_metrics
from HoloLoom.weaving import STAGE_ORDER

from tests.metrics_scrape import scrape, value

ROOT = Path(__file__).resolve().parents[2]


async def test_weaves_feed_histograms_and_counters_scraped_over_http(small_loom: HoloLoom) -> None:
    metrics = LoomMetrics()
    detach = metrics.attach(small_loom)
    server = serve_metrics(metrics, 0)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        fast = [await small_loom.weave(q, complexity="FAST") for q in
                ("Who directed Maximum Overdrive?", "What is the capital of France?", "Where is Leland?")]
        full = await small_loom.weave("Who lectured at the University of Paris during the Recovery of Aristotle?",
                                      complexity="FULL")
        await small_loom.feedback(full.id, useful=True)
        await small_loom.feedback(fast[0].id, reward=0.25)
        s = await scrape(server.url)
    finally:
        server.close()
        detach()

    assert value(s, "hololoom_weave_duration_seconds_count", complexity="FAST") == 3
    assert value(s, "hololoom_weave_duration_seconds_count", complexity="FULL") == 1
    # the histogram's sum is the weaves' own durations, in seconds
    expected = sum(st.duration_ms for st in fast) / 1000.0
    assert value(s, "hololoom_weave_duration_seconds_sum", complexity="FAST") == pytest.approx(expected, rel=1e-6)
    inf_bucket = value(s, "hololoom_weave_duration_seconds_bucket", complexity="FAST", le="+Inf")
    assert inf_bucket == 3
    for stage in STAGE_ORDER:
        assert value(s, "hololoom_stage_duration_seconds_count", stage=stage.value, loom_name=stage.loom_name,
                     complexity="FAST") == 3
        assert value(s, "hololoom_stage_duration_seconds_count", stage=stage.value, complexity="FULL") == 1
    crawl_sum = value(s, "hololoom_stage_duration_seconds_sum", stage="crawl", complexity="FULL")
    assert crawl_sum == pytest.approx(full.timings["crawl"] / 1000.0, rel=1e-6)

    # queries by complexity / tool / arm / outcome, labelled with what the Spacetimes say
    for st in fast + [full]:
        arm = st.routing["arm"]
        assert value(s, "hololoom_queries_total", complexity=st.complexity.value, tool=st.tool, arm=arm) >= 1
    assert sum(x.value for x in s["hololoom_queries_total"]) == 4
    assert value(s, "hololoom_queries_total", outcome="ok") + sum(
        x.value for x in s["hololoom_queries_total"] if x.labels["outcome"] == "degraded") == 4
    assert value(s, "hololoom_weave_confidence_count") == 4
    assert value(s, "hololoom_weave_confidence_sum") == pytest.approx(sum(st.confidence for st in fast + [full]))
    assert value(s, "hololoom_weaves_in_progress") == 0

    # feedback rewards
    assert value(s, "hololoom_feedback_reward_count") == 2
    assert value(s, "hololoom_feedback_reward_sum") == pytest.approx(1.25)
    assert value(s, "hololoom_feedback_reward_count", tool=full.tool) >= 1

    # store gauges read through the loop at scrape time
    assert value(s, "hololoom_memory_shards", backend="embedded", namespace="default") == await small_loom.count()
    assert value(s, "hololoom_backend_up", backend="embedded") == 1
    assert value(s, "hololoom_backend_health_latency_seconds", backend="embedded") >= 0


async def test_tool_and_stage_failures_are_counted_by_stage_and_type(small_loom: HoloLoom) -> None:
    async def broken(ctx) -> ToolResult:
        raise RuntimeError("the tool fell over")

    small_loom.register_tool("broken", broken)
    metrics = LoomMetrics()
    detach = metrics.attach(small_loom)
    st = await small_loom.weave("What is the capital of France?", tool="broken", complexity="FAST")
    assert st.errors and st.degraded

    await small_loom.store.close()  # the next weave's crawl stage raises
    with pytest.raises(StoreClosedError):
        await small_loom.weave("Where is Leland?", complexity="LITE")
    detach()

    s = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            s.setdefault(sample.name, []).append(sample)
    assert value(s, "hololoom_errors_total", stage="execute", type="RuntimeError") == 1
    assert value(s, "hololoom_errors_total", stage="crawl", type="StoreClosedError") == 1
    assert value(s, "hololoom_queries_total", complexity="FAST", tool="broken", outcome="degraded") == 1
    assert value(s, "hololoom_queries_total", complexity="LITE", outcome="error") == 1
    assert value(s, "hololoom_weaves_in_progress") == 0
    # the failed weave's stages up to the failure were still timed
    assert value(s, "hololoom_stage_duration_seconds_count", stage="crawl", complexity="LITE") == 1
    assert "hololoom_stage_duration_seconds_count" in s and not [
        x for x in s["hololoom_stage_duration_seconds_count"] if x.labels["complexity"] == "LITE" and x.labels["stage"] == "fuse"]


async def test_own_registry_detach_and_serving_a_loom_directly(small_loom: HoloLoom) -> None:
    first, second = LoomMetrics(), LoomMetrics()  # two instances never collide
    assert first.registry is not REGISTRY
    assert not [m for m in REGISTRY.collect() if m.name.startswith("hololoom")]

    detach = first.attach(small_loom)
    await small_loom.weave("Where is Leland?", complexity="LITE")
    detach()
    await small_loom.weave("Where is Leland?", complexity="LITE")
    assert first.registry.get_sample_value("hololoom_weave_duration_seconds_count", {"complexity": "LITE"}) == 1
    assert second.registry.get_sample_value("hololoom_weave_duration_seconds_count", {"complexity": "LITE"}) is None

    # serve_metrics(loom) attaches its own metrics and detaches them on close
    before = small_loom.events.subscribers  # the loom's own weave-log writer
    server = serve_metrics(small_loom, 0)
    try:
        assert len(small_loom.events.subscribers) == len(before) + 1
        await small_loom.weave("Who directed Maximum Overdrive?", complexity="FAST")
        s = await scrape(server.url)
        assert value(s, "hololoom_weave_duration_seconds_count", complexity="FAST") == 1
    finally:
        server.close()
    assert small_loom.events.subscribers == before

    with pytest.raises(ValidationError):
        serve_metrics(small_loom, 70000)
    assert small_loom.events.subscribers == before


async def test_scrape_from_the_loops_own_thread_serves_last_known_store_gauges(small_loom: HoloLoom) -> None:
    metrics = LoomMetrics()
    metrics.attach(small_loom)
    text = metrics.exposition().decode()  # no refresh yet and the loop cannot wait on itself: no store samples
    assert "hololoom_memory_shards{" not in text
    stats = await metrics.refresh()
    assert stats["shards"] == await small_loom.count()
    assert metrics.registry.get_sample_value(
        "hololoom_memory_shards", {"backend": "embedded", "namespace": "default"}) == stats["shards"]


async def test_prometheus_and_grafana_config_use_the_metrics_we_export(small_loom: HoloLoom) -> None:
    yaml = pytest.importorskip("yaml")
    prom = yaml.safe_load((ROOT / "config/prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{DEFAULT_METRICS_PORT}"]

    ds = yaml.safe_load((ROOT / "config/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = ds["datasources"][0]["uid"]
    assert ds["datasources"][0]["type"] == "prometheus"
    assert yaml.safe_load((ROOT / "config/grafana/provisioning/dashboards/hololoom.yml").read_text())["providers"]

    dashboard = json.loads((ROOT / "config/grafana/dashboards/hololoom.json").read_text())
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for wanted in ("p50", "p95", "Throughput", "Errors", "Routing split", "Memory count"):
        assert wanted in titles

    metrics = LoomMetrics()
    metrics.attach(small_loom)
    st = await small_loom.weave("Who directed Maximum Overdrive?", complexity="FAST")
    await small_loom.feedback(st.id, useful=False)
    await metrics.refresh()
    families = list(metrics.registry.collect())
    exported = {m.name for m in families} | {s.name for m in families for s in m.samples} | {
        f"{m.name}_total" for m in families if m.type == "counter"}  # a counter with no samples yet
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            for name in re.findall(r"\bhololoom_[a-z_]+", target["expr"]):
                assert name in exported, f"panel {panel['title']!r} queries {name}, which HoloLoom does not export"


async def test_periodic_refresh_and_wsgi_app_for_embedding_in_a_server(small_loom: HoloLoom) -> None:
    metrics = LoomMetrics()
    metrics.attach(small_loom)
    task = metrics.start_refreshing(0.05)
    try:
        for _ in range(100):
            if metrics.registry.get_sample_value("hololoom_backend_up", {"backend": "embedded"}) == 1:
                break
            await asyncio.sleep(0.05)
        count = await small_loom.count()
        await small_loom.add("Grafana draws what Prometheus scraped from HoloLoom.")
        for _ in range(100):
            if metrics.registry.get_sample_value(
                    "hololoom_memory_shards", {"backend": "embedded", "namespace": "default"}) == count + 1:
                break
            await asyncio.sleep(0.05)
        assert metrics.registry.get_sample_value(
            "hololoom_memory_shards", {"backend": "embedded", "namespace": "default"}) == count + 1
    finally:
        task.cancel()
    with pytest.raises(ValidationError):
        metrics.start_refreshing(0)

    await small_loom.weave("Where is Leland?", complexity="LITE")
    status: list[str] = []
    body = b"".join(metrics.wsgi_app()({"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""},
                                       lambda st, headers: status.append(st)))
    assert status[0].startswith("200")
    assert b'hololoom_weave_duration_seconds_count{complexity="LITE"} 1.0' in body


def test_weave_log_reading_starts_at_the_end_survives_rotation_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "weaves.jsonl"
    from HoloLoom import Complexity, Spacetime, StageRecord

    stages = tuple(StageRecord(stage=s, started_at=0.0, duration_ms=1.0,
                               data={"complexity": "FAST"} if s.value == "pattern" else {}) for s in STAGE_ORDER)
    record = Spacetime(id="a" * 32, query="q", namespace="default", complexity=Complexity.FAST, backend="embedded",
                       strategy="learned", tool="answer", response="", confidence=0.5, context=(), stages=stages,
                       created_at=0.0, duration_ms=12.0, routing={"arm": "vector"}).to_dict()
    line = json.dumps(record) + "\n"
    path.write_text(line)
    metrics = LoomMetrics()
    get = lambda name, **labels: metrics.registry.get_sample_value(name, labels) or 0  # noqa: E731
    assert metrics.read_weave_log(path) == 0  # history before we started is not replayed
    with path.open("a") as fh:
        fh.write(line + line[:40])  # one whole record and one being written
    assert metrics.read_weave_log(path) == 1
    with path.open("a") as fh:
        fh.write(line[40:])
    assert metrics.read_weave_log(path) == 1
    assert get("hololoom_queries_total", complexity="FAST", tool="answer", arm="vector", outcome="ok") == 2
    assert get("hololoom_stage_duration_seconds_count", stage="crawl", loom_name="Yarn Graph", complexity="FAST") == 2
    path.rename(tmp_path / "weaves.1.jsonl")  # rotated: the new file is read from its start
    path.write_text(line.replace('"degraded": false', '"degraded": true'))
    assert metrics.read_weave_log(path) == 1
    assert get("hololoom_queries_total", complexity="FAST", tool="answer", arm="vector", outcome="degraded") == 1
    with path.open("a") as fh:
        fh.write("not json\n" + json.dumps({"kind": "feedback", "id": "a" * 32, "reward": 1.0, "tool": "answer"}) + "\n")
    assert metrics.read_weave_log(path) == 1
    assert get("hololoom_feedback_reward_count", tool="answer", arm="none") == 1
    fresh = LoomMetrics()
    assert fresh.read_weave_log(path, from_start=True) == 2


def test_lock_free_histograms_expose_what_prometheus_client_would() -> None:
    """The fast accumulators must agree with prometheus_client's own Histogram, bucket by bucket."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from HoloLoom.telemetry._prometheus import WEAVE_BUCKETS, FastHistogram

    values = [0.0, 0.0025, 0.003, 0.01, 0.0100001, 0.5, 1.0, 7.0, 29.9, 31.0, 1e-9]
    ours_registry, theirs_registry = CollectorRegistry(), CollectorRegistry()
    ours = FastHistogram("x_seconds", "x", ["level"], WEAVE_BUCKETS, ours_registry)
    theirs = Histogram("x_seconds", "x", ["level"], buckets=WEAVE_BUCKETS, registry=theirs_registry)
    for v in values:
        ours.labels("FAST").observe(v)
        theirs.labels("FAST").observe(v)
    strip = lambda text: sorted(line for line in text.decode().splitlines()  # noqa: E731
                                if line.startswith("x_seconds") and "_created" not in line)
    assert strip(generate_latest(ours_registry)) == strip(generate_latest(theirs_registry))
