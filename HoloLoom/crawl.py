"""Multipass crawling: vector and lexical seeds, then hops through the entity graph.

One crawl answers one question, in passes:

1. **Seed.** Nearest shards by vector, best BM25 matches, and shards about the
   entities the question names. Dense and lexical evidence are fused, so a level never
   does worse than the better of the two on data where graph hops do not help.
2. **Expand (passes 2+).** From the best items so far ("the beam"), follow the graph —
   shards about an entity a beam item mentions (the bridge of a two-hop question),
   shards sharing a rare entity with it — and follow its own vector (nearest shards to
   the query moved toward that item).
3. **Rescore** everything found so far with one composite score and apply the pass's
   threshold and limit.

The composite score (all terms in [0, 1], weights in :class:`CrawlWeights`):

    score = sim * w_sim + lexical * w_lex + graph * w_graph + pair * w_pair
            + log1p(paths - 1) * w_paths + recency * w_recency

- ``sim``: cosine similarity of the shard to the query;
- ``lexical``: its BM25 score relative to the best BM25 score of the query;
- ``graph``: how strongly a well-scored item links to it (parent score x link weight,
  where rare entities weigh more than hubs and "about" links more than shared mentions);
- ``pair``: how well the shard *together with* the item that led to it covers the query
  (cosine of the query with their mean vector), which is what a two-hop answer needs;
- ``paths``: how many distinct routes reached it;
- ``recency``: newer memories score a little higher (half-life configurable).

Every returned :class:`~HoloLoom.types.ScoredShard` records the pass that first found it,
every path that reached it and the parts of its score.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .embedding import Embedder
from .extraction import EntityExtractor, RuleBasedExtractor, entity_key
from .memory.base import Link, MemoryStore
from .types import Complexity, MemoryShard, ScoredShard, SearchFilter

__all__ = [
    "CrawlPlan",
    "CrawlResult",
    "CrawlWeights",
    "DEFAULT_PLANS",
    "MultipassCrawler",
    "PassReport",
    "PassSpec",
]


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
    """Weights of the composite score; see the module docstring."""

    sim: float = 1.0
    lexical: float = 0.35
    graph: float = 1.0
    pair: float = 0.6
    paths: float = 0.05
    recency: float = 0.02
    recency_half_life_days: float = 365.0


@dataclass(frozen=True, slots=True)
class CrawlPlan:
    """How hard to crawl at one complexity level."""

    complexity: Complexity
    passes: tuple[PassSpec, ...]
    seed_limit: int = 20
    lexical: bool = True
    query_entities: bool = True
    vector_expansion: int = 5
    max_degree: int = 48
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


@dataclass(slots=True)
class _Candidate:
    id: str
    found_in_pass: int
    paths: set[str] = field(default_factory=set)
    sim: float = 0.0
    lexical: float = 0.0
    graph: float = 0.0
    pair: float = 0.0
    recency: float = 0.0
    score: float = 0.0
    parents: dict[str, float] = field(default_factory=dict)  # beam items that led here

    def remember_parent(self, parent_id: str, strength: float) -> None:
        self.parents[parent_id] = max(self.parents.get(parent_id, 0.0), strength)


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did, for traces and dashboards."""

    number: int
    new: int
    kept: int
    dropped_by_threshold: int
    elapsed_ms: float
    paths: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CrawlResult:
    items: list[ScoredShard]
    passes: list[PassReport]
    stopped_early: bool = False


_LINK_WEIGHT = {
    ("mentions", "about"): 1.0,   # the item names an entity this shard is about: a bridge
    ("about", "mentions"): 0.7,   # this shard names what the item is about
    ("mentions", "mentions"): 0.5,  # both mention the same entity
    ("about", "about"): 0.6,      # two shards about the same thing
    ("query", "about"): 1.0,      # the query names what this shard is about
    ("query", "mentions"): 0.4,
}


def _link_weight(link: Link) -> float:
    base = _LINK_WEIGHT.get((link.source_relation, link.target_relation), 0.3)
    # Rare entities carry specific connections; hubs ("American") carry little.
    return base / math.log2(1.0 + max(1, link.degree))


class MultipassCrawler:
    """Retrieval over any MemoryStore, in as many passes as the complexity level asks.

    Args:
        store: where memories live.
        embedder: embeds the query when no vector is given.
        extractor: finds the query's entities.
        plans: per-level plans; defaults to :data:`DEFAULT_PLANS`.
        clock: seconds clock for deadlines and timings (inject one in tests).
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        extractor: EntityExtractor | None = None,
        plans: Mapping[Complexity, CrawlPlan] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.extractor = extractor or RuleBasedExtractor()
        self.plans = dict(plans or DEFAULT_PLANS)
        self.clock = clock

    def plan_for(self, complexity: Complexity | str) -> CrawlPlan:
        return self.plans[Complexity.parse(complexity)]

    async def crawl(
        self,
        query: str,
        flt: SearchFilter,
        *,
        complexity: Complexity | str = Complexity.FAST,
        limit: int | None = None,
        query_vector: np.ndarray | None = None,
        deadline: float | None = None,
        plan: CrawlPlan | None = None,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> CrawlResult:
        """Crawl for ``query``; returns ranked items with provenance.

        Args:
            deadline: a ``clock()`` value after which no further pass starts
                (the result says ``stopped_early``).
        """
        plan = plan or self.plan_for(complexity)
        if query_vector is None:
            query_vector = (await self.embedder.embed([query]))[0]
        qvec = np.asarray(query_vector, dtype=np.float32)
        cands: dict[str, _Candidate] = {}
        vectors: dict[str, np.ndarray] = {}
        shards: dict[str, MemoryShard] = {}
        reports: list[PassReport] = []
        stopped_early = False
        best_lexical = 0.0

        def touch(cid: str, number: int, path: str) -> tuple[_Candidate, bool]:
            cand = cands.get(cid)
            created = cand is None
            if created:
                cand = cands[cid] = _Candidate(cid, number)
            cand.paths.add(path)
            return cand, created

        survivors: list[_Candidate] = []
        for number, spec in enumerate(plan.passes, start=1):
            if number > 1 and deadline is not None and self.clock() >= deadline:
                stopped_early = True
                break
            started = self.clock()
            before = set(cands)
            path_counts: dict[str, int] = {}
            if number == 1:
                hits = await self.store.vector_search(qvec, flt, limit=plan.seed_limit)
                for h in hits:
                    touch(h.id, 1, "vector")[0].sim = h.score
                if plan.lexical:
                    lex = await self.store.keyword_search(query, flt, limit=plan.seed_limit)
                    best_lexical = max((h.score for h in lex), default=0.0)
                    for h in lex:
                        touch(h.id, 1, "lexical")[0].lexical = h.score / best_lexical if best_lexical > 0 else 0.0
                if plan.query_entities:
                    keys = [entity_key(e) for e in self.extractor.entities(query)]
                    links = await self.store.entity_lookup([k for k in keys if k], flt, max_degree=plan.max_degree)
                    for link in links:
                        cand, _ = touch(link.target, 1, f"entity:{link.entity}")
                        cand.graph = max(cand.graph, _link_weight(link))
            else:
                beam = sorted(survivors, key=lambda c: c.score, reverse=True)[: plan.passes[number - 2].beam]
                beam_ids = [c.id for c in beam]
                parent_score = {c.id: c.score for c in beam}
                links = await self.store.neighbors(beam_ids, flt, max_degree=plan.max_degree)
                top_parent = max(parent_score.values(), default=1.0) or 1.0
                for link in links:
                    cand, _ = touch(link.target, number, f"{link.source_relation}-{link.target_relation}:{link.entity}<-{link.source}")
                    strength = _link_weight(link) * parent_score[link.source] / top_parent
                    cand.graph = max(cand.graph, strength)
                    cand.remember_parent(link.source, strength)
                if plan.vector_expansion:
                    parents = [p for p in beam[:3] if p.id in vectors]
                    moved = [qvec + vectors[p.id] for p in parents]
                    moved = [m / (np.linalg.norm(m) or 1.0) for m in moved]
                    many = getattr(self.store, "vector_search_many", None)
                    if many is not None:  # one scan for all the beam's directions
                        hit_lists = await many(moved, flt, limit=plan.vector_expansion) if moved else []
                    else:
                        hit_lists = [await self.store.vector_search(m, flt, limit=plan.vector_expansion) for m in moved]
                    for parent, hits in zip(parents, hit_lists):
                        for h in hits:
                            cand, _ = touch(h.id, number, f"vector-neighbour<-{parent.id}")
                            cand.remember_parent(parent.id, 0.0)
            # Fetch what scoring needs for anything new, then rescore everything.
            missing = [cid for cid in cands if cid not in vectors]
            if missing:
                vectors.update(await self.store.get_vectors(missing, namespace=flt.namespace))
            for cid in [c for c in cands if c not in vectors]:
                del cands[cid]  # vanished between search and fetch (deleted meanwhile)
            if any(cid not in shards for cid in cands):
                need = [cid for cid in cands if cid not in shards]
                shards.update({s.id: s for s in await self.store.get(need, namespace=flt.namespace)})
            self._score(qvec, cands, vectors, shards, plan.weights)
            ranked = sorted(cands.values(), key=lambda c: (-c.score, c.id))
            passing = [c for c in ranked if c.score >= spec.threshold]
            survivors = passing[: spec.limit]
            new = set(cands) - before
            for c in cands.values():
                if c.id in new:
                    for p in c.paths:
                        kind = p.split(":", 1)[0].split("<-", 1)[0]
                        path_counts[kind] = path_counts.get(kind, 0) + 1
            report = PassReport(
                number=number, new=len(new), kept=len(survivors),
                dropped_by_threshold=len(ranked) - len(passing),
                elapsed_ms=(self.clock() - started) * 1000.0, paths=path_counts,
            )
            reports.append(report)
            if on_pass is not None:
                on_pass(report)
            # Only survivors go on: what a pass drops is not rescued by a later one.
            cands = {c.id: c for c in survivors}
        final = survivors[: limit] if limit is not None else survivors
        items = [
            ScoredShard(
                shard=shards[c.id], score=round(c.score, 6), found_in_pass=c.found_in_pass,
                paths=tuple(sorted(c.paths)),
                score_parts={"sim": round(c.sim, 6), "lexical": round(c.lexical, 6), "graph": round(c.graph, 6),
                             "pair": round(c.pair, 6), "paths": float(len(c.paths)), "recency": round(c.recency, 6)},
            )
            for c in final
            if c.id in shards
        ]
        return CrawlResult(items=items, passes=reports, stopped_early=stopped_early)

    def _score(
        self, qvec: np.ndarray, cands: dict[str, _Candidate], vectors: dict[str, np.ndarray],
        shards: dict[str, MemoryShard], w: CrawlWeights,
    ) -> None:
        if not cands:
            return
        ids = list(cands)
        matrix = np.stack([vectors[i] for i in ids])
        sims = matrix @ qvec
        newest = max((shards[i].occurred_at for i in ids if i in shards), default=0.0)
        half_life = w.recency_half_life_days * 86400.0
        for i, cid in enumerate(ids):
            c = cands[cid]
            c.sim = float(sims[i])
            pair = 0.0
            for parent_id in c.parents:
                pvec = vectors.get(parent_id)
                if pvec is None:
                    continue
                mean = pvec + vectors[cid]
                pair = max(pair, float(mean @ qvec) / (float(np.linalg.norm(mean)) or 1.0))
            c.pair = pair
            age = newest - shards[cid].occurred_at if cid in shards else 0.0
            c.recency = 0.5 ** (age / half_life) if half_life > 0 else 0.0
            c.score = (
                w.sim * c.sim + w.lexical * c.lexical + w.graph * c.graph
                + w.pair * max(0.0, c.pair - c.sim)
                + w.paths * math.log1p(len(c.paths) - 1) + w.recency * c.recency
            )
