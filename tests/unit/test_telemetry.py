"""Prometheus metrics from real weaves, scraped over HTTP the way Prometheus does."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from HoloLoom import HoloLoom, StoreClosedError, ToolResult, ValidationError
from HoloLoom.telemetry import DEFAULT_METRICS_PORT, LoomMetrics, run_metrics_server, serve_metrics
from HoloLoom.weaving import STAGE_ORDER

ROOT = Path(__file__).resolve().parents[2]


async def scrape(url: str) -> dict[str, list]:
    """GET /metrics off the event loop (the scrape reads the store through the loop) and parse it."""
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode("utf-8"))
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    found = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, f"no sample {name}{labels}; have {[s.labels for s in samples.get(name, [])]}"
    return sum(found)


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
    assert not small_loom.events.has_subscribers
    server = serve_metrics(small_loom, 0)
    try:
        assert small_loom.events.has_subscribers
        await small_loom.weave("Who directed Maximum Overdrive?", complexity="FAST")
        s = await scrape(server.url)
        assert value(s, "hololoom_weave_duration_seconds_count", complexity="FAST") == 1
    finally:
        server.close()
    assert not small_loom.events.has_subscribers

    with pytest.raises(ValidationError):
        serve_metrics(small_loom, 70000)
    assert not small_loom.events.has_subscribers


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _prom_query(base: str, expr: str) -> list:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
    return json.loads(body)["data"]["result"]


@pytest.mark.slow
async def test_a_real_prometheus_scrapes_the_weave_metrics(small_loom: HoloLoom, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    metrics = LoomMetrics()
    metrics.attach(small_loom)
    server = serve_metrics(metrics, 0)
    try:
        for q in ("Who directed Maximum Overdrive?", "Where is Leland?"):
            await small_loom.weave(q, complexity="FAST")
        if binary is None:
            reason = "Debian's prometheus package is not installed (apt-get install prometheus); checked a plain parse of /metrics instead"
            print(f"SKIP real Prometheus: {reason}")
            s = await scrape(server.url)
            assert value(s, "hololoom_weave_duration_seconds_count", complexity="FAST") == 2
            pytest.skip(reason)

        yaml = pytest.importorskip("yaml")
        config = yaml.safe_load((ROOT / "config/prometheus.yml").read_text())
        config["global"]["scrape_interval"] = "1s"
        config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{server.port}"]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        prom_port = _free_port()
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{prom_port}"
            deadline = time.monotonic() + 60
            result: list = []
            while time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]
                try:
                    result = await _prom_query(base, 'hololoom_weave_duration_seconds_count{complexity="FAST"}')
                except OSError:
                    result = []
                if result:
                    break
                await asyncio.sleep(0.5)
            assert result, "Prometheus never scraped hololoom_weave_duration_seconds_count"
            assert float(result[0]["value"][1]) == 2
            assert result[0]["metric"]["job"] == "hololoom"
            shards = await _prom_query(base, "sum(hololoom_memory_shards)")
            assert float(shards[0]["value"][1]) == await small_loom.count()

            # weaves made while Prometheus watches show up in rates and quantiles, as the dashboard asks
            for q in ("What is the capital of France?", "Who was Haymo of Faversham?", "Where is Wilmington?"):
                await small_loom.weave(q, complexity="FAST")
            while time.monotonic() < deadline:
                result = await _prom_query(base, 'hololoom_weave_duration_seconds_count{complexity="FAST"}')
                if result and float(result[0]["value"][1]) == 5:
                    break
                await asyncio.sleep(0.5)
            assert float(result[0]["value"][1]) == 5
            p50 = await _prom_query(base, "histogram_quantile(0.5, sum by (le, complexity) "
                                          "(increase(hololoom_weave_duration_seconds_bucket[1m])))")
            assert p50 and 0 < float(p50[0]["value"][1]) < 30
            # every Grafana panel's query is valid PromQL and finds data
            dashboard = json.loads((ROOT / "config/grafana/dashboards/hololoom.json").read_text())
            for panel in dashboard["panels"]:
                for target in panel["targets"]:
                    expr = target["expr"].replace("$__rate_interval", "1m").replace("$__range", "5m")
                    found = await _prom_query(base, expr)  # raises HTTPError on a PromQL syntax error
                    if "errors" not in expr and "feedback" not in expr and 'outcome!="ok"' not in expr:
                        assert found, f"panel {panel['title']!r}: {expr} found nothing"
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    finally:
        server.close()


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


WEAVER = """
import asyncio, json, sys
from HoloLoom import HoloLoom, Settings

async def main():
    async with HoloLoom(settings=Settings(home=sys.argv[1])) as loom:
        out = []
        for q, level in (("Who directed Maximum Overdrive?", "FAST"), ("Why did the Recovery of Aristotle matter?", "FULL")):
            st = await loom.weave(q, complexity=level)
            out.append({"id": st.id, "tool": st.tool, "complexity": st.complexity.value, "ms": st.duration_ms,
                        "crawl_ms": st.timings["crawl"], "arm": st.routing.get("arm")})
        print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.slow
async def test_metrics_server_counts_weaves_other_processes_log(small_loom: HoloLoom, home: Path) -> None:
    """`hololoom metrics` in one process; weaves made by another reach it through the weave log."""
    import os
    import sys

    servers: list = []
    task = asyncio.create_task(run_metrics_server(small_loom, port=0, ready=servers.append))
    try:
        for _ in range(100):
            if servers:
                break
            await asyncio.sleep(0.05)
        url = servers[0].url
        mine = await small_loom.weave("Where is Leland?", complexity="LITE")  # counted once, from the events

        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WEAVER, str(home), cwd=str(ROOT), env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
        theirs = json.loads(out.decode().strip().splitlines()[-1])

        deadline = time.monotonic() + 30
        while True:
            s = await scrape(url)
            done = sum(x.value for x in s.get("hololoom_queries_total", []))
            if done >= 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not small_loom.events.has_subscribers  # detached on cancel

    assert value(s, "hololoom_weave_duration_seconds_count", complexity="LITE") == 1  # not twice
    assert value(s, "hololoom_weave_duration_seconds_count", complexity="FAST") == 1
    assert value(s, "hololoom_weave_duration_seconds_count", complexity="FULL") == 1
    assert sum(x.value for x in s["hololoom_queries_total"]) == 3
    fast, full = theirs
    assert value(s, "hololoom_weave_duration_seconds_sum", complexity="FAST") == pytest.approx(fast["ms"] / 1000.0)
    assert value(s, "hololoom_queries_total", complexity="FULL", tool=full["tool"], arm=full["arm"]) == 1
    assert value(s, "hololoom_stage_duration_seconds_sum", stage="crawl", complexity="FULL") == pytest.approx(
        full["crawl_ms"] / 1000.0)
    for stage in STAGE_ORDER:
        assert value(s, "hololoom_stage_duration_seconds_count", stage=stage.value, complexity="FAST") == 1
    assert value(s, "hololoom_queries_total", complexity="LITE", tool=mine.tool) == 1
    assert value(s, "hololoom_memory_shards", namespace="default") == await small_loom.count()


def test_weave_log_reading_starts_at_the_end_survives_rotation_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "weaves.jsonl"
    record = {"id": "a" * 32, "query": "q", "complexity": "FAST", "tool": "answer", "confidence": 0.5,
              "duration_ms": 12.0, "degraded": False, "routing": {"arm": "vector"},
              "stages": [{"stage": s.value, "duration_ms": 1.0, "data": {"complexity": "FAST"} if s.value == "pattern" else {},
                          "error": None} for s in STAGE_ORDER]}
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

    from HoloLoom.telemetry import WEAVE_BUCKETS, _FastHistogram

    values = [0.0, 0.0025, 0.003, 0.01, 0.0100001, 0.5, 1.0, 7.0, 29.9, 31.0, 1e-9]
    ours_registry, theirs_registry = CollectorRegistry(), CollectorRegistry()
    ours = _FastHistogram("x_seconds", "x", ["level"], WEAVE_BUCKETS, ours_registry)
    theirs = Histogram("x_seconds", "x", ["level"], buckets=WEAVE_BUCKETS, registry=theirs_registry)
    for v in values:
        ours.labels("FAST").observe(v)
        theirs.labels("FAST").observe(v)
    strip = lambda text: sorted(line for line in text.decode().splitlines()  # noqa: E731
                                if line.startswith("x_seconds") and "_created" not in line)
    assert strip(generate_latest(ours_registry)) == strip(generate_latest(theirs_registry))
