"""A real Prometheus (Debian's package) scrapes a loom's /metrics; every Grafana panel's query finds data."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from HoloLoom import HoloLoom
from HoloLoom.telemetry import LoomMetrics, serve_metrics

from ..metrics_scrape import scrape, value

ROOT = Path(__file__).resolve().parents[2]


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
