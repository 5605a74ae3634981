"""The hybrid backend: Neo4j holds the shards and their graph, Qdrant the vectors.

Reads go where each engine is strong: ``vector_search`` and ``get_vectors`` to Qdrant;
``get``, ``keyword_search`` (Lucene BM25), ``neighbors``, ``entity_lookup``, ``count``
and ``namespaces`` to Neo4j. A shard exists once it is on both sides, so
``existing_ids`` is the intersection and a half-written shard is written again by the
next ``add`` of the same text.

Writes touch both engines, each with its own retries, in an order that can be undone:

- ``add``: snapshot the Qdrant points about to be overwritten, upsert to Qdrant, then
  write to Neo4j in one transaction per chunk. If Neo4j still fails, Qdrant is put back
  as it was and :class:`PartialWriteError` says so (``rolled_back=True``); only if that
  rollback fails too is the chunk left half-written, and the error says that instead.
- ``delete``: the same, Qdrant first (restorable from the snapshot), then Neo4j.
- ``delete_namespace``: Neo4j first, then Qdrant; a failure on Qdrant leaves vectors no
  read can reach (``get`` finds nothing in Neo4j), reported, and finished by a retry.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from ..errors import HoloLoomError, PartialWriteError, StoreError
from ..types import MemoryShard, SearchFilter, validate_namespace
from ._shared import check_records
from .base import BaseStore, Hit, Link, ShardRecord
from .neo4j_store import Neo4jStore
from .qdrant_store import QdrantStore

__all__ = ["HybridStore", "HybridWriteError"]


class HybridWriteError(PartialWriteError):
    """A hybrid write failed on one engine; says whether the other was rolled back.

    Attributes:
        rolled_back: True when neither engine holds the failed part of the write.
        completed: how many records of the call were fully written (earlier chunks).
    """

    def __init__(self, message: str, *, written: list[str], failed: list[str], rolled_back: bool,
                 completed: int = 0) -> None:
        super().__init__(message, written=written, failed=failed)
        self.rolled_back = rolled_back
        self.completed = completed


class HybridStore(BaseStore):
    """A MemoryStore over a Neo4j graph store (no vectors) and a Qdrant vector store.

    Args:
        graph: a :class:`Neo4jStore` built with ``vectors=False``.
        vectors: a :class:`QdrantStore`.
        chunk: records per unit of work; a failure rolls back only the failing chunk, and
            every earlier chunk is complete on both engines.
    """

    name = "hybrid"

    def __init__(self, graph: Neo4jStore, vectors: QdrantStore, *, chunk: int = 2000) -> None:
        if graph.vectors:
            raise StoreError("the hybrid backend's Neo4j store must be built with vectors=False")
        if graph.dimension != vectors.dimension:
            raise StoreError("the Neo4j and Qdrant stores of the hybrid backend disagree on the dimension")
        self.graph = graph
        self.vectors = vectors
        self.dimension = vectors.dimension
        self.chunk = max(1, min(chunk, graph.max_transaction_records))  # one Neo4j transaction per chunk

    @classmethod
    def from_settings(cls, settings: Any, *, dimension: int, neo4j_options: dict[str, Any] | None = None,
                      qdrant_options: dict[str, Any] | None = None) -> "HybridStore":
        """Neo4j from ``HOLOLOOM_NEO4J_*``, Qdrant from ``HOLOLOOM_QDRANT_*`` (local under home by default)."""
        graph = Neo4jStore.from_settings(settings, dimension=dimension, vectors=False, **(neo4j_options or {}))
        return cls(graph, QdrantStore.from_settings(settings, dimension=dimension, **(qdrant_options or {})))

    def __repr__(self) -> str:
        return f"<HybridStore graph={self.graph!r} vectors={self.vectors!r}>"

    async def open(self) -> "HybridStore":
        await self.graph.open()
        await self.vectors.open()
        return self

    # -- writes -------------------------------------------------------------------------

    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        records = check_records(records, self.dimension)
        for rec in records:
            validate_namespace(rec.shard.namespace)
        for start in range(0, len(records), self.chunk):
            await self._add_chunk(records[start : start + self.chunk], done=start, total=len(records))
        return [r.shard.id for r in records]

    async def _add_chunk(self, records: list[ShardRecord], *, done: int, total: int) -> None:
        by_ns: dict[str, list[str]] = {}
        for r in records:
            by_ns.setdefault(r.shard.namespace, []).append(r.shard.id)
        before: list[Any] = []
        for ns, ids in by_ns.items():
            before.extend(await self.vectors.snapshot(ids, namespace=ns))
        kept = {(p.payload["ns"], p.payload["sid"]) for p in before}
        fresh = [(r.shard.namespace, r.shard.id) for r in records if (r.shard.namespace, r.shard.id) not in kept]
        what = f"shards {done + 1}-{done + len(records)} of {total}"
        await self._both(
            lambda: self.vectors.add(records), lambda: self.graph.add(records),
            undo=lambda: self.vectors.restore(before, remove=fresh), what=f"adding {what}", done=done,
        )

    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        validate_namespace(namespace)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        before = await self.vectors.snapshot(unique, namespace=namespace)
        existed = await self.graph.existing_ids(unique, namespace=namespace)
        await self._both(
            lambda: self.vectors.delete(unique, namespace=namespace),
            lambda: self.graph.delete(unique, namespace=namespace),
            undo=lambda: self.vectors.restore(before), what=f"deleting {len(unique)} shards", done=0,
        )
        return len(existed | {p.payload["sid"] for p in before})

    async def _both(
        self, first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]], *,
        undo: Callable[[], Awaitable[None]], what: str, done: int,
    ) -> None:
        """Qdrant, then Neo4j; if Neo4j fails, undo Qdrant; report whatever is left."""
        try:
            await first()
        except HoloLoomError as exc:
            try:
                await undo()  # a write of several batches may have landed in part
            except HoloLoomError as undo_exc:
                raise HybridWriteError(
                    f"hybrid store: Qdrant failed while {what} ({exc}), and undoing whatever part of it landed "
                    f"failed too ({undo_exc}); Neo4j was not touched", written=["qdrant"],
                    failed=["qdrant", "neo4j"], rolled_back=False, completed=done,
                ) from exc
            raise
        try:
            await second()
        except HoloLoomError as exc:
            try:
                await undo()
            except HoloLoomError as undo_exc:
                raise HybridWriteError(
                    f"hybrid store: Neo4j failed while {what} ({exc}) and Qdrant could not be rolled back "
                    f"({undo_exc}); the shards are in Qdrant only, invisible to reads, until the call is repeated",
                    written=["qdrant"], failed=["neo4j"], rolled_back=False, completed=done,
                ) from exc
            raise HybridWriteError(
                f"hybrid store: Neo4j failed while {what} ({exc}); Qdrant was rolled back, so neither engine "
                "holds this part of the write" + (f" ({done} earlier records are complete)" if done else ""),
                written=[], failed=["neo4j"], rolled_back=True, completed=done,
            ) from exc

    async def delete_namespace(self, namespace: str) -> int:
        validate_namespace(namespace)
        total = await self.graph.delete_namespace(namespace)
        try:
            orphans = await self.vectors.delete_namespace(namespace)
        except HoloLoomError as exc:
            raise PartialWriteError(
                f"hybrid store: namespace {namespace!r} was deleted from Neo4j but not from Qdrant ({exc}); "
                "no read can reach the leftover vectors, and repeating the call removes them",
                written=["neo4j"], failed=["qdrant"],
            ) from exc
        return max(total, orphans)

    # -- reads --------------------------------------------------------------------------

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        return await self.graph.get(ids, namespace=namespace)

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        return await self.vectors.get_vectors(ids, namespace=namespace)

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        in_graph = await self.graph.existing_ids(ids, namespace=namespace)
        if not in_graph:
            return set()
        return in_graph & await self.vectors.existing_ids(list(in_graph), namespace=namespace)

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        return await self.vectors.vector_search(vector, flt, limit=limit)

    async def vector_search_many(self, vectors: Sequence[np.ndarray], flt: SearchFilter, *,
                                 limit: int) -> list[list[Hit]]:
        return await self.vectors.vector_search_many(vectors, flt, limit=limit)

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        return await self.graph.keyword_search(text, flt, limit=limit)

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        return await self.graph.neighbors(ids, flt, max_degree=max_degree, limit=limit)

    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        return await self.graph.entity_lookup(keys, flt, max_degree=max_degree, limit=limit)

    async def count(self, namespace: str | None = None) -> int:
        return await self.graph.count(namespace)

    async def namespaces(self) -> list[str]:
        return await self.graph.namespaces()

    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        graph, vectors = await self.graph.health(), await self.vectors.health()
        return {"ok": bool(graph.get("ok") and vectors.get("ok")), "backend": self.name,
                "neo4j": graph, "qdrant": vectors, "latency_ms": (time.perf_counter() - started) * 1000}

    async def close(self) -> None:
        try:
            await self.graph.close()
        finally:
            await self.vectors.close()
