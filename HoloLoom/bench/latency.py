"""Weave latency at scale: ``hololoom bench latency --memories N [--json FILE]``.

Builds an embedded store of N memories in a temporary directory — short synthetic
sentences made from a seeded generator of people, places, organisations, years and
topics (so they carry entities and the graph is realistic), embedded for real — then
times ``weave`` for a fixed mix of queries at every level. ``embed_p50_ms`` is the time
to embed one query alone in the same run: the floor every level pays. ``crawl_p50_ms`` is
the crawl stage's own time (from each Spacetime's trace), and ``overhead_ms`` is what the
weave adds around its crawl and its one query embedding: weave p50 - crawl p50 - embed p50. ``ingest_per_s``
is ``add()`` throughput over the whole corpus; ``raw_encode_per_s`` is the embedder alone
on a sample of the same texts with the same batch size, measured before and after the
ingest (the faster of the two is kept). The corpus's vectors, encoded anyway by the ingest,
are left in the scale benchmark's cache (``HoloLoom/bench/_vector_cache.py``): the same
generator makes both corpora.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._common import median, percentile, print_table, write_json

__all__ = ["make_corpus", "run_latency", "run_and_report"]

_FIRST = ["Ada", "Brigit", "Chen", "Dmitri", "Esther", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lucia",
          "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Samir", "Tove", "Umar", "Vera", "Wen", "Yusuf"]
_LAST = ["Albers", "Barros", "Castell", "Dunmore", "Eriksen", "Faraday", "Gallo", "Halvorsen", "Ibarra", "Jansen",
         "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quiroga", "Rinaldi", "Sato", "Takahashi"]
_PLACES = ["Lisbon", "Tromso", "Kyoto", "Valparaiso", "Tbilisi", "Quebec City", "Zanzibar", "Reykjavik", "Hobart",
           "Cartagena", "Gdansk", "Lucerne", "Marrakesh", "Oaxaca", "Trieste", "Vilnius"]
_ORGS = ["Northwind Labs", "the Helix Institute", "Cobalt Systems", "the Meridian Trust", "Aurora Robotics",
         "the Basalt Foundation", "Quill Press", "Tidewater Energy"]
_TOPICS = ["glacier melt", "protein folding", "urban beekeeping", "tidal power", "medieval trade routes",
           "quantum sensors", "coral restoration", "soil microbiomes", "language revival", "battery recycling"]
_VERBS = ["presented a study on", "led a workshop about", "published a report on", "raised funds for research into",
          "wrote a book about", "started a project on"]

QUERIES = [
    "What did Ada Albers work on?",
    "Who studied glacier melt in Tromso?",
    "hello",
    "Which projects did Northwind Labs fund?",
    "Compare the work of Chen Castell and Greta Gallo",
    "Give me a comprehensive analysis of tidal power research",
    "Where did Priya Petrov present?",
    "What happened in Kyoto?",
    "Why did the Helix Institute start a coral restoration project?",
    "Summarize the battery recycling work",
]


def make_corpus(n: int, seed: int = 7) -> list[str]:
    """N distinct, entity-rich sentences from a seeded generator."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        person = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        text = (f"In {rng.randint(1990, 2025)}, {person} of {rng.choice(_ORGS)} {rng.choice(_VERBS)} "
                f"{rng.choice(_TOPICS)} in {rng.choice(_PLACES)} (note {len(out)}).")
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


async def run_latency(memories: int, *, repeats: int = 3, batch: int = 1000, sample: int = 2000,
                      progress: Any = None, cached_vectors: bool = False) -> dict[str, Any]:
    """The benchmark; ``cached_vectors``: ingest from the vector cache (weave timings only)."""
    from HoloLoom import HoloLoom, SentenceTransformerEmbedder, Settings

    from ._vector_cache import CachedEmbedder, RecordingEmbedder, cached_vectors as cache_lookup, store_vectors

    say = progress or (lambda _m: None)
    texts = make_corpus(memories)
    model = SentenceTransformerEmbedder.shared()
    recorder: Any = RecordingEmbedder(model)
    if cached_vectors:  # queries are still encoded by the model (no corpus text is a query)
        recorder = CachedEmbedder(model, texts, cache_lookup(model, texts, say=say))
        recorder.seen = {}
    with tempfile.TemporaryDirectory(prefix="hololoom-latency-") as tmp:
        async with HoloLoom(settings=Settings(home=Path(tmp), seed=1), embedder=recorder) as loom:
            embedder = loom.embedder
            probe = texts[: min(sample, memories)]

            async def raw_encode_rate() -> float:
                started = time.perf_counter()
                for i in range(0, len(probe), batch):
                    await embedder.embed(probe[i : i + batch])
                return len(probe) / (time.perf_counter() - started)

            say(f"raw encode of {len(probe)} texts")
            raw_before = await raw_encode_rate()

            say(f"ingest of {memories} texts")
            started = time.perf_counter()
            for i in range(0, memories, batch):
                await loom.add(texts[i : i + batch])
            ingest_s = time.perf_counter() - started
            started = time.perf_counter()
            if hasattr(loom.store, "settle"):  # time the weaves on the settled index, and say how long it took
                await loom.store.settle()
            settle_s = time.perf_counter() - started
            if not cached_vectors and all(t in recorder.seen for t in texts):  # the scale benchmark's corpus: keep them
                import numpy as np

                store_vectors(recorder.name, texts, np.stack([recorder.seen[t] for t in texts]))
            recorder.seen.clear()
            if cached_vectors:  # weave with the model itself: a tool's sentences must be encoded, not looked up
                loom.embedder = embedder = model
            # Measured again after the ingest and the faster rate kept, so a busy moment
            # during one measurement cannot flatter the ingest/encode ratio.
            say("raw encode again")
            raw_per_s = max(raw_before, await raw_encode_rate())

            embed_p50 = await _embed_p50(embedder)
            levels, cuts = await _time_levels(loom, repeats, say)
            for row in levels.values():
                row["overhead_ms"] = round(row["p50_ms"] - row["crawl_p50_ms"] - embed_p50, 3)
            return {
                "memories": memories,
                "embed_p50_ms": round(embed_p50, 3),
                "levels": levels,
                "ingest_per_s": round(memories / ingest_s, 2),
                "index_settle_s": round(settle_s, 2),
                "raw_encode_per_s": round(raw_per_s, 2),
                "ratios": {
                    "levels_x_embed": {k: round(v["p50_ms"] / embed_p50, 2) for k, v in levels.items()},
                    "ingest_over_raw_encode": round((memories / ingest_s) / raw_per_s, 3),
                },
                "budget_cuts": cuts,
                "corpus": "synthetic entity-rich sentences (seeded), real MiniLM embeddings",
                "ingest_vectors": "cached (ingest_per_s is not an encoding rate)" if cached_vectors else "encoded",
            }


async def _embed_p50(embedder: Any, n: int = 30) -> float:
    """Median ms to embed one query alone: the floor every level pays."""
    times = []
    for i in range(n):
        q = f"{QUERIES[i % len(QUERIES)]} #{i}"  # distinct texts: no embedding cache hits
        t0 = time.perf_counter()
        await embedder.embed([q])
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


async def _time_levels(loom: Any, repeats: int, say: Any) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Weave p50/p95 and crawl-stage p50 per level, and how many weaves the budget cut."""
    from HoloLoom import Complexity

    for n, q in enumerate(QUERIES):  # warm caches and code paths before timing anything
        await loom.weave(f"{q} (warm-up {n})", complexity=Complexity.FAST)
    levels: dict[str, dict[str, float]] = {}
    cuts: dict[str, int] = {}
    for level in Complexity:
        say(f"weave at {level.value}")
        times, crawls, stages = [], [], {}
        for r in range(repeats):
            for n, q in enumerate(QUERIES):
                t0 = time.perf_counter()
                # a distinct text per level and round: no embedding-cache hits
                st = await loom.weave(f"{q} ({level.value.lower()} {r}.{n})", complexity=level)
                times.append((time.perf_counter() - t0) * 1000)
                crawls.append(st.timings.get("crawl", 0.0))
                for name, ms in st.timings.items():
                    stages.setdefault(name, []).append(ms)
                cuts[level.value] = cuts.get(level.value, 0) + int(st.degraded)
        levels[level.value] = {"p50_ms": round(median(times), 3), "p95_ms": round(percentile(times, 95), 3),
                               "crawl_p50_ms": round(median(crawls), 3),
                               "stage_p50_ms": {k: round(median(v), 3) for k, v in stages.items()}}
    return levels, cuts


def run_and_report(memories: int, *, json_path: str | Path | None = None, repeats: int = 3,
                   cached_vectors: bool = False) -> dict[str, Any]:
    payload = asyncio.run(run_latency(memories, repeats=repeats, progress=lambda m: print(f"... {m}", flush=True),
                                      cached_vectors=cached_vectors))
    rows = {k: {**v, "x embed": payload["ratios"]["levels_x_embed"][k], "budget cuts": payload["budget_cuts"][k]}
            for k, v in payload["levels"].items()}
    print_table(f"Weave latency, {memories:,} memories (embed p50 {payload['embed_p50_ms']:.1f} ms)", rows,
                ["p50_ms", "p95_ms", "crawl_p50_ms", "overhead_ms", "x embed", "budget cuts"])
    print(f"ingest {payload['ingest_per_s']:.0f}/s vs raw encode {payload['raw_encode_per_s']:.0f}/s "
          f"(ratio {payload['ratios']['ingest_over_raw_encode']:.2f})")
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Weave latency benchmark")
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--cached-vectors", action="store_true")
    args = parser.parse_args(argv)
    run_and_report(args.memories, json_path=args.json_path, repeats=args.repeats, cached_vectors=args.cached_vectors)
    return 0
