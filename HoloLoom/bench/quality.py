"""Retrieval quality on question data (e.g. ``../shared/data/hotpotqa-100``, ``locomo-dev``).

    python -m benchmarks.quality --data DIR [--json FILE] [--backend embedded] [--feedback gold]
    hololoom bench quality --data DIR [--json FILE]

DIR holds ``corpus.jsonl`` and ``questions.jsonl``. A passage is ``{"text"}`` plus an
optional ``title``, ``id``, ``occurred_at`` and ``metadata`` (all passed to ``add()``); its
key is its ``id`` when present, else its ``title``, and keys are unique. A question is
``{"question", "supporting_titles"}``, where ``supporting_titles`` lists passage keys.

The corpus goes into a fresh store in a temporary directory; every question is then
answered by:

- ``dense``: one vector search on the same store and embedder (the baseline);
- ``bm25``: bm25s over the same passages;
- ``LITE`` .. ``RESEARCH``: the crawler at each level (fixed routing);
- ``default``: what a user gets: ``weave(q, tool="search", limit=10)`` with default
  settings (learned routing, complexity detected, no feedback), state starting empty.

With ``--feedback gold`` the questions are shuffled with a fixed seed; the first half is
woven with the defaults and each weave gets ``feedback(id, reward=its recall@5)``; the
second half is then scored (``held_out``: ``default+gold`` beside every method on the
same questions).

Questions that carry an ``answer`` (HotpotQA) are also asked through ``weave(q)`` with
the default tool: the share of answers containing the expected one (``answers``).

recall@k is the mean fraction of a question's supporting passages in its top k; all@5
the share of questions with every one in the top 5; p50_ms the median time per question
(the query embedding included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ._common import median, print_table, write_json

__all__ = ["load_dataset", "passage_key", "run_quality", "score_rankings"]

KS = (2, 5, 10)
def _find_shared_data(name: str) -> str:
    """``shared/data/NAME`` beside the checkout (or beside any directory above it: worktrees nest)."""
    here = Path(__file__).resolve()
    for parent in here.parents[2:]:
        candidate = parent / "shared" / "data" / name
        if candidate.is_dir():
            return str(candidate)
    return str(here.parents[3] / "shared" / "data" / name)


#: The repository sits beside ``shared/``; from a checkout this finds the HotpotQA set.
DEFAULT_DATA = _find_shared_data("hotpotqa-100")
LEVELS = ("LITE", "FAST", "FULL", "RESEARCH")
FEEDBACK_MODES = ("none", "gold")
#: Seeds the question shuffle of ``--feedback gold`` and the default loom's samplers.
SEED = 20261129


def passage_key(passage: dict[str, Any]) -> str:
    """A passage's key: its ``id`` when it has one (chat turns have no title), else its title."""
    return str(passage["id"]) if passage.get("id") is not None else str(passage["title"])


def load_dataset(data_dir: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    data_dir = Path(data_dir)
    corpus = [json.loads(line) for line in (data_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [json.loads(line) for line in (data_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    keys = [passage_key(p) for p in corpus]
    if len(set(keys)) != len(keys):
        raise SystemExit(f"{data_dir}/corpus.jsonl: passage ids (or titles) must be unique")
    return corpus, questions


def score_rankings(rankings: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in KS:
        fractions = [recall_at(r, g, k) for r, g in zip(rankings, gold) if g]
        out[f"recall@{k}"] = sum(fractions) / len(fractions) if fractions else 0.0
    complete = [set(g) <= set(r[:5]) for r, g in zip(rankings, gold) if g]
    out["all@5"] = sum(complete) / len(complete) if complete else 0.0
    return out


def recall_at(ranking: Sequence[str], gold: Sequence[str], k: int) -> float:
    return len(set(ranking[:k]) & set(gold)) / len(set(gold)) if gold else 0.0


def _documents(corpus: Sequence[dict[str, Any]]) -> list[Any]:
    from HoloLoom import Document

    return [
        Document(text=p["text"], title=p.get("title"), id=p.get("id"), occurred_at=p.get("occurred_at"),
                 metadata=p.get("metadata") or {})
        for p in corpus
    ]


Ranker = Callable[[str], Awaitable[list[str]]]


async def _timed(questions: Sequence[dict[str, Any]], rank: Ranker) -> tuple[list[list[str]], list[float]]:
    rankings, times = [], []
    for q in questions:
        started = time.perf_counter()
        rankings.append(list(dict.fromkeys(await rank(q["question"]))))  # chunks of one passage count once
        times.append((time.perf_counter() - started) * 1000.0)
    return rankings, times


def _baseline_rankers(loom: Any, corpus: Sequence[dict[str, Any]], key_of: dict[str, str], flt: Any
                      ) -> tuple[Ranker, Ranker]:
    """The two baselines every level is compared with: one dense vector search, and BM25 (bm25s)."""
    import bm25s

    async def dense(text: str) -> list[str]:
        vec = (await loom.embedder.embed([text]))[0]
        return [key_of[h.id] for h in await loom.store.vector_search(vec, flt, limit=10)]

    keys = [passage_key(p) for p in corpus]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([f"{p['title']} {p['text']}" if p.get("title") else p["text"] for p in corpus],
                                   stopwords="en", show_progress=False), show_progress=False)

    async def bm25(text: str) -> list[str]:
        docs_idx, _ = retriever.retrieve(bm25s.tokenize([text], stopwords="en", show_progress=False),
                                         k=min(10, len(keys)), show_progress=False)
        return [keys[i] for i in docs_idx[0]]

    return dense, bm25


def _level_ranker(loom: Any, level: str, key_of: dict[str, str], budget_cuts: dict[str, int] | None) -> Ranker:
    """One level's ranking: its crawl (``recall``), or with ``budget_cuts`` the whole weave (``tool="search"``)."""
    if budget_cuts is not None:
        async def woven(text: str) -> list[str]:
            st = await loom.weave(text, complexity=level, namespace="bench", tool="search", limit=10)
            if st.degraded:
                budget_cuts[level] = budget_cuts.get(level, 0) + 1
            return [key_of[c.shard.id] for c in st.context]

        return woven

    async def recalled(text: str) -> list[str]:
        hits = await loom.recall(text, complexity=level, namespace="bench", limit=10)
        return [key_of[h.shard.id] for h in hits]

    return recalled


async def run_quality(
    data_dir: str | Path,
    *,
    backend: str = "embedded",
    levels: Sequence[str] = LEVELS,
    loom_factory: Callable[[Path], Any] | None = None,
    through_weave: bool = False,
    default_row: bool = True,
    feedback: str = "none",
    progress: Callable[[str], None] | None = None,
    vector_search: str = "auto",
) -> dict[str, Any]:
    """Ingest the corpus into a fresh store and score every method; returns the JSON payload.

    ``vector_search="ann"`` forces the embedded store's HNSW path at any size (the default
    uses it above 20,000 memories), to show it changes no ranking.
    """
    from HoloLoom import HoloLoom, Settings
    from HoloLoom.types import SearchFilter

    if feedback not in FEEDBACK_MODES:
        raise SystemExit(f"--feedback must be one of {', '.join(FEEDBACK_MODES)}")
    corpus, questions = load_dataset(data_dir)
    by_id = any(p.get("id") is not None for p in corpus)
    gold = [q.get("supporting_titles") or [] for q in questions]
    say = progress or (lambda _m: None)
    methods: dict[str, dict[str, float]] = {}
    rankings_of: dict[str, list[list[str]]] = {}
    payload: dict[str, Any] = {"dataset": Path(data_dir).name, "questions": len(questions), "passages": len(corpus),
                               "backend": backend, "vector_search": vector_search}
    with tempfile.TemporaryDirectory(prefix="hololoom-quality-") as tmp:
        home = Path(tmp)
        # Fixed routing: every question takes each level's own plan (the default row below
        # measures what learned routing does with it).
        loom = loom_factory(home) if loom_factory else HoloLoom(settings=Settings.from_env(home=home, backend=backend, routing="fixed",
                                                                                                   vector_search=vector_search))
        async with loom:
            say(f"ingesting {len(corpus)} passages into the {backend} store")
            started = time.perf_counter()
            result = await loom.add(_documents(corpus), namespace="bench")
            payload["ingest_s"] = round(time.perf_counter() - started, 3)
            say(f"ingested {len(result.ids)} shards in {payload['ingest_s']:.1f}s")
            # Long passages are chunked: map every shard (chunk) back to its passage key.
            key_of = {
                s.id: (str(s.metadata.get("document_id", s.id)) if by_id else s.metadata["title"])
                for s in await loom.store.get(list(dict.fromkeys(result.ids)), namespace="bench")
            }
            await loom.recall("warm up", complexity="LITE", namespace="bench")
            flt = SearchFilter(namespace="bench")

            async def score(name: str, rank: Ranker) -> None:
                say(name)
                rankings, times = await _timed(questions, rank)
                rankings_of[name] = rankings
                methods[name] = {**score_rankings(rankings, gold), "p50_ms": median(times)}

            dense, bm25 = _baseline_rankers(loom, corpus, key_of, flt)
            await score("dense", dense)
            await score("bm25", bm25)

            budget_cuts: dict[str, int] = {}
            for level in levels:
                await score(level, _level_ranker(loom, level, key_of, budget_cuts if through_weave else None))
            if through_weave:
                payload["budget_cuts"] = {level: budget_cuts.get(level, 0) for level in levels}
        if default_row and loom_factory is None:
            payload.update(await _default_rows(home, backend, vector_search, questions, gold, key_of, methods, rankings_of,
                                               feedback=feedback, say=say))
    payload["methods"] = methods
    return payload


async def _default_rows(
    home: Path, backend: str, vector_search: str, questions: Sequence[dict[str, Any]], gold: Sequence[Sequence[str]],
    key_of: dict[str, str], methods: dict[str, dict[str, float]], rankings_of: dict[str, list[list[str]]],
    *, feedback: str, say: Callable[[str], None],
) -> dict[str, Any]:
    """The user's path: a loom with default settings over the same store, learning from nothing."""
    from HoloLoom import HoloLoom, Settings

    out: dict[str, Any] = {}

    def fresh_loom() -> Any:
        for learned in ("state", "routing"):  # what the fixed-routing runs left behind
            shutil.rmtree(home / learned, ignore_errors=True)
        return HoloLoom(settings=Settings(home=home, backend=backend, seed=SEED, vector_search=vector_search))

    degraded = 0
    levels: dict[str, int] = {}

    async def weave_ranked(loom: Any, text: str) -> tuple[str, list[str]]:
        nonlocal degraded
        st = await loom.weave(text, namespace="bench", tool="search", limit=10)
        degraded += bool(st.degraded)
        levels[st.complexity.value] = levels.get(st.complexity.value, 0) + 1
        return st.id, [key_of[c.shard.id] for c in st.context]

    async with fresh_loom() as loom:
        async def default(text: str) -> list[str]:
            return (await weave_ranked(loom, text))[1]

        say("default")
        rankings, times = await _timed(questions, default)
        rankings_of["default"] = rankings
        methods["default"] = {**score_rankings(rankings, gold), "p50_ms": median(times)}
        out["default_degraded"] = degraded
        out["default_levels"] = dict(sorted(levels.items()))
        out["default_arms"] = _arm_counts(loom)
        if any(q.get("answer") for q in questions):
            say("answers")
            out["answers"] = await _answer_row(loom, questions)
    if feedback == "gold":
        order = list(range(len(questions)))
        random.Random(SEED).shuffle(order)
        train, test = order[: len(order) // 2], order[len(order) // 2:]
        async with fresh_loom() as loom:
            say(f"default+gold: feedback on {len(train)} questions")
            for i in train:
                weave_id, ranking = await weave_ranked(loom, questions[i]["question"])
                await loom.feedback(weave_id, reward=recall_at(list(dict.fromkeys(ranking)), gold[i], 5))
            say(f"default+gold: scoring {len(test)} held-out questions")
            rankings, times = await _timed([questions[i] for i in test], lambda t: _second(weave_ranked(loom, t)))
            held_out = {name: score_rankings([r[i] for i in test], [gold[i] for i in test])
                        for name, r in rankings_of.items()}
            held_out["default+gold"] = {**score_rankings(rankings, [gold[i] for i in test]), "p50_ms": median(times)}
            out["held_out"] = {"questions": len(test), "seed": SEED, "methods": held_out}
            out["gold_arms"] = _arm_counts(loom)
    return out


async def _answer_row(loom: Any, questions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What ``weave(q)`` answers, as a user calls it (default tool), on questions that carry an ``answer``.

    ``contains_answer`` is the share of answers whose words include the expected answer's
    (lower case, punctuation ignored); yes/no questions are left out, since an extractive
    answer quotes memory and never says "yes". ``not_found`` is the share answered "I
    found nothing"; ``sentences`` the mean number of cited sentences in a found answer;
    ``tool_p50_ms`` the answer tool's median time (its stage in the trace).
    """
    def words(text: str) -> str:
        return " " + " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split()) + " "

    asked = [q for q in questions if q.get("answer") and words(q["answer"]).strip() not in ("yes", "no")]
    contains = not_found = sentences = 0
    tool_ms: list[float] = []
    for q in asked:
        st = await loom.weave(q["question"], namespace="bench")
        tool_ms.append(st.timings.get("execute", 0.0))
        if not st.tool_output.get("found", True):
            not_found += 1
            continue
        contains += words(q["answer"]) in words(st.response)
        sentences += len(st.tool_output.get("sentences", ()))
    found = len(asked) - not_found
    return {"questions": len(asked), "contains_answer": round(contains / max(1, len(asked)), 4),
            "not_found": round(not_found / max(1, len(asked)), 4), "sentences": round(sentences / max(1, found), 2),
            "tool_p50_ms": round(median(tool_ms), 2) if tool_ms else 0.0}


async def _second(pair: Awaitable[tuple[str, list[str]]]) -> list[str]:
    return (await pair)[1]


def _arm_counts(loom: Any) -> dict[str, int]:
    """Which arms the router served, read from the weave log the loom keeps."""
    counts: dict[str, int] = {}
    log = loom.settings.home / "state" / "weaves.jsonl"
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                arm = str(json.loads(line).get("routing", {}).get("arm"))
            except (ValueError, AttributeError):
                continue
            counts[arm] = counts.get(arm, 0) + 1
    return counts


def run_and_report(data: str | Path, *, backend: str = "embedded", json_path: str | Path | None = None,
                   through_weave: bool = False, feedback: str = "none", vector_search: str = "auto") -> dict[str, Any]:
    """Run, print the table, write JSON: what the CLI and ``python -m benchmarks.quality`` do."""
    if not (Path(data) / "corpus.jsonl").exists():
        raise SystemExit(f"{data}: no corpus.jsonl here (give --data DIR)")
    payload = asyncio.run(run_quality(data, backend=backend, through_weave=through_weave, feedback=feedback,
                                      vector_search=vector_search, progress=lambda m: print(f"... {m}", flush=True)))
    report(payload)
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--through-weave", action="store_true", help="Rank the levels with weave(tool='search') instead of recall().")
    parser.add_argument("--feedback", choices=FEEDBACK_MODES, default="none",
                        help="gold: feedback (recall@5) on half the questions, score the other half.")
    parser.add_argument("--vector-search", choices=("auto", "exact", "ann"), default="auto",
                        help="ann: force the embedded store's HNSW path at any size.")
    args = parser.parse_args(argv)
    run_and_report(args.data, backend=args.backend, json_path=args.json_path, through_weave=args.through_weave,
                   feedback=args.feedback, vector_search=args.vector_search)
    return 0


def report(payload: dict[str, Any]) -> None:
    columns = ["recall@2", "recall@5", "recall@10", "all@5", "p50_ms"]
    print_table(
        f"Retrieval quality: {payload['dataset']} ({payload['questions']} questions, {payload['passages']} passages, {payload['backend']})",
        payload["methods"], columns,
    )
    if "answers" in payload:
        a = payload["answers"]
        print(f"default weave's answers ({a['questions']} questions with a non-yes/no answer): "
              f"{a['contains_answer']:.3f} contain the expected answer, {a['not_found']:.3f} not found, "
              f"{a['sentences']:.2f} sentences a found answer, tool p50 {a['tool_p50_ms']:.1f} ms")
    if "held_out" in payload:
        held = payload["held_out"]
        print_table(f"Held-out half ({held['questions']} questions) after gold feedback on the other half",
                    held["methods"], columns)


if __name__ == "__main__":
    raise SystemExit(main())
