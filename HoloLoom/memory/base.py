"""The MemoryStore protocol: the narrow seam every backend implements.

A backend stores shards with their vectors and the shard-entity graph, and answers
four kinds of read, all scoped by a :class:`~HoloLoom.types.SearchFilter` (one
namespace, optional time window, metadata equalities):

- ``vector_search``: nearest shards to a vector (cosine, vectors are unit length);
- ``keyword_search``: BM25-style lexical match on the text;
- ``neighbors``: shards linked to given shards through shared entities;
- ``entity_lookup``: shards about, or mentioning, given entity keys.

Everything above this seam (the crawler, the orchestrator) is backend-agnostic, so the
same algorithm runs on SQLite, Neo4j or Qdrant. ``tests/contract/`` holds the one suite
every backend must pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..extraction import about_keys, entity_key
from ..threads import structural_keys
from ..types import MemoryShard, SearchFilter

__all__ = ["Hit", "Link", "MemoryStore", "ShardRecord", "shard_entity_keys"]

#: How a shard relates to an entity: it mentions it, or it is about it (its title).
RELATIONS = ("mentions", "about")


@dataclass(frozen=True, slots=True)
class ShardRecord:
    """A shard and its embedding, as handed to a store."""

    shard: MemoryShard
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a shard id and its raw score (cosine or BM25)."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class Link:
    """An edge of the shard graph, through one entity.

    ``source`` relates to ``entity`` by ``source_relation``; so does ``target`` by
    ``target_relation``. ``degree`` is how many shards of the namespace link to the
    entity, so callers can discount hub entities ("United States").
    """

    source: str
    target: str
    entity: str
    source_relation: str
    target_relation: str
    degree: int


def shard_entity_keys(shard: MemoryShard) -> list[tuple[str, str]]:
    """The (entity key, relation) pairs a shard contributes to the graph.

    Shared by every backend so the graph is the same whatever the engine. A threaded
    turn also links to its thread and to the turn it replies to, under reserved keys
    (see :mod:`HoloLoom.threads`), so every backend walks conversation structure too.
    """
    pairs: dict[tuple[str, str], None] = {}
    for title in shard.about:
        for key in about_keys(title):
            pairs[(key, "about")] = None
    for name in shard.entities:
        key = entity_key(name)
        if key:
            pairs[(key, "mentions")] = None
    pairs.update(dict.fromkeys(structural_keys(shard)))
    return list(pairs)


@runtime_checkable
class MemoryStore(Protocol):
    """An async memory backend. All reads are scoped to one namespace."""

    name: str

    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        """Insert or replace shards (by namespace + id); durable when this returns."""
        ...

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        """The shards that exist among ``ids``, in the order asked."""
        ...

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        """The stored vectors of the shards that exist among ``ids``."""
        ...

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        """Which of ``ids`` are stored."""
        ...

    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        """Delete shards and their graph links; returns how many existed."""
        ...

    async def delete_namespace(self, namespace: str) -> int:
        """Delete every shard of a namespace; returns how many there were."""
        ...

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        """The ``limit`` nearest shards by cosine similarity, best first."""
        ...

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        """The ``limit`` best lexical (BM25-style) matches, best first; scores are positive."""
        ...

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        """Shards sharing an entity with any of ``ids`` (excluding ``ids``)."""
        ...

    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        """Shards linked to the given entity keys; ``source`` is the key itself."""
        ...

    async def count(self, namespace: str | None = None) -> int:
        """Shards in one namespace, or in all."""
        ...

    async def namespaces(self) -> list[str]:
        """Every namespace that holds shards."""
        ...

    async def health(self) -> dict[str, Any]:
        """``{"ok": bool, "backend": name, ...}``; never raises for an unreachable engine."""
        ...

    async def close(self) -> None:
        """Release connections and files; idempotent."""
        ...
