"""Retrieval quality on multi-hop question data (e.g. ``../shared/data/hotpotqa-100``).

    python -m benchmarks.quality --data DIR [--json FILE] [--backend embedded]
    hololoom bench quality --data DIR [--json FILE]

DIR holds ``corpus.jsonl`` (``{"title", "text"}``, title unique) and ``questions.jsonl``
(``{"question", "supporting_titles"}``). The corpus goes into a fresh store in a
temporary directory; every question is then answered by ``dense`` (one vector search on
the same store and embedder: the baseline), ``bm25`` (bm25s over the same passages) and
the crawler at each level. recall@k is the mean fraction of a question's supporting
titles in its top k; all@5 the share of questions with every supporting title in the
top 5; p50_ms the median retrieval time per question (the query embedding included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ._common import median, print_table, write_json

__all__ = ["load_dataset", "run_quality", "score_rankings"]

KS = (2, 5, 10)
#: The repository sits beside ``shared/``; from a checkout this finds the HotpotQA set.
DEFAULT_DATA = str(Path(__file__).resolve().parents[3] / "shared" / "data" / "hotpotqa-100")
LEVELS = ("LITE", "FAST", "FULL", "RESEARCH")


def load_dataset(data_dir: str | Path) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    data_dir = Path(data_dir)
    corpus = [json.loads(line) for line in (data_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [json.loads(line) for line in (data_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    titles = [p["title"] for p in corpus]
    if len(set(titles)) != len(titles):
        raise SystemExit(f"{data_dir}/corpus.jsonl: titles must be unique")
    return corpus, questions


def score_rankings(rankings: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in KS:
        fractions = [len(set(r[:k]) & set(g)) / len(set(g)) for r, g in zip(rankings, gold) if g]
        out[f"recall@{k}"] = sum(fractions) / len(fractions) if fractions else 0.0
    complete = [set(g) <= set(r[:5]) for r, g in zip(rankings, gold) if g]
    out["all@5"] = sum(complete) / len(complete) if complete else 0.0
    return out


async def _timed(questions: Sequence[dict[str, Any]], rank: Callable[[str], Awaitable[list[str]]]) -> tuple[list[list[str]], list[float]]:
    rankings, times = [], []
    for q in questions:
        started = time.perf_counter()
        rankings.append(list(dict.fromkeys(await rank(q["question"]))))  # chunks of one passage count once
        times.append((time.perf_counter() - started) * 1000.0)
    return rankings, times


async def run_quality(
    data_dir: str | Path,
    *,
    backend: str = "embedded",
    levels: Sequence[str] = LEVELS,
    loom_factory: Callable[[Path], Any] | None = None,
    through_weave: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Ingest the corpus into a fresh store and score every method; returns the JSON payload."""
    import bm25s

    from HoloLoom import Document, HoloLoom, Settings

    corpus, questions = load_dataset(data_dir)
    gold = [q.get("supporting_titles") or [] for q in questions]
    say = progress or (lambda _m: None)
    methods: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="hololoom-quality-") as tmp:
        home = Path(tmp)
        # Fixed routing: every question takes each level's own plan (learned routing has its own benchmark).
        loom = loom_factory(home) if loom_factory else HoloLoom(settings=Settings.from_env(home=home, backend=backend, routing="fixed"))
        async with loom:
            say(f"ingesting {len(corpus)} passages into the {backend} store")
            started = time.perf_counter()
            docs = [Document(text=p["text"], title=p["title"]) for p in corpus]
            result = await loom.add(docs, namespace="bench")
            ingest_s = time.perf_counter() - started
            say(f"ingested {len(result.ids)} shards in {ingest_s:.1f}s")
            # Long passages are chunked, so map every shard (chunk) back to its passage title.
            title_of = {s.id: s.metadata["title"] for s in await loom.store.get(result.ids, namespace="bench")}
            await loom.recall("warm up", complexity="LITE", namespace="bench")

            from HoloLoom.types import SearchFilter

            flt = SearchFilter(namespace="bench")

            async def dense(text: str) -> list[str]:
                vec = (await loom.embedder.embed([text]))[0]
                return [title_of[h.id] for h in await loom.store.vector_search(vec, flt, limit=10)]

            say("dense")
            rankings, times = await _timed(questions, dense)
            methods["dense"] = {**score_rankings(rankings, gold), "p50_ms": median(times)}

            say("bm25")
            titles = [p["title"] for p in corpus]
            retriever = bm25s.BM25()
            retriever.index(bm25s.tokenize([f"{p['title']} {p['text']}" for p in corpus], stopwords="en", show_progress=False), show_progress=False)

            async def bm25(text: str) -> list[str]:
                docs_idx, _ = retriever.retrieve(bm25s.tokenize([text], stopwords="en", show_progress=False), k=10, show_progress=False)
                return [titles[i] for i in docs_idx[0]]

            rankings, times = await _timed(questions, bm25)
            methods["bm25"] = {**score_rankings(rankings, gold), "p50_ms": median(times)}

            budget_cuts: dict[str, int] = {}
            for level in levels:
                say(level)
                if through_weave:
                    async def ranked(text: str, level: str = level) -> list[str]:
                        st = await loom.weave(text, complexity=level, namespace="bench", tool="search", limit=10)
                        if st.degraded:
                            budget_cuts[level] = budget_cuts.get(level, 0) + 1
                        return [title_of[c.shard.id] for c in st.context]
                else:
                    async def ranked(text: str, level: str = level) -> list[str]:
                        hits = await loom.recall(text, complexity=level, namespace="bench", limit=10)
                        return [title_of[h.shard.id] for h in hits]

                rankings, times = await _timed(questions, ranked)
                methods[level] = {**score_rankings(rankings, gold), "p50_ms": median(times)}
            payload: dict[str, Any] = {
                "dataset": Path(data_dir).name,
                "questions": len(questions),
                "passages": len(corpus),
                "backend": backend,
                "ingest_s": round(ingest_s, 3),
                "methods": methods,
            }
            if through_weave:
                payload["budget_cuts"] = {level: budget_cuts.get(level, 0) for level in levels}
            return payload


def run_and_report(data: str | Path, *, backend: str = "embedded", json_path: str | Path | None = None,
                   through_weave: bool = False) -> dict[str, Any]:
    """Run, print the table, write JSON: what the CLI and ``python -m benchmarks.quality`` do."""
    if not (Path(data) / "corpus.jsonl").exists():
        raise SystemExit(f"{data}: no corpus.jsonl here (give --data DIR)")
    payload = asyncio.run(run_quality(data, backend=backend, through_weave=through_weave,
                                      progress=lambda m: print(f"... {m}", flush=True)))
    report(payload)
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--through-weave", action="store_true", help="Rank with weave(tool='search') instead of recall().")
    args = parser.parse_args(argv)
    run_and_report(args.data, backend=args.backend, json_path=args.json_path, through_weave=args.through_weave)
    return 0


def report(payload: dict[str, Any]) -> None:
    print_table(
        f"Retrieval quality: {payload['dataset']} ({payload['questions']} questions, {payload['passages']} passages, {payload['backend']})",
        payload["methods"], ["recall@2", "recall@5", "recall@10", "all@5", "p50_ms"],
    )


if __name__ == "__main__":
    raise SystemExit(main())
