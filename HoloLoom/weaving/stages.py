"""The small, separately testable pieces behind stages 4 and 6.

Stage 4 (Resonance Shed) turns the query into features: its embedding at the pattern
card's Matryoshka scales, its keywords (motifs), its entities and its intent. Stage 6
(Warp Space) fuses the crawl's items: dedup by id and by near-identical text, then a
diversity-aware rerank that only pushes down items that mostly repeat a better one, so
the crawl's ranking is kept wherever items say different things.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..embedding import Embedder, matryoshka
from ..extraction import EntityExtractor, tokenize
from ..types import ScoredShard
from .query_types import intent_of

__all__ = ["QueryFeatures", "extract_features", "fuse"]


@dataclass(frozen=True, slots=True)
class QueryFeatures:
    vector: np.ndarray
    scales: dict[int, np.ndarray] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    intent: str = "answer"

    def summary(self) -> dict[str, object]:
        return {"scales": sorted(self.scales), "keywords": list(self.keywords), "entities": list(self.entities),
                "intent": self.intent}


async def extract_features(query: str, embedder: Embedder, extractor: EntityExtractor, scales: Sequence[int]) -> QueryFeatures:
    """Embed once at full size; the coarser scales are truncations (Matryoshka)."""
    vector = (await embedder.embed([query]))[0]
    by_scale = {s: (vector if s >= len(vector) else matryoshka(vector, s)) for s in scales}
    return QueryFeatures(
        vector=vector, scales=by_scale, keywords=tuple(extractor.motifs(query)),
        entities=tuple(extractor.entities(query)), intent=intent_of(query),
    )


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def fuse(items: Sequence[ScoredShard], *, limit: int, redundancy: float = 0.6, penalty: float = 0.5) -> tuple[list[ScoredShard], dict[str, int]]:
    """Dedup and diversity-rerank; returns the items and what was done.

    An item whose words overlap a better item's by more than ``redundancy`` (Jaccard) has
    ``penalty`` x overlap taken off its score before the final sort.
    """
    seen: set[str] = set()
    unique: list[ScoredShard] = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    bags = [set(tokenize(i.shard.text)) for i in unique]
    adjusted: list[tuple[float, int]] = []
    demoted = duplicates = 0
    for n, item in enumerate(unique):
        overlap = max((_jaccard(bags[n], bags[m]) for m in range(n)), default=0.0)
        score = item.score
        if overlap >= 0.95 and item.shard.text.strip() == unique[n - 1].shard.text.strip():
            duplicates += 1
            continue
        if overlap > redundancy:
            score -= penalty * overlap
            demoted += 1
        adjusted.append((score, n))
    adjusted.sort(key=lambda t: (-t[0], t[1]))
    fused = [unique[n] for _, n in adjusted[:limit]]
    return fused, {"in": len(items), "unique": len(unique), "demoted": demoted, "duplicates": duplicates, "out": len(fused)}
