"""The scale benchmark: ``hololoom bench scale --memories 10000,100000,1000000 [--backend ...]``.

For every size and backend: build a store of N memories through ``HoloLoom.add`` (the
whole write path), close it, then in a fresh process reopen it and time what a user
feels. Per run it reports

- ``ingest_per_s``: memories/s through ``add()`` in batches of 1,000, with the corpus's
  vectors taken from the cache (see below), so it measures everything but the model;
  ``index_settle_s``: how long the HNSW graph then took to take in what the writes left
  it (writes never wait for it; until then new vectors are scanned exactly). The serving
  figures below are on the settled index;
- ``embed_p50_ms``: one query's embedding, the floor every weave pays;
- ``levels``: weave p50/p95 per level over the latency benchmark's query mix;
- ``ann_recall@10``: overlap of the default vector search's top 10 with an exact scan's,
  over 100 held-out texts of the corpus (embedded by the model, not in the store);
- ``rss_mb``: resident memory of the serving process after the weaves (model included),
  or of the server processes for Qdrant; ``reopen_s``: opening the store until it
  answers (a new client's first answer, for a server); ``disk_mb``: the store's files.

The corpus is the latency benchmark's seeded generator, so the corpus at 10k and 100k
is the start of the one at 1M. Its vectors are computed once by all-MiniLM-L6-v2 and
cached under ``$HOLOLOOM_BENCH_CACHE`` (default ``~/.cache/hololoom/bench``) in chunks
of 50,000 keyed by model and text (``HoloLoom/bench/_vector_cache.py``): the first
1M run encodes for about an hour on two cores, later runs read the cache. Backends:
``embedded`` (the default), ``qdrant-server`` and ``qdrant-cluster`` (a real Qdrant
started from ``../shared/bin/qdrant`` by ``tests/qdrant_harness.py``: one node, or three
on loopback with 3 shards and 2 replicas). The load average is recorded beside timings.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import median, percentile, print_table, write_json
from ._vector_cache import CachedEmbedder, cache_dir, cached_vectors
from .latency import QUERIES, make_corpus

__all__ = ["BACKENDS", "run_scale", "run_and_report"]

BACKENDS = ("embedded", "qdrant-server", "qdrant-cluster")
BATCH = 1000
RECALL_QUERIES = 100
NAMESPACE = "default"


def _say(message: str) -> None:
    print(f"... {time.strftime('%H:%M:%S')} {message} (load {os.getloadavg()[0]:.1f})", flush=True)


def _disk_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def _rss_mb(pids: Sequence[int]) -> float:
    import psutil

    return round(sum(psutil.Process(pid).memory_info().rss for pid in pids) / 2**20, 1)


def _harness() -> Any:
    """``tests/qdrant_harness.py`` from the checkout this package sits in."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "tests" / "qdrant_harness.py"
    if not path.exists():
        raise SystemExit("the Qdrant backends need a checkout (tests/qdrant_harness.py starts the server)")
    spec = importlib.util.spec_from_file_location("_hololoom_qdrant_harness", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _store_options(backend: str, url: str | None) -> dict[str, Any]:
    if backend == "embedded":
        return {}
    options: dict[str, Any] = {"url": url, "collection": "hololoom_scale"}
    if backend == "qdrant-cluster":
        options |= {"shards": 3, "replication": 2}
    return options


def _make_store(backend: str, home: Path, options: dict[str, Any], dimension: int) -> Any:
    if backend == "embedded":
        from ..memory import EmbeddedStore

        return EmbeddedStore(home / "embedded", dimension=dimension)
    from ..memory.qdrant_store import QdrantStore

    return QdrantStore(dimension=dimension, retry_seconds=60.0, batch_size=1000, **options)


async def _ingest(texts: list[str], vectors: np.ndarray, backend: str, home: Path,
                  options: dict[str, Any]) -> tuple[float, float]:
    """Memories added per second, and the seconds the HNSW graph then took to take in the rest."""
    from HoloLoom import HoloLoom, SentenceTransformerEmbedder, Settings

    embedder = CachedEmbedder(SentenceTransformerEmbedder.shared(), texts, vectors)
    store = _make_store(backend, home, options, vectors.shape[1])
    async with HoloLoom(settings=Settings(home=home, seed=1, routing="fixed"), store=store, embedder=embedder) as loom:
        started = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            await loom.add(texts[i : i + BATCH])
            if i and i % 100_000 == 0:
                _say(f"  {i:,} added ({i / (time.perf_counter() - started):.0f}/s)")
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        if hasattr(store, "settle"):
            await store.settle()
        settle_s = time.perf_counter() - started
    if embedder.misses:
        raise RuntimeError(f"{embedder.misses} texts were not in the vector cache")
    return len(texts) / elapsed, settle_s


async def _serve(home: Path, backend: str, options: dict[str, Any], memories: int, repeats: int) -> dict[str, Any]:
    """Reopen the store in this (fresh) process and measure it; returns the run's figures."""
    from HoloLoom import Complexity, HoloLoom, SearchFilter, SentenceTransformerEmbedder, Settings

    embedder = SentenceTransformerEmbedder.shared()
    await embedder.embed(["warm up"])
    started = time.perf_counter()
    store = _make_store(backend, home, options, embedder.dimension)
    await store.open()
    await store.vector_search(np.ones(embedder.dimension, dtype=np.float32) / embedder.dimension ** 0.5,
                              SearchFilter(NAMESPACE), limit=1)
    reopen_s = time.perf_counter() - started
    out: dict[str, Any] = {"reopen_s": round(reopen_s, 3)}
    async with HoloLoom(settings=Settings(home=home, seed=1, routing="fixed"), store=store, embedder=embedder) as loom:
        embed_ms = []
        for n in range(30):
            t0 = time.perf_counter()
            await embedder.embed([f"{QUERIES[n % len(QUERIES)]} #{n}"])
            embed_ms.append((time.perf_counter() - t0) * 1000)
        for n, q in enumerate(QUERIES):
            await loom.weave(f"{q} (warm-up {n})", complexity=Complexity.FAST)
        levels = {}
        for level in (Complexity.LITE, Complexity.FAST, Complexity.FULL):
            times = []
            for r in range(repeats):
                for n, q in enumerate(QUERIES):
                    t0 = time.perf_counter()
                    await loom.weave(f"{q} ({level.value.lower()} {r}.{n})", complexity=level)
                    times.append((time.perf_counter() - t0) * 1000)
            levels[level.value] = {"p50_ms": round(median(times), 2), "p95_ms": round(percentile(times, 95), 2)}
        out |= {"embed_p50_ms": round(median(embed_ms), 2), "levels": levels}
        if backend == "embedded":
            out["rss_mb"] = _rss_mb([os.getpid()])
        held_out = make_corpus(memories + RECALL_QUERIES)[memories:]
        queries = await embedder.embed(held_out)
        out["ann_recall@10"] = await _recall(store, backend, home, options, queries)
    return out


async def _recall(store: Any, backend: str, home: Path, options: dict[str, Any], queries: np.ndarray) -> float:
    """Mean overlap of the default search's top 10 with an exact scan's top 10."""
    from HoloLoom import SearchFilter

    flt = SearchFilter(NAMESPACE)
    if backend == "embedded":
        from ..memory import EmbeddedStore

        exact_store = EmbeddedStore(home / "embedded", dimension=queries.shape[1], vector_search="exact")
        exact = lambda q: exact_store.vector_search(q, flt, limit=10)  # noqa: E731
    else:
        from qdrant_client import models

        client = store._connect()

        async def exact(q: np.ndarray) -> list[Any]:
            found = await client.query_points(store.collection, query=q.tolist(), using="dense", limit=10,
                                              search_params=models.SearchParams(exact=True), with_payload=["sid"])
            return [type("H", (), {"id": p.payload["sid"]}) for p in found.points]
    overlaps = []
    for q in queries:
        approx = {h.id for h in await store.vector_search(q, flt, limit=10)}
        truth = {h.id for h in await exact(q)}
        overlaps.append(len(approx & truth) / max(1, len(truth)))
    if backend == "embedded":
        await exact_store.close()
    return round(float(np.mean(overlaps)), 4)


def _serve_in_subprocess(home: Path, backend: str, options: dict[str, Any], memories: int, repeats: int) -> dict[str, Any]:
    spec = json.dumps({"home": str(home), "backend": backend, "options": options, "memories": memories,
                       "repeats": repeats})
    done = subprocess.run([sys.executable, "-m", "HoloLoom.bench.scale", "--serve", spec], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _one_run(memories: int, backend: str, texts: list[str], vectors: np.ndarray, servers: dict[str, Any],
             repeats: int, work: Path) -> dict[str, Any]:
    home = work / f"{backend}-{memories}"
    shutil.rmtree(home, ignore_errors=True)
    server = servers.get(backend)
    options = _store_options(backend, server.url if server is not None else None)
    _say(f"{backend} at {memories:,}: ingest")
    load_before = os.getloadavg()[0]
    ingest, settle_s = asyncio.run(_ingest(texts[:memories], vectors[:memories], backend, home, options))
    _say(f"{backend} at {memories:,}: {ingest:.0f}/s; reopen and weave in a fresh process")
    figures = _serve_in_subprocess(home, backend, options, memories, repeats)
    if server is not None:
        nodes = getattr(server, "nodes", [server])
        figures["rss_mb"] = _rss_mb([n._proc.pid for n in nodes if n.is_running])
        figures["disk_mb"] = round(sum(_disk_mb(n.data_dir / "storage") for n in nodes), 1)
    else:
        figures["disk_mb"] = _disk_mb(home / "embedded")
    shutil.rmtree(home, ignore_errors=True)
    return {"memories": memories, "backend": backend, "ingest_per_s": round(ingest, 1),
            "index_settle_s": round(settle_s, 2), **figures,
            "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def run_scale(sizes: Sequence[int], backends: Sequence[str], *, repeats: int = 3,
              work_dir: str | Path | None = None) -> dict[str, Any]:
    """Every (size, backend) run; returns the JSON payload ``{"runs": [...], ...}``."""
    from HoloLoom import SentenceTransformerEmbedder

    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends: {', '.join(sorted(unknown))} (use {', '.join(BACKENDS)})")
    from ._vector_cache import CHUNK

    # Whole cache chunks, so every size is a prefix of vectors cached once.
    texts = make_corpus(-(-max(sizes) // CHUNK) * CHUNK)
    vectors = cached_vectors(SentenceTransformerEmbedder.shared(), texts, say=_say)
    runs = []
    with tempfile.TemporaryDirectory(prefix="hololoom-scale-", dir=work_dir) as tmp:
        for backend in backends:
            servers: dict[str, Any] = {}
            if backend != "embedded":
                harness = _harness()
                servers[backend] = (harness.QdrantCluster(3) if backend == "qdrant-cluster"
                                    else harness.QdrantServer()).start()
            try:
                for n in sorted(sizes):
                    runs.append(_one_run(n, backend, texts, vectors, servers, repeats, Path(tmp)))
                    _say(json.dumps(runs[-1]))
                    if servers:  # a fresh collection per size
                        _drop(servers[backend].url)
            finally:
                for server in servers.values():
                    server.close()
    return {"runs": runs, "corpus": "latency benchmark generator (seed 7), all-MiniLM-L6-v2 vectors",
            "vector_cache": str(cache_dir()), "cpu_count": os.cpu_count()}


def _drop(url: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{url}/collections/hololoom_scale", method="DELETE")
    urllib.request.urlopen(request, timeout=60).close()  # noqa: S310 - loopback


def report(payload: dict[str, Any]) -> None:
    rows = {}
    for run in payload["runs"]:
        row = {"ingest/s": run["ingest_per_s"], "settle s": run.get("index_settle_s", 0.0),
               "embed ms": run["embed_p50_ms"]}
        row |= {f"{k} p50": v["p50_ms"] for k, v in run["levels"].items()}
        row |= {"recall@10": run["ann_recall@10"], "RSS MB": run["rss_mb"], "reopen s": run["reopen_s"],
                "disk MB": run["disk_mb"]}
        rows[f"{run['backend']} {run['memories']:,}"] = row
    columns = list(next(iter(rows.values()))) if rows else []
    print_table("Scale", rows, columns)


def run_and_report(sizes: Sequence[int], *, backends: Sequence[str] = ("embedded",), json_path: str | Path | None = None,
                   plot_path: str | Path | None = None, repeats: int = 3) -> dict[str, Any]:
    payload = run_scale(sizes, backends, repeats=repeats)
    report(payload)
    write_json(json_path, payload)
    if plot_path is not None:
        from .scale_plot import write_plot

        write_plot(payload, Path(plot_path))
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Scale benchmark (see HoloLoom/bench/scale.py)")
    parser.add_argument("--memories", default="10000,100000")
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--plot", dest="plot_path", help="write PLOT.html and PLOT.png")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the fresh process of one run
    args = parser.parse_args(argv)
    if args.serve:
        spec = json.loads(args.serve)
        figures = asyncio.run(_serve(Path(spec["home"]), spec["backend"], spec["options"], spec["memories"],
                                     spec["repeats"]))
        print(json.dumps(figures), flush=True)
        return 0
    sizes = [int(s.replace("_", "")) for s in args.memories.split(",") if s.strip()]
    run_and_report(sizes, backends=args.backend or ["embedded"], json_path=args.json_path, plot_path=args.plot_path,
                   repeats=args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
