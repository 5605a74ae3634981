"""Stage 6 (Warp Space): dedup the crawl's items and rerank them for diversity.

Dedup by id and by near-identical text, then a diversity-aware rerank that only pushes
down items that mostly repeat a better one, so the crawl's ranking is kept wherever
items say different things.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..extraction import tokenize
from ..types import ScoredShard

__all__ = ["fuse"]


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
