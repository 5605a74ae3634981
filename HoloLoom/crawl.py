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

The composite score (all terms in [0, 1], weights in :class:`CrawlWeights`):

    score = sim * w_sim + lexical * w_lex + graph * w_graph + pair * w_pair
            + log1p(paths - 1) * w_paths + recency * w_recency

- ``sim``: cosine similarity of the shard to the query (its focus, when it has one);
- ``lexical``: its BM25 score relative to the best BM25 score of the query; a reply
  keeps the better of its own and that of the turn it answers;
- ``graph``: how strongly a well-scored item links to it (parent score x link weight,
  where rare entities weigh more than hubs and "about" links more than shared mentions);
  at least ``named`` when the shard is about an entity the query names, however common;
- ``pair``: how well the shard *together with* the item that led to it (or the turn it
  answers) covers the query (cosine of the query with their mean vector), which is what
  a two-hop answer, or a reply, needs;
- ``paths``: how many distinct routes reached it (weight 0 by default: measured, routes
  count how the crawler happened to reach an item, e.g. its own vector and a reply link,
  not how relevant it is);
- ``recency``: newer memories score a little higher (half-life configurable).

Every returned :class:`~HoloLoom.types.ScoredShard` records the pass that first found it,
every path that reached it and the parts of its score.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .embedding import Embedder
from .extraction import EntityExtractor, RuleBasedExtractor, about_keys, entity_key
from .memory.base import Hit, Link, MemoryStore
from .threads import REPLY_TO, THREAD, link_kind, turn_key
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
    """Weights of the composite score; see the module docstring.

    ``named`` is the least ``graph`` of a shard about an entity the query names;
    ``reply`` and ``thread`` weigh links between a turn and the turn it answers, and
    between turns of one session (0: not followed in expansion passes; replies still
    join in pass 1 and count through ``pair`` and ``lexical``).
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


def _link_weight(link: Link, weights: CrawlWeights) -> float:
    kind = link_kind(link.entity)
    if kind == "reply":  # a turn and the turn it answers: one specific link, never a hub
        return weights.reply
    if kind == "thread":  # same session: weak, and weaker the longer the session
        return weights.thread / math.log2(1.0 + max(1, link.degree))
    base = _LINK_WEIGHT.get((link.source_relation, link.target_relation), 0.3)
    # Rare entities carry specific connections; hubs ("American") carry little.
    return base / math.log2(1.0 + max(1, link.degree))


def _strip_names(query: str, names: Sequence[str]) -> str:
    """The query without the given names (and their possessive 's)."""
    for name in sorted(names, key=len, reverse=True):
        query = re.sub(rf"(?<!\w){re.escape(name)}(?:['’]s)?(?!\w)", " ", query, flags=re.IGNORECASE)
    return " ".join(query.split())


@dataclass(slots=True)
class _State:
    """Everything one crawl has found so far."""

    qvec: np.ndarray
    cands: dict[str, _Candidate] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    shards: dict[str, MemoryShard] = field(default_factory=dict)
    lexical: dict[str, float] = field(default_factory=dict)  # every lexical hit, relative to the best
    query_keys: set[str] = field(default_factory=set)

    def touch(self, cid: str, number: int, path: str) -> _Candidate:
        cand = self.cands.get(cid)
        if cand is None:
            cand = self.cands[cid] = _Candidate(cid, number)
        cand.paths.add(path)
        return cand

    def reply_to(self, cid: str) -> str | None:
        shard = self.shards.get(cid)
        target = shard.metadata.get(REPLY_TO) if shard is not None else None
        return target if isinstance(target, str) and target != cid else None


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
        state = _State(qvec=np.asarray(query_vector, dtype=np.float32))
        reports: list[PassReport] = []
        stopped_early = False
        survivors: list[_Candidate] = []
        for number, spec in enumerate(plan.passes, start=1):
            if number > 1 and deadline is not None and self.clock() >= deadline:
                stopped_early = True
                break
            started = self.clock()
            before = set(state.cands)
            if number == 1:
                await self._seed(state, query, flt, plan)
            else:
                beam = sorted(survivors, key=lambda c: c.score, reverse=True)[: plan.passes[number - 2].beam]
                await self._expand(state, beam, number, flt, plan)
                await self._fetch(state, flt)
            self._score(state, plan.weights)
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
        items = [_scored(state.shards[c.id], c) for c in final if c.id in state.shards]
        return CrawlResult(items=items, passes=reports, stopped_early=stopped_early)

    async def _seed(self, state: _State, query: str, flt: SearchFilter, plan: CrawlPlan) -> None:
        """Pass 1: vector, lexical and named-entity seeds; then the query's focus and the seeds' replies."""
        for h in await self.store.vector_search(state.qvec, flt, limit=plan.seed_limit):
            state.touch(h.id, 1, "vector")
        if plan.lexical:
            lex = await self.store.keyword_search(query, flt, limit=plan.seed_limit)
            best = max((h.score for h in lex), default=0.0)
            for h in lex:
                state.lexical[h.id] = h.score / best if best > 0 else 0.0
                state.touch(h.id, 1, "lexical").lexical = state.lexical[h.id]
        names = self.extractor.entities(query)
        state.query_keys = {k for k in (entity_key(n) for n in names) if k}
        if plan.query_entities and state.query_keys:
            links = await self.store.entity_lookup(sorted(state.query_keys), flt, max_degree=plan.max_degree)
            for link in links:
                cand = state.touch(link.target, 1, f"entity:{link.entity}")
                cand.graph = max(cand.graph, _link_weight(link, plan.weights))
        await self._fetch(state, flt)
        if plan.focus:
            await self._focus(state, query, names, flt, plan)
        if plan.replies:
            await self._follow_replies(state, list(state.cands), 1, flt)
            await self._fetch(state, flt)

    async def _focus(self, state: _State, query: str, names: Sequence[str], flt: SearchFilter, plan: CrawlPlan) -> None:
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

    async def _follow_replies(self, state: _State, ids: Sequence[str], number: int, flt: SearchFilter) -> None:
        """Add the turn each item answers and the turns that answer it (reply links)."""
        threaded = [cid for cid in ids if cid in state.shards and state.reply_to(cid) is not None]
        threaded += [cid for cid in ids if cid in state.shards and THREAD in state.shards[cid].metadata]
        if not threaded:
            return
        for cid in dict.fromkeys(threaded):
            prev = state.reply_to(cid)
            if prev is not None:
                state.touch(prev, number, f"replied-by<-{cid}")
        keys = [turn_key(cid) for cid in dict.fromkeys(threaded)]
        for link in await self.store.entity_lookup(keys, flt, max_degree=64, limit=4 * len(keys)):
            if link.target_relation == "mentions":
                state.touch(link.target, number, f"reply<-{link.source.removeprefix('turn:')}")

    async def _expand(self, state: _State, beam: list[_Candidate], number: int, flt: SearchFilter, plan: CrawlPlan) -> None:
        """Passes 2+: follow the beam's graph links and its own vectors."""
        parent_score = {c.id: c.score for c in beam}
        links = await self.store.neighbors([c.id for c in beam], flt, max_degree=plan.max_degree)
        top_parent = max(parent_score.values(), default=1.0) or 1.0
        for link in links:
            weight = _link_weight(link, plan.weights)
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
        many = getattr(self.store, "vector_search_many", None)
        if many is not None:  # one scan for all the beam's directions
            return await many(vectors, flt, limit=limit)
        return [await self.store.vector_search(v, flt, limit=limit) for v in vectors]

    async def _fetch(self, state: _State, flt: SearchFilter) -> None:
        """Load what scoring needs: the vectors and shards of new items."""
        missing = [cid for cid in state.cands if cid not in state.vectors]
        if missing:
            state.vectors.update(await self.store.get_vectors(missing, namespace=flt.namespace))
        for cid in [c for c in state.cands if c not in state.vectors]:
            del state.cands[cid]  # vanished between search and fetch (deleted meanwhile)
        need = [cid for cid in state.cands if cid not in state.shards]
        if need:
            state.shards.update({s.id: s for s in await self.store.get(need, namespace=flt.namespace)})

    def _score(self, state: _State, w: CrawlWeights) -> None:
        cands, vectors, shards, qvec = state.cands, state.vectors, state.shards, state.qvec
        if not cands:
            return
        ids = list(cands)
        sims = np.stack([vectors[i] for i in ids]) @ qvec
        newest = max((shards[i].occurred_at for i in ids if i in shards), default=0.0)
        half_life = w.recency_half_life_days * 86400.0
        for i, cid in enumerate(ids):
            c = cands[cid]
            c.sim = float(sims[i])
            shard = shards.get(cid)
            answered = state.reply_to(cid)
            lexical = state.lexical.get(cid, c.lexical)
            if answered is not None and answered in vectors:
                # A reply is read with the turn it answers: their words and their meaning together.
                c.remember_parent(answered, 0.0)
                lexical = max(lexical, state.lexical.get(answered, 0.0))
            c.lexical = lexical
            if shard is not None and state.query_keys and any(
                k in state.query_keys for name in shard.about for k in about_keys(name)
            ):
                c.graph = max(c.graph, w.named)  # about someone the query names, however common
            pair = 0.0
            for parent_id in c.parents:
                pvec = vectors.get(parent_id)
                if pvec is None:
                    continue
                mean = pvec + vectors[cid]
                pair = max(pair, float(mean @ qvec) / (float(np.linalg.norm(mean)) or 1.0))
            c.pair = pair
            age = newest - shard.occurred_at if shard is not None else 0.0
            c.recency = 0.5 ** (age / half_life) if half_life > 0 else 0.0
            c.score = (
                w.sim * c.sim + w.lexical * c.lexical + w.graph * c.graph
                + w.pair * max(0.0, c.pair - c.sim)
                + w.paths * math.log1p(len(c.paths) - 1) + w.recency * c.recency
            )


def _path_counts(state: _State, before: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cid, c in state.cands.items():
        if cid not in before:
            for p in c.paths:
                kind = p.split(":", 1)[0].split("<-", 1)[0]
                counts[kind] = counts.get(kind, 0) + 1
    return counts


def _scored(shard: MemoryShard, c: _Candidate) -> ScoredShard:
    return ScoredShard(
        shard=shard, score=round(c.score, 6), found_in_pass=c.found_in_pass, paths=tuple(sorted(c.paths)),
        score_parts={"sim": round(c.sim, 6), "lexical": round(c.lexical, 6), "graph": round(c.graph, 6),
                     "pair": round(c.pair, 6), "paths": float(len(c.paths)), "recency": round(c.recency, 6)},
    )
