"""Backend throughput and latency at N memories, every backend on the same data.

    python -m benchmarks.backends --memories 10000 [--json FILE] [--backends embedded,neo4j]
    hololoom bench backends --memories N [--json FILE]

The memories are real text: the HotpotQA passages (``--data``, by default
``../shared/data/hotpotqa-100``) as whole passages, single sentences and runs of two and
three consecutive sentences, each titled by its passage, with entities extracted as the
write path does. Their vectors come from the real embedder (all-MiniLM-L6-v2), computed
once and cached on disk, so ``add_per_s`` measures the store alone: ``store.add`` in
batches of 1,000 records, excluding embedding and extraction. The queries are the
dataset's questions, embedded the same way.

- ``add_per_s``: N / seconds to add all N records;
- ``search_p50_ms``: median ``vector_search`` (limit 10) over the questions;
- ``neighbors_p50_ms``: median ``neighbors`` of 3 random shards (max_degree 48, limit
  500), the graph step of a crawl pass.

Before measuring, each store writes, searches and deletes 2,000 records in another
namespace, so a freshly started server is measured warm. Each latency is taken over 200
calls after 30 untimed ones (fewer, but at least 20, when a slow engine exceeds a minute).

Neo4j comes from ``HOLOLOOM_NEO4J_URI/USER/PASSWORD`` when set; otherwise, from a
checkout with Java 17+ and Maven, a throwaway server is started with
``tests/neo4j_harness.py``. Qdrant comes from ``HOLOLOOM_QDRANT_URL`` when set,
otherwise a throwaway server started from ``../shared/bin/qdrant`` by
``tests/qdrant_harness.py`` (a checkout), otherwise local mode in a temporary directory
(the payload says which). A backend that cannot run is listed under ``skipped`` with the
reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import median, percentile, print_table, write_json
from ._vector_cache import cached_vectors

__all__ = ["BACKENDS", "build_memories", "run_and_report", "run_backends"]

BACKENDS = ("embedded", "neo4j", "qdrant", "hybrid")
DEFAULT_DATA = str(Path(__file__).resolve().parents[3] / "shared" / "data" / "hotpotqa-100")
NAMESPACE = "bench-backends"
ADD_BATCH = 1000
SEARCHES = 200
NEIGHBOR_CALLS = 200
WARMUP = 30
WARMUP_RECORDS = 2000
WARMUP_NAMESPACE = "bench-backends-warmup"
BUDGET_S = 60.0  # per measurement: slow engines (local-mode Qdrant) stop after >= 20 samples
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def _texts(data_dir: Path, n: int) -> list[tuple[str, str]]:
    """(title, text) pairs from the corpus: passages, sentences, and runs of 2-3 sentences."""
    corpus = [json.loads(line) for line in (data_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
              if line.strip()]
    seen: dict[str, str] = {}
    for width in (0, 1, 2, 3):  # 0 = the whole passage
        for passage in corpus:
            if width == 0:
                seen.setdefault(passage["text"], passage["title"])
                continue
            sentences = [s for s in _SENTENCE.split(passage["text"]) if len(s) > 20]
            for i in range(len(sentences) - width + 1):
                seen.setdefault(" ".join(sentences[i : i + width]), passage["title"])
    pairs = [(title, text) for text, title in seen.items()]
    out = pairs[:n]
    copy = 1
    while len(out) < n:  # more than the corpus holds: repeat, marked so ids stay distinct
        out.extend((title, f"{text} [{copy}]") for title, text in pairs[: n - len(out)])
        copy += 1
    return out


def build_memories(n: int, data_dir: str | Path = DEFAULT_DATA, *, embedder: Any = None,
                   say: Callable[[str], None] = lambda _m: None) -> tuple[list[Any], np.ndarray]:
    """N ShardRecords over real text with real vectors, and the question vectors."""
    from ..embedding import SentenceTransformerEmbedder
    from ..extraction import RuleBasedExtractor
    from ..ingest import shard_id
    from ..memory.base import ShardRecord
    from ..types import MemoryShard

    data_dir = Path(data_dir)
    if not (data_dir / "corpus.jsonl").exists():
        raise SystemExit(f"{data_dir}: no corpus.jsonl here (give --data DIR)")
    embedder = embedder or SentenceTransformerEmbedder.shared()
    pairs = _texts(data_dir, n)
    vectors = cached_vectors(embedder, [f"{title}\n{text}" for title, text in pairs], say=say)
    questions = [json.loads(line)["question"] for line in
                 (data_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    query_vectors = cached_vectors(embedder, questions, say=say)
    extractor = RuleBasedExtractor()
    start = 1_600_000_000.0
    records = []
    for i, ((title, text), vector) in enumerate(zip(pairs, vectors)):
        shard = MemoryShard(
            id=shard_id(NAMESPACE, text), namespace=NAMESPACE, text=text,
            metadata={"title": title, "n": i}, entities=tuple(extractor.entities(text)), about=(title,),
            motifs=tuple(extractor.motifs(text)), created_at=start + i, occurred_at=start + i * 3600.0,
        )
        records.append(ShardRecord(shard, vector))
    return records, query_vectors


def _harness() -> Any:
    """tests/neo4j_harness.py from the checkout this package sits in, if there is one."""
    path = Path(__file__).resolve().parents[2] / "tests" / "neo4j_harness.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_hololoom_neo4j_harness", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@contextlib.contextmanager
def _neo4j(say: Callable[[str], None]) -> Iterator[tuple[str, str | None, str, str | None]]:
    """(uri, user, password, reason-if-unavailable) of a Neo4j to benchmark against."""
    uri = os.environ.get("HOLOLOOM_NEO4J_URI")
    if uri:
        yield uri, os.environ.get("HOLOLOOM_NEO4J_USER", "neo4j"), os.environ.get("HOLOLOOM_NEO4J_PASSWORD"), None
        return
    harness = _harness()
    if harness is None:
        yield "", None, None, "no HOLOLOOM_NEO4J_URI and no tests/neo4j_harness.py (run from a checkout)"
        return
    ok, why = harness.java_available()
    if not ok:
        yield "", None, None, f"no HOLOLOOM_NEO4J_URI and cannot start one: {why}"
        return
    say("starting a throwaway Neo4j with tests/neo4j_harness.py")
    # The harness caps the JIT at C1 for a fast start in tests; a benchmark wants the
    # steady state a production server reaches, so the full JIT (C2) comes back here.
    with harness.Neo4jServer(password="bench-password", heap="1g", pagecache_mb=256,
                             jvm_args=["-XX:TieredStopAtLevel=4"]) as server:
        yield server.uri, server.user, server.password, None


@contextlib.contextmanager
def _qdrant_url(say: Callable[[str], None]) -> Iterator[str | None]:
    """A Qdrant server's URL: ``HOLOLOOM_QDRANT_URL``, else a throwaway one; None for local mode."""
    url = os.environ.get("HOLOLOOM_QDRANT_URL")
    if url:
        yield url
        return
    path = Path(__file__).resolve().parents[2] / "tests" / "qdrant_harness.py"
    if not path.exists():
        yield None
        return
    spec = importlib.util.spec_from_file_location("_hololoom_qdrant_harness", path)
    harness = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(harness)  # type: ignore[union-attr]
    if harness.find_qdrant() is None:
        yield None
        return
    say("starting a throwaway Qdrant server with tests/qdrant_harness.py")
    with harness.QdrantServer() as server:
        yield server.url


async def _sample(call: Callable[[int], Any], count: int) -> list[float]:
    """Milliseconds of ``count`` calls after ``WARMUP`` untimed ones, or fewer if the budget runs out."""
    for i in range(WARMUP):
        await call(count + i)
    times: list[float] = []
    deadline = time.perf_counter() + BUDGET_S
    for i in range(count):
        started = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - started) * 1000)
        if len(times) >= 20 and started > deadline:
            break
    return times


async def _warm_up(store: Any, records: list[Any], queries: np.ndarray) -> None:
    """Write, read and delete a throwaway namespace first, so a freshly started server is
    measured in the steady state (JIT-compiled, caches filled) and not while warming."""
    from dataclasses import replace

    from ..memory.base import ShardRecord
    from ..types import SearchFilter

    warm = [ShardRecord(replace(r.shard, namespace=WARMUP_NAMESPACE), r.vector) for r in records[:WARMUP_RECORDS]]
    for i in range(0, len(warm), ADD_BATCH):
        await store.add(warm[i : i + ADD_BATCH])
    flt = SearchFilter(WARMUP_NAMESPACE)
    for i in range(WARMUP):
        await store.vector_search(queries[i % len(queries)], flt, limit=10)
        await store.neighbors([w.shard.id for w in warm[i * 3 : i * 3 + 3]], flt, max_degree=48, limit=500)
    await store.delete_namespace(WARMUP_NAMESPACE)


async def _measure(store: Any, records: list[Any], queries: np.ndarray, say: Callable[[str], None]) -> dict[str, float]:
    from ..types import SearchFilter

    await store.delete_namespace(NAMESPACE)
    await _warm_up(store, records, queries)
    started = time.perf_counter()
    for i in range(0, len(records), ADD_BATCH):
        await store.add(records[i : i + ADD_BATCH])
    add_s = time.perf_counter() - started
    say(f"  added {len(records)} in {add_s:.1f}s")
    flt = SearchFilter(NAMESPACE)
    search_ms = await _sample(lambda i: store.vector_search(queries[i % len(queries)], flt, limit=10), SEARCHES)
    rng = random.Random(42)
    ids = [r.shard.id for r in records]
    beams = [rng.sample(ids, 3) for _ in range(NEIGHBOR_CALLS + WARMUP)]
    neighbor_ms = await _sample(lambda i: store.neighbors(beams[i], flt, max_degree=48, limit=500), NEIGHBOR_CALLS)
    say(f"  search p50 {median(search_ms):.2f} ms (p95 {percentile(search_ms, 95):.2f}), "
        f"neighbors p50 {median(neighbor_ms):.2f} ms")
    await store.delete_namespace(NAMESPACE)
    return {"add_per_s": round(len(records) / add_s, 1), "search_p50_ms": round(median(search_ms), 3),
            "neighbors_p50_ms": round(median(neighbor_ms), 3)}


async def run_backends(
    memories: int,
    *,
    backends: Sequence[str] = BACKENDS,
    data_dir: str | Path = DEFAULT_DATA,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure each backend on the same N memories; returns the JSON payload."""
    from ..memory import EmbeddedStore
    from ..memory.hybrid import HybridStore
    from ..memory.neo4j_store import Neo4jStore
    from ..memory.qdrant_store import QdrantStore

    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends: {', '.join(sorted(unknown))} (use {', '.join(BACKENDS)})")
    say = progress or (lambda _m: None)
    records, queries = build_memories(memories, data_dir, say=say)
    dim = records[0].vector.shape[0]
    results: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="hololoom-bench-backends-") as tmp, contextlib.ExitStack() as stack:
        qdrant_url = stack.enter_context(_qdrant_url(say)) if {"qdrant", "hybrid"} & set(backends) else None
        neo4j_server = None
        if {"neo4j", "hybrid"} & set(backends):
            neo4j_server = stack.enter_context(_neo4j(say))

        def qdrant(name: str) -> QdrantStore:
            if qdrant_url:
                return QdrantStore(url=qdrant_url, api_key=os.environ.get("HOLOLOOM_QDRANT_API_KEY"),
                                   collection=f"hololoom_bench_{name}", dimension=dim)
            return QdrantStore(path=Path(tmp) / f"qdrant-{name}", dimension=dim)

        for name in backends:
            if name in ("neo4j", "hybrid") and neo4j_server and neo4j_server[3]:
                skipped[name] = neo4j_server[3]
                say(f"{name}: skipped ({neo4j_server[3]})")
                continue
            if name == "embedded":
                store: Any = EmbeddedStore(Path(tmp) / "embedded", dimension=dim)
            elif name == "qdrant":
                store = qdrant("qdrant")
            else:
                uri, user, password, _ = neo4j_server  # type: ignore[misc]
                graph = Neo4jStore(uri, user=user or "neo4j", password=password, dimension=dim,
                                   vectors=name == "neo4j")
                store = graph if name == "neo4j" else HybridStore(graph, qdrant("hybrid"))
            say(f"{name}")
            async with store:
                results[name] = await _measure(store, records, queries, say)
    payload: dict[str, Any] = {
        "memories": memories,
        "backends": results,
        "vectors": "all-MiniLM-L6-v2 (384-d) over HotpotQA passages and sentences; embedding excluded from add_per_s",
        "queries": {"search": SEARCHES, "neighbors": NEIGHBOR_CALLS, "warmup": WARMUP, "add_batch": ADD_BATCH},
        "qdrant": "server" if qdrant_url else "local mode",
    }
    if skipped:
        payload["skipped"] = skipped
    return payload


def report(payload: dict[str, Any]) -> None:
    print_table(f"Backends at {payload['memories']:,} memories ({payload['qdrant']} Qdrant)", payload["backends"],
                ["add_per_s", "search_p50_ms", "neighbors_p50_ms"])
    for name, why in payload.get("skipped", {}).items():
        print(f"{name}: skipped: {why}")


def run_and_report(memories: int = 10_000, *, json_path: str | Path | None = None,
                   backends: Sequence[str] = BACKENDS, data: str | Path = DEFAULT_DATA) -> dict[str, Any]:
    """Run, print the table, write JSON: what the CLI and ``python -m benchmarks.backends`` do."""
    if memories <= 0:
        raise SystemExit("--memories must be positive")
    payload = asyncio.run(run_backends(memories, backends=backends, data_dir=data,
                                       progress=lambda m: print(f"... {m}", flush=True)))
    report(payload)
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset of " + ",".join(BACKENDS))
    parser.add_argument("--data", default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    run_and_report(args.memories, json_path=args.json_path, data=args.data,
                   backends=[b.strip() for b in args.backends.split(",") if b.strip()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
