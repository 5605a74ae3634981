"""HTTP overhead under load: ``/v1/weave`` through ``hololoom serve`` against in-process ``weave()``.

    hololoom bench http --memories 10000 --clients 200 --duration 60 --json http.json

One run: remember N generated memories (the latency benchmark's corpus) in a fresh home;
hold ``clients`` concurrent in-process ``weave()`` calls for ``duration`` seconds; then start
``hololoom serve`` on loopback over the same home and hold as many concurrent HTTP clients
(``hey``, Debian's package) on ``POST /v1/weave`` for as long. Both sides ask the same
question with the default settings, so the ratio of their figures is the API's overhead:
HTTP parsing, validation, auth, JSON and the loopback socket.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigurationError
from ._common import percentile, print_table, write_json

__all__ = ["QUESTION", "main", "run_and_report"]

QUESTION = "What did Ada Albers work on?"
COLUMNS = ["requests", "errors", "rps", "p50_ms", "p99_ms"]


def _summary(latencies_ms: list[float], errors: int, seconds: float) -> dict[str, Any]:
    return {"requests": len(latencies_ms) + errors, "errors": errors, "rps": len(latencies_ms) / seconds,
            "p50_ms": percentile(latencies_ms, 50), "p99_ms": percentile(latencies_ms, 99)}


async def _fill(home: Path, memories: int) -> float:
    from ..bench.latency import make_corpus
    from ..config import Settings
    from ..loom import HoloLoom

    corpus = make_corpus(memories)
    started = time.perf_counter()
    async with HoloLoom(settings=Settings.from_env(home=home)) as loom:
        for i in range(0, len(corpus), 500):
            await loom.add(corpus[i:i + 500])
    return time.perf_counter() - started


async def _in_process(home: Path, clients: int, duration: float) -> dict[str, Any]:
    from ..config import Settings
    from ..loom import HoloLoom

    latencies: list[float] = []
    errors = 0
    async with HoloLoom(settings=Settings.from_env(home=home)) as loom:
        await loom.weave(QUESTION)  # warm: the first weave pays one-time setup on both sides
        deadline = time.perf_counter() + duration

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    await loom.weave(QUESTION)
                except Exception:  # counted, like a non-200 over HTTP
                    errors += 1
                else:
                    latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return _summary(latencies, errors, elapsed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _over_http(home: Path, clients: int, duration: float, hey: str) -> dict[str, Any]:
    import httpx

    token = secrets.token_urlsafe(24)
    port = _free_port()
    env = {**os.environ, "HOLOLOOM_HOME": str(home), "HOLOLOOM_API_TOKENS": f"{token}:*",
           "HOLOLOOM_API_RATE_LIMIT": "0"}
    server = subprocess.Popen([sys.executable, "-m", "HoloLoom.cli", "serve", "--port", str(port),
                               "--log-level", "warning", "--no-mcp"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1/weave"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(240):
            if server.poll() is not None:
                raise ConfigurationError(f"hololoom serve exited: {server.stderr.read().decode()[-2000:]}")
            try:
                if httpx.post(url, json={"query": QUESTION}, headers=headers, timeout=30).status_code == 200:
                    break  # ready, and warmed like the in-process side
            except httpx.HTTPError:
                time.sleep(0.5)
        body = Path(tempfile.mkstemp(suffix=".json")[1])
        body.write_text(json.dumps({"query": QUESTION}))
        run = subprocess.run([hey, "-z", f"{duration:g}s", "-c", str(clients), "-m", "POST", "-T", "application/json",
                              "-H", f"Authorization: Bearer {token}", "-D", str(body), "-t", "120", "-o", "csv", url],
                             capture_output=True, text=True, timeout=duration + 300)
        body.unlink()
    finally:
        server.terminate()
        server.wait(timeout=60)
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    ok = [float(r["response-time"]) * 1000 for r in rows if r.get("status-code") == "200"]
    offsets = [float(r["offset"]) + float(r["response-time"]) for r in rows] or [duration]
    return _summary(ok, len(rows) - len(ok), max(max(offsets), 1e-9))


def run_and_report(*, memories: int = 10_000, clients: int = 200, duration: float = 60.0,
                   json_path: str | Path | None = None, home: str | Path | None = None) -> dict[str, Any]:
    """Run both sides, print the table, write JSON; returns the payload."""
    hey = shutil.which("hey")
    if hey is None:
        raise ConfigurationError("the HTTP load benchmark drives the server with 'hey': apt-get install hey")
    with tempfile.TemporaryDirectory(prefix="hololoom-http-bench-") as scratch:
        data = Path(home) if home else Path(scratch) / "home"
        fill_s = asyncio.run(_fill(data, memories))
        # Each side starts from its own copy of the filled home: what one side's load teaches
        # the learned router (budget overruns, say) must not change what the other side runs.
        sides = {name: Path(scratch) / name for name in ("in-process", "http")}
        for copy in sides.values():
            shutil.copytree(data, copy)
        inproc = asyncio.run(_in_process(sides["in-process"], clients, duration))
        http = _over_http(sides["http"], clients, duration, hey)
    ratio = {"rps": http["rps"] / inproc["rps"] if inproc["rps"] else 0.0,
             "p50_ms": http["p50_ms"] / inproc["p50_ms"] if inproc["p50_ms"] else 0.0,
             "p99_ms": http["p99_ms"] / inproc["p99_ms"] if inproc["p99_ms"] else 0.0}
    rows = {"in-process weave()": inproc, "HTTP POST /v1/weave": http, "HTTP / in-process": ratio}
    print_table(f"weave under load: {clients} clients x {duration:g} s over {memories:,} memories", rows, COLUMNS)
    payload = {"benchmark": "http_load", "memories": memories, "clients": clients, "duration_s": duration,
               "question": QUESTION, "fill_seconds": fill_s, "cpu_count": os.cpu_count(),
               "load_average": os.getloadavg(), "in_process": inproc, "http": http, "ratio_http_over_in_process": ratio}
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per side")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    run_and_report(memories=args.memories, clients=args.clients, duration=args.duration, json_path=args.json_path)
    return 0
