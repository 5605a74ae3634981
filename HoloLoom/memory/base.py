"""The MemoryStore protocol: the narrow seam every backend implements.

A backend stores shards with their vectors and the shard-entity graph, and answers
four kinds of read, all scoped by a :class:`~HoloLoom.types.SearchFilter` (one
namespace, optional time window, metadata equalities):

- ``vector_search``: nearest shards to a vector (cosine, vectors are unit length);
- ``keyword_search``: BM25-style lexical match on the text;
- ``neighbors``: shards linked to given shards through shared entities;
- ``entity_lookup``: shards about, or mentioning, given entity keys.

Two seams: :class:`MemoryStore`, the small protocol of reads the weave path depends on,
and :class:`BaseStore`, the base class every backend derives from (embedded, Neo4j,
Qdrant, hybrid, and :class:`~HoloLoom.testing.FakeStore` for tests), which adds writes,
administration and a lifecycle with defaults, so no caller has to ask a store what it can do.

Everything above this seam (the crawler, the orchestrator) is backend-agnostic, so the
same algorithm runs on SQLite, Neo4j or Qdrant. ``tests/contract/`` holds the one suite
every backend must pass.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from ..extraction import about_keys, entity_key
from ..threads import structural_keys
from ..types import MemoryShard, SearchFilter

__all__ = ["BaseStore", "Hit", "Link", "MemoryStore", "ShardRecord", "shard_entity_keys"]

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
    """What the read path (the crawler, the router, the orchestrator) needs of a store.

    Small on purpose: a weave only reads. Everything else a backend does (writes,
    namespaces, health, its lifecycle) is on :class:`BaseStore`, which every backend
    derives from and which gives defaults for ``vector_search_many``, ``existing_ids``,
    ``health``, ``open``, ``close`` and ``async with``.
    """

    name: str

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        """The shards that exist among ``ids``, in the order asked."""
        ...

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        """The stored vectors of the shards that exist among ``ids``."""
        ...

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        """The ``limit`` nearest shards by cosine similarity, best first."""
        ...

    async def vector_search_many(self, vectors: Sequence[np.ndarray], flt: SearchFilter, *,
                                 limit: int) -> list[list[Hit]]:
        """One :meth:`vector_search` per vector, in one call where the engine can batch them."""
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


class BaseStore(abc.ABC):
    """A whole backend: the :class:`MemoryStore` reads, writes, administration, lifecycle.

    Derive from it to add an engine (as :class:`~HoloLoom.testing.FakeStore` does in
    under 200 lines): implement the abstract methods; the rest have defaults that are
    correct, if not the fastest, for any engine. Every read is scoped to one namespace.

    Example::

        async with MyStore(...) as store:        # open() ... close()
            await store.add(records)
            hits = await store.vector_search(vector, SearchFilter("tenant"), limit=5)
    """

    #: The backend's name, as ``health()`` and the settings (``HOLOLOOM_BACKEND``) spell it.
    name: str = "store"

    # -- writes ------------------------------------------------------------------------

    @abc.abstractmethod
    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        """Insert or replace shards (by namespace + id); durable when this returns."""

    @abc.abstractmethod
    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        """Delete shards and their graph links; returns how many existed."""

    @abc.abstractmethod
    async def delete_namespace(self, namespace: str) -> int:
        """Delete every shard of a namespace; returns how many there were."""

    # -- reads (the MemoryStore protocol) ------------------------------------------------

    @abc.abstractmethod
    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        """The shards that exist among ``ids``, in the order asked."""

    @abc.abstractmethod
    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        """The stored vectors of the shards that exist among ``ids``."""

    @abc.abstractmethod
    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        """The ``limit`` nearest shards by cosine similarity, best first."""

    async def vector_search_many(self, vectors: Sequence[np.ndarray], flt: SearchFilter, *,
                                 limit: int) -> list[list[Hit]]:
        """One :meth:`vector_search` per vector, run concurrently; engines that batch override it."""
        return list(await asyncio.gather(*(self.vector_search(v, flt, limit=limit) for v in vectors)))

    @abc.abstractmethod
    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        """The ``limit`` best lexical (BM25-style) matches, best first; scores are positive."""

    @abc.abstractmethod
    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        """Shards sharing an entity with any of ``ids`` (excluding ``ids``).

        Entities linked to more than ``max_degree`` shards of the namespace are skipped;
        the rarest entities come first.
        """

    @abc.abstractmethod
    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        """Shards linked to the given entity keys; ``source`` is the key itself."""

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        """Which of ``ids`` are stored (by default through :meth:`get`)."""
        return {shard.id for shard in await self.get(ids, namespace=namespace)}

    # -- administration ----------------------------------------------------------------

    @abc.abstractmethod
    async def count(self, namespace: str | None = None) -> int:
        """Shards in one namespace, or in all."""

    @abc.abstractmethod
    async def namespaces(self) -> list[str]:
        """Every namespace that holds shards."""

    async def health(self) -> dict[str, Any]:
        """``{"ok": bool, "backend": name, ...}``; never raises for an unreachable engine."""
        started = time.perf_counter()
        try:
            total = await self.count()
        except Exception as exc:  # health never raises: it reports
            return {"ok": False, "backend": self.name, "error": str(exc) or type(exc).__name__}
        return {"ok": True, "backend": self.name, "shards": total,
                "latency_ms": (time.perf_counter() - started) * 1000}

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect (or load) now instead of on first use; returns the store."""
        return self

    async def close(self) -> None:
        """Release connections and files; idempotent. Nothing to release by default."""

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
