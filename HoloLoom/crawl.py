"""Multipass crawling: vector and lexical seeds, then hops through the entity graph.

One crawl answers one question, in passes:

1. **Seed.** Nearest shards by vector, best BM25 matches, and shards about the
   entities the question names. Dense and lexical evidence are fused, so a level never
   does worse than the better of the two on data where graph hops do not help. Then
   two steps for conversations (see :mod:`HoloLoom.threads`):

   - *focus*: when the question names a participant (an entity memories are about other
     than their title: a speaker), the name is matched structurally (``named`` below),
     and the query is embedded again without it, so the vector measures what was said
     rather than who said it; the nearest shards to that focus vector join the seeds;
   - *replies*: each seed brings the turn it answers and the turns that answer it
     (reply links), because in a conversation the answer to "how often does John work
     out?" is "Three times a week", which only makes sense after the question before it.
2. **Expand (passes 2+).** From the best items so far ("the beam"), follow the graph —
   shards about an entity a beam item mentions (the bridge of a two-hop question),
   shards sharing a rare entity with it — and follow its own vector (nearest shards to
   the query moved toward that item). Reply and session links are weighed apart from
   entity links (``reply``, ``thread``); a kind of link whose weight is 0 is not followed.
3. **Rescore** everything found so far with one composite score and apply the pass's
   threshold and limit.

The composite score that ranks what was found is described in
:mod:`HoloLoom.crawl_scoring`. Every returned :class:`~HoloLoom.types.ScoredShard` records the pass that first found it,
every path that reached it and the parts of its score.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .crawl_plans import DEFAULT_PLANS, CrawlPlan, CrawlWeights, PassSpec
from .crawl_scoring import Candidate, CrawlState, link_weight, score_all, scored_shard
from .embedding import Embedder
from .event_dates import asks_when, query_period
from .extraction import EntityExtractor, RuleBasedExtractor, about_keys, entity_key
from .memory.base import Hit, MemoryStore
from .threads import THREAD, turn_key
from .types import Complexity, ScoredShard, SearchFilter

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


def _strip_names(query: str, names: Sequence[str]) -> str:
    """The query without the given names (and their possessive 's)."""
    for name in sorted(names, key=len, reverse=True):
        query = re.sub(rf"(?<!\w){re.escape(name)}(?:['’]s)?(?!\w)", " ", query, flags=re.IGNORECASE)
    return " ".join(query.split())


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
        entities: Sequence[str] | None = None,
    ) -> CrawlResult:
        """Crawl for ``query``; returns ranked items with provenance.

        Args:
            deadline: a ``clock()`` value after which no further pass starts
                (the result says ``stopped_early``).
            query_vector, entities: the query's embedding and the names it mentions, when
                the caller has them already (a weave reads them once); else computed here.
        """
        plan = plan or self.plan_for(complexity)
        if query_vector is None:
            query_vector = (await self.embedder.embed([query]))[0]
        state = CrawlState(qvec=np.asarray(query_vector, dtype=np.float32))
        reports: list[PassReport] = []
        stopped_early = False
        survivors: list[Candidate] = []
        for number, spec in enumerate(plan.passes, start=1):
            if number > 1 and deadline is not None and self.clock() >= deadline:
                stopped_early = True
                break
            started = self.clock()
            before = set(state.cands)
            if number == 1:
                names = list(entities) if entities is not None else self.extractor.entities(query)
                await self._seed(state, query, names, flt, plan)
            else:
                beam = sorted(survivors, key=lambda c: c.score, reverse=True)[: plan.passes[number - 2].beam]
                await self._expand(state, beam, number, flt, plan)
                await self._fetch(state, flt)
            score_all(state, plan.weights)
            ranked = sorted(state.cands.values(), key=lambda c: (-c.score, c.id))
            passing = [c for c in ranked if c.score >= spec.threshold]
            survivors = passing[: spec.limit]
            report = PassReport(
                number=number, new=len(set(state.cands) - before), kept=len(survivors),
                dropped_by_threshold=len(ranked) - len(passing),
                elapsed_ms=(self.clock() - started) * 1000.0, paths=_path_counts(state, before),
            )
            reports.append(report)
            if on_pass is not None:
                on_pass(report)
            # Only survivors go on: what a pass drops is not rescued by a later one.
            state.cands = {c.id: c for c in survivors}
        final = survivors[: limit] if limit is not None else survivors
        items = [scored_shard(state.shards[c.id], c) for c in final if c.id in state.shards]
        return CrawlResult(items=items, passes=reports, stopped_early=stopped_early)

    async def _seed(self, state: CrawlState, query: str, names: Sequence[str], flt: SearchFilter,
                    plan: CrawlPlan) -> None:
        """Pass 1: vector, lexical and named-entity seeds (the three searches at once); then the
        query's focus and the seeds' replies."""
        state.query_keys = {k for k in (entity_key(n) for n in names) if k}
        hits, lex, links = await asyncio.gather(
            self.store.vector_search(state.qvec, flt, limit=plan.seed_limit),
            self.store.keyword_search(query, flt, limit=plan.seed_limit) if plan.lexical else _nothing(),
            self.store.entity_lookup(sorted(state.query_keys), flt, max_degree=plan.max_degree)
            if plan.query_entities and state.query_keys else _nothing(),
        )
        for h in hits:  # applied in a fixed order: the same state whichever search answered first
            state.touch(h.id, 1, "vector")
        best = max((h.score for h in lex), default=0.0)
        for h in lex:
            state.lexical[h.id] = h.score / best if best > 0 else 0.0
            state.touch(h.id, 1, "lexical").lexical = state.lexical[h.id]
        for link in links:
            cand = state.touch(link.target, 1, f"entity:{link.entity}")
            cand.graph = max(cand.graph, link_weight(link, plan.weights))
        await self._fetch(state, flt)
        if plan.focus:
            await self._focus(state, query, names, flt, plan)
        if plan.replies:
            await self._follow_replies(state, list(state.cands), 1, flt, plan)
            await self._fetch(state, flt)
        self._when(state, query)

    def _when(self, state: CrawlState, query: str) -> None:
        """What the query asks of time: a date ("When did ...") and/or a period ("in July 2023").

        A period without a year is the latest one before the newest memory found, so
        "in July" means the July of the memories, not of the day the question is asked.
        """
        state.asks_when = asks_when(query)
        newest = max((s.occurred_at for s in state.shards.values()), default=None)
        if newest is not None:
            state.window = query_period(query, now=newest)

    async def _focus(self, state: CrawlState, query: str, names: Sequence[str], flt: SearchFilter, plan: CrawlPlan) -> None:
        """When the query names who said something, match what was said without the name.

        A participant (an entity a memory is about other than its title: a speaker) is
        matched structurally (``named`` in the score), so the name is taken out of the
        query's vector, which then measures the content alone.
        """
        participants: set[str] = set()
        for shard in state.shards.values():
            participants.update(k for name in shard.about if name != shard.title for k in about_keys(name))
        named = [n for n in names if entity_key(n) in participants]
        focus = _strip_names(query, named) if named else ""
        if not focus or focus == query:
            return
        state.qvec = np.asarray((await self.embedder.embed([focus]))[0], dtype=np.float32)
        for h in await self.store.vector_search(state.qvec, flt, limit=plan.seed_limit):
            state.touch(h.id, 1, "vector-focus")
        await self._fetch(state, flt)

    async def _follow_replies(
        self, state: CrawlState, ids: Sequence[str], number: int, flt: SearchFilter, plan: CrawlPlan
    ) -> None:
        """Add the turn each item answers and the turns that answer it (reply links)."""
        threaded = [cid for cid in dict.fromkeys(ids) if cid in state.shards
                    and (state.reply_to(cid) is not None or THREAD in state.shards[cid].metadata)]
        if not threaded:
            return
        for cid in threaded:
            prev = state.reply_to(cid)
            if prev is not None:
                state.touch(prev, number, f"replied-by<-{cid}")
        keys = [turn_key(cid) for cid in threaded]
        for link in await self.store.entity_lookup(keys, flt, max_degree=plan.max_degree, limit=4 * len(keys)):
            if link.target_relation == "mentions":
                state.touch(link.target, number, f"reply<-{link.source.removeprefix('turn:')}")

    async def _expand(self, state: CrawlState, beam: list[Candidate], number: int, flt: SearchFilter, plan: CrawlPlan) -> None:
        """Passes 2+: follow the beam's graph links and its own vectors."""
        parent_score = {c.id: c.score for c in beam}
        links = await self.store.neighbors([c.id for c in beam], flt, max_degree=plan.max_degree)
        top_parent = max(parent_score.values(), default=1.0) or 1.0
        for link in links:
            weight = link_weight(link, plan.weights)
            if weight <= 0.0:
                continue  # a kind of link this plan does not follow (session neighbours by default)
            cand = state.touch(link.target, number, f"{link.source_relation}-{link.target_relation}:{link.entity}<-{link.source}")
            strength = weight * parent_score[link.source] / top_parent
            cand.graph = max(cand.graph, strength)
            cand.remember_parent(link.source, strength)
        if plan.vector_expansion:
            parents = [p for p in beam[:3] if p.id in state.vectors]
            moved = [state.qvec + state.vectors[p.id] for p in parents]
            moved = [m / (np.linalg.norm(m) or 1.0) for m in moved]
            for parent, hits in zip(parents, await self._search_many(moved, flt, plan.vector_expansion)):
                for h in hits:
                    state.touch(h.id, number, f"vector-neighbour<-{parent.id}").remember_parent(parent.id, 0.0)

    async def _search_many(self, vectors: list[np.ndarray], flt: SearchFilter, limit: int) -> list[list[Hit]]:
        if not vectors:
            return []
        return await self.store.vector_search_many(vectors, flt, limit=limit)  # one scan for all directions

    async def _fetch(self, state: CrawlState, flt: SearchFilter) -> None:
        """Load what scoring needs: the vectors and shards of new items."""
        missing = [cid for cid in state.cands if cid not in state.vectors]
        if missing:
            state.vectors.update(await self.store.get_vectors(missing, namespace=flt.namespace))
        for cid in [c for c in state.cands if c not in state.vectors]:
            del state.cands[cid]  # vanished between search and fetch (deleted meanwhile)
        need = [cid for cid in state.cands if cid not in state.shards]
        if need:
            state.shards.update({s.id: s for s in await self.store.get(need, namespace=flt.namespace)})


async def _nothing() -> list:
    return []


def _path_counts(state: CrawlState, before: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cid, c in state.cands.items():
        if cid not in before:
            for p in c.paths:
                kind = p.split(":", 1)[0].split("<-", 1)[0]
                counts[kind] = counts.get(kind, 0) + 1
    return counts
