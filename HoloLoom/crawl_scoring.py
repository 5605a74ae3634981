"""The crawl's composite score: what ranks everything a crawl has found.

The composite score (all terms in [0, 1], weights in :class:`CrawlWeights`):

    score = sim * w_sim + lexical * w_lex + graph * w_graph + pair * w_pair
            + log1p(paths - 1) * w_paths + recency * w_recency + time

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
- ``recency``: newer memories score a little higher (half-life configurable);
- ``time``: ``dated`` when the question asks when and the memory states an event date,
  plus ``window`` when the question names a period (resolved against the newest memory
  found, so "in July" is the memories' July) and the memory was said, or tells of an
  event, within it (see :mod:`HoloLoom.event_dates`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .crawl_plans import CrawlWeights
from .event_dates import intervals_of, overlaps
from .extraction import about_keys
from .memory.base import Link
from .threads import REPLY_TO, link_kind
from .types import MemoryShard, ScoredShard

__all__ = ["Candidate", "CrawlState", "link_weight", "score_all", "scored_shard"]


@dataclass(slots=True)
class Candidate:
    """One item a crawl found, with the parts of its score and the items that led to it."""

    id: str
    found_in_pass: int
    paths: set[str] = field(default_factory=set)
    sim: float = 0.0
    lexical: float = 0.0
    graph: float = 0.0
    pair: float = 0.0
    recency: float = 0.0
    time: float = 0.0
    score: float = 0.0
    parents: dict[str, float] = field(default_factory=dict)  # beam items that led here

    def remember_parent(self, parent_id: str, strength: float) -> None:
        self.parents[parent_id] = max(self.parents.get(parent_id, 0.0), strength)


_LINK_WEIGHT = {
    ("mentions", "about"): 1.0,   # the item names an entity this shard is about: a bridge
    ("about", "mentions"): 0.7,   # this shard names what the item is about
    ("mentions", "mentions"): 0.5,  # both mention the same entity
    ("about", "about"): 0.6,      # two shards about the same thing
    ("query", "about"): 1.0,      # the query names what this shard is about
    ("query", "mentions"): 0.4,
}


def link_weight(link: Link, weights: CrawlWeights) -> float:
    """How much a graph link carries: by kind (reply, thread, entity), relation and hub degree."""
    kind = link_kind(link.entity)
    if kind == "reply":  # a turn and the turn it answers: one specific link, never a hub
        return weights.reply
    if kind == "thread":  # same session: weak, and weaker the longer the session
        return weights.thread / math.log2(1.0 + max(1, link.degree))
    base = _LINK_WEIGHT.get((link.source_relation, link.target_relation), 0.3)
    # Rare entities carry specific connections; hubs ("American") carry little.
    return base / math.log2(1.0 + max(1, link.degree))


@dataclass(slots=True)
class CrawlState:
    """Everything one crawl has found so far."""

    qvec: np.ndarray
    cands: dict[str, Candidate] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    shards: dict[str, MemoryShard] = field(default_factory=dict)
    lexical: dict[str, float] = field(default_factory=dict)  # every lexical hit, relative to the best
    query_keys: set[str] = field(default_factory=set)
    asks_when: bool = False
    window: tuple[float | None, float | None] | None = None  # the period the query names

    def touch(self, cid: str, number: int, path: str) -> Candidate:
        cand = self.cands.get(cid)
        if cand is None:
            cand = self.cands[cid] = Candidate(cid, number)
        cand.paths.add(path)
        return cand

    def reply_to(self, cid: str) -> str | None:
        shard = self.shards.get(cid)
        target = shard.metadata.get(REPLY_TO) if shard is not None else None
        return target if isinstance(target, str) and target != cid else None


def score_all(state: CrawlState, w: CrawlWeights) -> None:
    """Rescore every candidate of ``state`` in place."""
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
        c.time = _time_match(state, shard, w) if shard is not None else 0.0
        c.score = (
            w.sim * c.sim + w.lexical * c.lexical + w.graph * c.graph
            + w.pair * max(0.0, c.pair - c.sim)
            + w.paths * math.log1p(len(c.paths) - 1) + w.recency * c.recency + c.time
        )


def _time_match(state: CrawlState, shard: MemoryShard, w: CrawlWeights) -> float:
    """``dated`` for a memory stating a date when asked when; ``window`` for one in the query's period."""
    if not state.asks_when and state.window is None:
        return 0.0
    intervals = intervals_of(shard.metadata)
    score = w.dated if state.asks_when and intervals else 0.0
    if state.window is not None:
        since, until = state.window
        said = (since is None or shard.occurred_at >= since) and (until is None or shard.occurred_at <= until)
        if said or overlaps(intervals, since, until):
            score += w.window
    return score


def scored_shard(shard: MemoryShard, c: Candidate) -> ScoredShard:
    """The public record of one candidate."""
    return ScoredShard(
        shard=shard, score=round(c.score, 6), found_in_pass=c.found_in_pass, paths=tuple(sorted(c.paths)),
        score_parts={"sim": round(c.sim, 6), "lexical": round(c.lexical, 6), "graph": round(c.graph, 6),
                     "pair": round(c.pair, 6), "paths": float(len(c.paths)), "recency": round(c.recency, 6),
                     "time": round(c.time, 6)},
    )
