"""The crawler gives the same answers on every backend (qdrant-client's congruence idea).

Same corpus, same embedder, same questions: each backend's ranking at every complexity
level is compared with the embedded default's. Vector similarity and the graph are
identical by contract; lexical scores come from each engine's own BM25 (SQLite FTS5,
Lucene, Qdrant sparse vectors), so composite scores differ slightly; the rankings
(top 5, in order) must not.
"""

from __future__ import annotations

import pytest

from HoloLoom import Document, HoloLoom, Settings

from ..conftest import CORPUS
from .conftest import Backend

QUESTIONS = [
    "Where was the horror film directed by Stephen King filmed?",
    "Which university did the English Franciscan scholar lecture at?",
    "What is the demon algorithm used for?",
    "Which county is the town where Maximum Overdrive was shot in?",
]
LEVELS = ("LITE", "FAST", "FULL", "RESEARCH")


async def _rankings(loom: HoloLoom) -> dict[tuple[str, str], list[str]]:
    await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS], namespace="congruence")
    out = {}
    for level in LEVELS:
        for q in QUESTIONS:
            hits = await loom.recall(q, complexity=level, namespace="congruence", limit=5)
            out[(level, q)] = [h.shard.metadata["title"] for h in hits]
    return out


@pytest.fixture(scope="module")
def reference() -> dict:
    return {}


async def test_crawl_matches_the_embedded_default(backend: Backend, embedder, tmp_path, reference) -> None:
    if "embedded" not in reference:
        async with HoloLoom(settings=Settings(home=tmp_path / "reference"), embedder=embedder) as loom:
            reference["embedded"] = await _rankings(loom)
    expected = reference["embedded"]
    async with HoloLoom(settings=Settings(home=tmp_path / "home"), store=backend.make(), embedder=embedder) as loom:
        got = await _rankings(loom)
    for key, titles in expected.items():
        assert got[key] == titles, (key, got[key], titles)
