"""HTTP overhead under load: ``/v1/weave`` through ``hololoom serve`` against in-process ``weave()``.

    hololoom bench http --memories 10000 --clients 200 --duration 60 --json http.json

Remember N generated memories (the latency benchmark's corpus); give each side its own
copy of that home (what one side's load teaches the learned router must not steer the
other); start ``hololoom serve`` on loopback over one copy and open a ``HoloLoom`` on the
other. Then alternate rounds (in-process, HTTP, HTTP, in-process, ...) until each side has
had ``duration`` seconds of ``clients`` concurrent callers: in process, ``clients`` asyncio
tasks calling ``weave()``; over HTTP, ``hey`` (Debian's package) with ``clients`` workers on
``POST /v1/weave``. Both ask the same question with default settings. Alternating rounds
spreads the machine's background load over both sides, so their ratio is the API's own
overhead (HTTP parsing, validation, auth, JSON, the loopback socket); requests/s is the
median over rounds.
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
import statistics
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


class _Side:
    """Latencies, errors and per-round throughput of one side."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.round_rps: list[float] = []

    def summary(self) -> dict[str, Any]:
        return {"requests": len(self.latencies_ms) + self.errors, "errors": self.errors,
                "rps": statistics.median(self.round_rps) if self.round_rps else 0.0,
                "p50_ms": percentile(self.latencies_ms, 50), "p99_ms": percentile(self.latencies_ms, 99),
                "round_rps": [round(r, 2) for r in self.round_rps]}


async def _fill(home: Path, memories: int) -> float:
    from ..bench.latency import make_corpus
    from ..config import Settings
    from ..loom import HoloLoom

    started = time.perf_counter()
    async with HoloLoom(settings=Settings.from_env(home=home)) as loom:
        have = await loom.count()
        corpus = make_corpus(memories)
        for i in range(have, len(corpus), 500):  # a reused home keeps what it has
            await loom.add(corpus[i:i + 500])
    return time.perf_counter() - started


async def _in_process_round(loom: Any, clients: int, seconds: float, side: _Side) -> None:
    deadline = time.perf_counter() + seconds
    done = 0

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await loom.weave(QUESTION)
            except Exception:  # counted, like a non-200 over HTTP
                side.errors += 1
            else:
                side.latencies_ms.append((time.perf_counter() - started) * 1000)
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    side.round_rps.append(done / (time.perf_counter() - started))


async def _http_round(hey: str, url: str, token: str, body: Path, clients: int, seconds: float, side: _Side) -> None:
    proc = await asyncio.create_subprocess_exec(
        hey, "-z", f"{seconds:g}s", "-c", str(clients), "-m", "POST", "-T", "application/json",
        "-H", f"Authorization: Bearer {token}", "-D", str(body), "-t", "120", "-o", "csv", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    ok = [float(r["response-time"]) * 1000 for r in rows if r.get("status-code") == "200"]
    side.latencies_ms += ok
    side.errors += len(rows) - len(ok)
    span = max((float(r["offset"]) + float(r["response-time"]) for r in rows), default=seconds)
    side.round_rps.append(len(ok) / max(span, 1e-9))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start_server(home: Path, token: str) -> tuple[asyncio.subprocess.Process, str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "HOLOLOOM_HOME": str(home), "HOLOLOOM_API_TOKENS": f"{token}:*",
           "HOLOLOOM_API_RATE_LIMIT": "0"}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "HoloLoom.cli", "serve", "--port", str(port), "--log-level", "warning", "--no-mcp",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/weave"
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(600):
            if server.returncode is not None:
                raise ConfigurationError(f"hololoom serve exited with {server.returncode}")
            try:
                r = await client.post(url, json={"query": QUESTION}, headers={"Authorization": f"Bearer {token}"})
                if r.status_code == 200:
                    return server, url  # ready, and warmed like the in-process side
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    server.terminate()
    raise ConfigurationError("hololoom serve did not answer within 5 minutes")


async def _compare(homes: dict[str, Path], clients: int, duration: float, rounds: int, hey: str) -> dict[str, _Side]:
    from ..config import Settings
    from ..loom import HoloLoom

    sides = {"in-process": _Side(), "http": _Side()}
    token = secrets.token_urlsafe(24)
    server, url = await _start_server(homes["http"], token)
    body = Path(tempfile.mkstemp(suffix=".json")[1])
    body.write_text(json.dumps({"query": QUESTION}))
    try:
        async with HoloLoom(settings=Settings.from_env(home=homes["in-process"])) as loom:
            await loom.weave(QUESTION)  # warm: the first weave pays one-time setup on both sides
            seconds = duration / rounds
            for number in range(rounds):
                order = ("in-process", "http") if number % 2 == 0 else ("http", "in-process")
                for name in order:
                    if name == "in-process":
                        await _in_process_round(loom, clients, seconds, sides[name])
                    else:
                        await _http_round(hey, url, token, body, clients, seconds, sides[name])
    finally:
        body.unlink()
        server.terminate()
        await server.wait()
    return sides


def run_and_report(*, memories: int = 10_000, clients: int = 200, duration: float = 60.0, rounds: int = 4,
                   json_path: str | Path | None = None, home: str | Path | None = None) -> dict[str, Any]:
    """Run both sides, print the table, write JSON; returns the payload.

    Args:
        home: keep the filled store here and reuse it next time (default: a temporary one).
    """
    hey = shutil.which("hey")
    if hey is None:
        raise ConfigurationError("the HTTP load benchmark drives the server with 'hey': apt-get install hey")
    with tempfile.TemporaryDirectory(prefix="hololoom-http-bench-") as scratch:
        data = Path(home) if home else Path(scratch) / "filled"
        fill_s = asyncio.run(_fill(data, memories))
        homes = {name: Path(scratch) / name for name in ("in-process", "http")}
        for copy in homes.values():
            shutil.copytree(data, copy)
        sides = asyncio.run(_compare(homes, clients, duration, rounds, hey))
    inproc, http = sides["in-process"].summary(), sides["http"].summary()
    ratio = {key: http[key] / inproc[key] if inproc[key] else 0.0 for key in ("rps", "p50_ms", "p99_ms")}
    rows = {"in-process weave()": inproc, "HTTP POST /v1/weave": http, "HTTP / in-process": ratio}
    print_table(f"weave under load: {clients} clients, {rounds} alternating rounds of {duration / rounds:g} s a side, "
                f"{memories:,} memories", rows, COLUMNS)
    payload = {"benchmark": "http_load", "memories": memories, "clients": clients, "duration_s": duration,
               "rounds": rounds, "question": QUESTION, "fill_seconds": fill_s, "cpu_count": os.cpu_count(),
               "load_average": os.getloadavg(), "in_process": inproc, "http": http, "ratio_http_over_in_process": ratio}
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per side")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the duration is split into")
    parser.add_argument("--home", help="keep the filled store here and reuse it")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    run_and_report(memories=args.memories, clients=args.clients, duration=args.duration, rounds=args.rounds,
                   json_path=args.json_path, home=args.home)
    return 0
