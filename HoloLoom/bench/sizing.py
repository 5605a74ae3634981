"""How much memory and disk N memories take: the sizing figures of PRODUCTION_DEPLOYMENT.md.

    hololoom bench sizing --memories 100000 --json sizing.json

Adds the latency benchmark's generated corpus in batches through the facade (real MiniLM
embeddings, the configured backend) and records at checkpoints: the process's resident
memory (RSS) while serving, the RSS of a fresh process that opens the store and answers one
weave (what a restarted API replica needs), and the size of ``HOLOLOOM_HOME`` on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from ._common import print_table, write_json

__all__ = ["main", "run_and_report"]

_COLD_PROBE = """
import asyncio, json, resource, sys
from HoloLoom import HoloLoom, Settings
async def probe():
    async with HoloLoom(settings=Settings.from_env(home=sys.argv[1])) as loom:
        await loom.weave("What did Ada Albers work on?")
        print(json.dumps({"count": await loom.count(), "rss_mb": _rss()}))
def _rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
asyncio.run(probe())
"""


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


async def _fill(home: Path, checkpoints: list[int]) -> list[dict[str, Any]]:
    from ..bench.latency import make_corpus
    from ..config import Settings
    from ..loom import HoloLoom

    corpus = make_corpus(checkpoints[-1])
    rows: list[dict[str, Any]] = []
    async with HoloLoom(settings=Settings.from_env(home=home)) as loom:
        base_rss = _rss_mb()
        done = 0
        started = time.perf_counter()
        for target in checkpoints:
            for i in range(done, target, 1000):
                await loom.add(corpus[i:min(i + 1000, target)])
            done = target
            await loom.weave("What did Ada Albers work on?")
            rows.append({"memories": target, "rss_mb": _rss_mb(), "rss_empty_store_mb": base_rss,
                         "disk_mb": _disk_mb(home), "ingest_s": time.perf_counter() - started,
                         "backend": loom.store.name})
    return rows


def _cold_rss(home: Path) -> float:
    """RSS of a fresh process that opens ``home`` and answers one weave."""
    probe = subprocess.run([sys.executable, "-c", _COLD_PROBE, str(home)], capture_output=True, text=True, timeout=1800)
    return json.loads(probe.stdout.strip().splitlines()[-1])["rss_mb"]


def run_and_report(memories: int = 100_000, *, json_path: str | Path | None = None) -> dict[str, Any]:
    checkpoints = sorted({max(1, memories // 10), memories // 2, memories} - {0})
    with tempfile.TemporaryDirectory(prefix="hololoom-sizing-") as scratch:
        home = Path(scratch) / "home"
        rows = asyncio.run(_fill(home, checkpoints))
        rows[-1]["cold_open_rss_mb"] = _cold_rss(home)
        empty_rss = _cold_rss(Path(scratch) / "empty")  # the model and the libraries alone
    last, first = rows[-1], rows[0]
    span = last["memories"] - first["memories"]
    per_100k = {"empty_store_rss_mb": empty_rss,
                "rss_mb_per_100k": (last["cold_open_rss_mb"] - empty_rss) / last["memories"] * 100_000,
                "disk_mb_per_100k": (last["disk_mb"] - first["disk_mb"]) / span * 100_000 if span else 0.0}
    print_table(f"sizing ({last['backend']})", {f"{r['memories']:,}": r for r in rows},
                ["rss_mb", "disk_mb", "ingest_s", "cold_open_rss_mb"])
    print_table("per 100k memories: cold-open RSS above an empty store; disk slope", {"": per_100k}, list(per_100k))
    payload = {"benchmark": "sizing", "checkpoints": rows, "per_100k": per_100k, "cpu_count": os.cpu_count(),
               "load_average": os.getloadavg()}
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    run_and_report(args.memories, json_path=args.json_path)
    return 0
