"""`hololoom metrics` in one process counts the weaves another process logs (the real model in both)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from HoloLoom import HoloLoom
from HoloLoom.telemetry import run_metrics_server
from HoloLoom.weaving import STAGE_ORDER

from ..metrics_scrape import scrape, value

ROOT = Path(__file__).resolve().parents[2]


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
    before = small_loom.events.subscribers  # the loom's own weave-log writer
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
    assert small_loom.events.subscribers == before  # detached on cancel

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
