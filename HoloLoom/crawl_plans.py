"""Crawl plans: how hard to crawl at each complexity level, and the weights of the score.

Named presets, one per level (:data:`DEFAULT_PLANS`), each a frozen dataclass, so a
caller can derive a variant with ``dataclasses.replace`` and pass it to
:meth:`HoloLoom.crawl` or :class:`~HoloLoom.crawl.MultipassCrawler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .types import Complexity

__all__ = ["CrawlPlan", "CrawlWeights", "DEFAULT_PLANS", "PassSpec"]


@dataclass(frozen=True, slots=True)
class PassSpec:
    """One crawl pass.

    Attributes:
        limit: how many items survive the pass (the rest are dropped).
        threshold: items whose composite score is below this are dropped.
        beam: how many of the best items the *next* pass expands from.
    """

    limit: int
    threshold: float
    beam: int = 4


@dataclass(frozen=True, slots=True)
class CrawlWeights:
    """Weights of the composite score; see :mod:`HoloLoom.crawl_scoring`.

    ``named`` is the least ``graph`` of a shard about an entity the query names;
    ``reply`` and ``thread`` weigh links between a turn and the turn it answers, and
    between turns of one session (0: not followed in expansion passes; replies still
    join in pass 1 and count through ``pair`` and ``lexical``); ``dated`` and ``window``
    are the time term.
    """

    sim: float = 1.0
    lexical: float = 0.35
    graph: float = 1.0
    pair: float = 0.6
    paths: float = 0.0
    recency: float = 0.02
    recency_half_life_days: float = 365.0
    named: float = 0.2
    reply: float = 0.0
    thread: float = 0.0
    dated: float = 0.2
    window: float = 0.3


@dataclass(frozen=True, slots=True)
class CrawlPlan:
    """How hard to crawl at one complexity level.

    ``replies``: pass 1 brings each seed's reply neighbours; ``focus``: a query naming a
    participant is embedded again without the name (one more query embedding).
    """

    complexity: Complexity
    passes: tuple[PassSpec, ...]
    seed_limit: int = 20
    lexical: bool = True
    query_entities: bool = True
    vector_expansion: int = 5
    max_degree: int = 48
    replies: bool = True
    focus: bool = True
    weights: CrawlWeights = field(default_factory=CrawlWeights)


# Tuned on hotpotqa-100 by level (never per question); see benchmarks/quality.py.
DEFAULT_PLANS: Mapping[Complexity, CrawlPlan] = {
    # One pass: fused dense + lexical seeds, and shards about entities the query names.
    Complexity.LITE: CrawlPlan(Complexity.LITE, (PassSpec(limit=10, threshold=0.1),), seed_limit=10),
    # Later passes expand from fewer, better items: a wide beam deep in the crawl mostly adds noise.
    Complexity.FAST: CrawlPlan(Complexity.FAST, (PassSpec(limit=20, threshold=0.1, beam=3),
                                                 PassSpec(limit=10, threshold=0.1)), seed_limit=15),
    Complexity.FULL: CrawlPlan(Complexity.FULL, (PassSpec(limit=25, threshold=0.1, beam=3),
                                                 PassSpec(limit=20, threshold=0.1, beam=2),
                                                 PassSpec(limit=10, threshold=0.1)), seed_limit=20),
    Complexity.RESEARCH: CrawlPlan(Complexity.RESEARCH, (PassSpec(limit=30, threshold=0.1, beam=3),
                                                         PassSpec(limit=25, threshold=0.1, beam=2),
                                                         PassSpec(limit=20, threshold=0.1, beam=2),
                                                         PassSpec(limit=10, threshold=0.1)), seed_limit=30),
}
