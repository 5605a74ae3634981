"""The Qdrant backend: one collection holds the vectors, the text index and the graph.

Each shard is one point, its id a UUID derived from namespace and shard id, with

- a dense vector ``dense`` (cosine) for ``vector_search``;
- a sparse vector ``bm25`` for ``keyword_search``: each term's BM25 term-frequency part,
  computed here, and its IDF applied by Qdrant at query time (``Modifier.IDF``), so a
  query's score is the document's BM25 score;
- a payload with the shard itself, the filter fields (``ns``, ``occurred_at``, the
  metadata under ``meta``) and its graph links as ``"<relation>:<entity key>"`` strings.

Payload indexes on ``ns`` (a tenant index), ``occurred_at`` and ``links`` keep filtered
reads fast on a server; local mode (``path=`` or ``":memory:"``) has no indexes and scans.

The graph lives in those payloads: ``neighbors`` reads the source shards' links, then
fetches every shard of the namespace linked to the same entities (one filtered scroll),
which gives both the hub degree and the targets. The metadata filter is applied by
Qdrant as a superset (its match on arrays is looser) and checked exactly in Python, so
results equal the embedded store's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..credentials import SecretStr, as_secret, redact_uri, reveal, scrub, uri_secrets
from ..errors import (
    ConfigurationError,
    HoloLoomError,
    MissingDependencyError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
)
from ..types import MemoryShard, SearchFilter, validate_namespace
from ._shared import (
    assemble_links,
    bm25_weights,
    check_query_vector,
    check_records,
    metadata_matches,
    query_terms,
    retrying,
    time_matches,
    where_items,
)
from . import _qdrant_points as layout
from ._qdrant_points import point_id
from .base import BaseStore, Hit, Link, ShardRecord

try:  # the `qdrant` extra
    from qdrant_client import AsyncQdrantClient, models
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
except ImportError:  # pragma: no cover - exercised by the missing-extra test via monkeypatch
    AsyncQdrantClient = None  # type: ignore[assignment,misc]
    models = None  # type: ignore[assignment]
    ResponseHandlingException = UnexpectedResponse = None  # type: ignore[assignment,misc]

__all__ = ["QdrantStore", "point_id"]

T = TypeVar("T")

class QdrantStore(BaseStore):
    """A MemoryStore on Qdrant: a server (``url=``) or local mode (``path=`` / ``":memory:"``).

    Args:
        url: a Qdrant server, e.g. ``http://localhost:6333``.
        path: a directory for local mode, or ``":memory:"``.
        api_key: for Qdrant Cloud or a server with an API key.
        collection: the collection name (created on first use).
        dimension: vector size, checked against an existing collection.
        retry_seconds: how long transient failures are retried.
        timeout: seconds per request to a server.
        bm25_avg_len: the document length (in words) BM25 normalises against; fixed at
            write time because the weights are stored, so set it near your chunks' length.
        batch_size: points per upsert request.
        shards: shards of a new collection (a cluster spreads them over its nodes).
        replication: copies of each shard (2 or more keeps a cluster answering, and no
            acknowledged write lost, with one node down).
        write_consistency: replicas that must apply a write before it is acknowledged.
    """

    name = "qdrant"

    def __init__(
        self,
        *,
        url: str | None = None,
        path: str | Path | None = None,
        api_key: str | SecretStr | None = None,
        collection: str = "hololoom_shards",
        dimension: int = 384,
        retry_seconds: float = 30.0,
        timeout: float = 10.0,
        bm25_avg_len: float = 100.0,
        batch_size: int = 256,
        shards: int | None = None,
        replication: int | None = None,
        write_consistency: int | None = None,
    ) -> None:
        if AsyncQdrantClient is None:
            raise MissingDependencyError("the Qdrant backend", "qdrant")
        if (url is None) == (path is None):
            raise ConfigurationError("give QdrantStore exactly one of url= (a server) or path= (local mode)")
        if not collection or not all(ch.isalnum() or ch in "_-" for ch in collection):
            raise ConfigurationError(f"Qdrant collection name {collection!r} must use [A-Za-z0-9_-]")
        self.url = url
        self.path = None if path is None else (str(path) if str(path) == ":memory:" else str(Path(path).expanduser()))
        self.collection = collection
        self.dimension = dimension
        self.retry_seconds = retry_seconds
        self.timeout = timeout
        self.bm25_avg_len = bm25_avg_len
        self.batch_size = batch_size
        self.shards = shards
        self.replication = replication
        self.write_consistency = write_consistency
        self._api_key = as_secret(api_key)
        self._client: Any = None
        self._ready = False
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Any, *, dimension: int, **options: Any) -> "QdrantStore":
        """Configured from ``HOLOLOOM_QDRANT_URL`` (a server) or ``HOLOLOOM_QDRANT_PATH``,
        else local mode under ``<home>/qdrant``."""
        if settings.qdrant_url and settings.qdrant_path:
            raise ConfigurationError("set HOLOLOOM_QDRANT_URL or HOLOLOOM_QDRANT_PATH, not both")
        path = None if settings.qdrant_url else (settings.qdrant_path or settings.layout.qdrant)
        cluster = {"shards": settings.qdrant_shards, "replication": settings.qdrant_replication}
        return cls(url=settings.qdrant_url, path=path, api_key=settings.qdrant_api_key,
                   collection=settings.qdrant_collection, dimension=dimension,
                   **{k: v for k, v in cluster.items() if v is not None}, **options)

    @property
    def where(self) -> str:
        return f"Qdrant at {redact_uri(self.url)}" if self.url else f"local Qdrant at {self.path}"

    @property
    def local(self) -> bool:
        return self.url is None

    def __repr__(self) -> str:
        return f"<QdrantStore {self.where} collection={self.collection!r}>"

    # -- plumbing ---------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, self._api_key, *uri_secrets(self.url))

    def _error(self, exc: BaseException, action: str) -> HoloLoomError:
        detail = self._scrub(str(exc) or type(exc).__name__)
        if layout.is_retryable(exc):
            return StoreUnavailableError(
                f"{self.where} is unreachable while {action} (retried for {self.retry_seconds:g}s): {detail}"
            )
        if isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403):
            return StoreUnavailableError(f"{self.where} refused the API key while {action}")
        return StoreError(f"{self.where} failed while {action}: {detail}")

    def _connect(self) -> Any:
        if self._client is None:
            try:
                if self.url is not None:
                    # The client may be newer than the server: HoloLoom uses only APIs every server
                    # since 1.12 has (query_points, facet, sparse IDF), and the contract suite runs
                    # against a real server, so the version check's warning is switched off knowingly.
                    self._client = AsyncQdrantClient(url=self.url, api_key=reveal(self._api_key),
                                                     timeout=int(self.timeout), check_compatibility=False)
                elif self.path == ":memory:":
                    self._client = AsyncQdrantClient(location=":memory:")
                else:
                    Path(self.path).mkdir(parents=True, exist_ok=True)
                    self._client = AsyncQdrantClient(path=self.path)
            except RuntimeError as exc:  # local mode: the directory is locked by another client
                raise StoreUnavailableError(f"cannot open {self.where}: {exc}") from exc
            except (OSError, ValueError) as exc:
                raise ConfigurationError(f"cannot open {self.where}: {exc}") from exc
        return self._client

    async def _call(self, fn: Callable[[Any], Awaitable[T]], action: str) -> T:
        if self._closed:
            raise StoreClosedError("the Qdrant store is closed")
        await self._ensure_collection()
        return await self._raw_call(fn, action)

    async def _raw_call(self, fn: Callable[[Any], Awaitable[T]], action: str) -> T:
        client = self._connect()
        try:
            return await retrying(lambda: fn(client), retryable=layout.is_retryable, seconds=self.retry_seconds)
        except HoloLoomError:
            raise
        except Exception as exc:  # qdrant-client raises many kinds; every one becomes ours
            raise self._error(exc, action) from exc

    async def _ensure_collection(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return

            async def create(client: Any) -> None:
                if await client.collection_exists(self.collection):
                    info = await client.get_collection(self.collection)
                    vectors = info.config.params.vectors
                    size = vectors[layout.DENSE].size if isinstance(vectors, dict) and layout.DENSE in vectors else None
                    if size != self.dimension:
                        raise ConfigurationError(
                            f"{self.where}: collection {self.collection!r} holds {size}-d vectors named "
                            f"{layout.DENSE!r}, but the embedder makes {self.dimension}-d ones"
                        )
                    return
                await client.create_collection(self.collection, **layout.collection_config(
                    dimension=self.dimension, shards=self.shards, replication=self.replication,
                    write_consistency=self.write_consistency))
                if not self.local:  # local mode has no payload indexes (and warns if asked)
                    for field, schema in layout.payload_indexes():
                        await client.create_payload_index(self.collection, field, field_schema=schema, wait=True)

            await self._raw_call(create, f"preparing collection {self.collection!r}")
            self._ready = True

    async def open(self) -> "QdrantStore":
        """Connect and create the collection now (otherwise on first use)."""
        if self._closed:
            raise StoreClosedError("the Qdrant store is closed")
        await self._ensure_collection()
        return self

    # -- writes -------------------------------------------------------------------------

    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        records = check_records(records, self.dimension)
        if not records:
            return []
        for rec in records:
            validate_namespace(rec.shard.namespace)
        points = [
            models.PointStruct(
                id=point_id(r.shard.namespace, r.shard.id),
                vector={layout.DENSE: np.asarray(r.vector, dtype=np.float32).tolist(),
                        layout.SPARSE: layout.sparse_vector(bm25_weights(r.shard.text, avg_len=self.bm25_avg_len))},
                payload=layout.payload_of(r.shard),
            )
            for r in records
        ]
        for start in range(0, len(points), self.batch_size):
            part = points[start : start + self.batch_size]
            await self._call(lambda c, p=part: c.upsert(self.collection, points=p, wait=True),
                             f"writing {len(part)} shards")
        return [r.shard.id for r in records]

    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        existing = await self.existing_ids(ids, namespace=namespace)
        if existing:
            selector = models.PointIdsList(points=[point_id(namespace, i) for i in existing])
            await self._call(lambda c: c.delete(self.collection, points_selector=selector, wait=True),
                             f"deleting shards of namespace {namespace!r}")
        return len(existing)

    async def delete_namespace(self, namespace: str) -> int:
        total = await self.count(namespace)
        if total:
            selector = models.FilterSelector(filter=layout.search_filter(SearchFilter(namespace)))
            await self._call(lambda c: c.delete(self.collection, points_selector=selector, wait=True),
                             f"deleting namespace {namespace!r}")
        return total

    async def snapshot(self, ids: Sequence[str], *, namespace: str) -> list[Any]:
        """The stored points (vectors and payload) of ``ids``, to restore them later."""
        validate_namespace(namespace)
        return await self._retrieve(ids, namespace, with_payload=True, with_vectors=True)

    async def restore(self, points: Sequence[Any], *, remove: Sequence[tuple[str, str]] = ()) -> None:
        """Put back points taken by :meth:`snapshot` and delete (namespace, id) pairs."""
        if remove:
            selector = models.PointIdsList(points=[point_id(ns, i) for ns, i in remove])
            await self._call(lambda c: c.delete(self.collection, points_selector=selector, wait=True),
                             "rolling back a write")
        structs = [models.PointStruct(id=p.id, vector=p.vector, payload=p.payload) for p in points]
        for start in range(0, len(structs), self.batch_size):
            part = structs[start : start + self.batch_size]
            await self._call(lambda c, p=part: c.upsert(self.collection, points=p, wait=True), "rolling back a write")

    # -- reads --------------------------------------------------------------------------

    async def _retrieve(self, ids: Sequence[str], namespace: str, *, with_payload: Any, with_vectors: Any) -> list[Any]:
        unique = list(dict.fromkeys(ids))
        out: list[Any] = []
        for start in range(0, len(unique), layout.PAGE):
            part = [point_id(namespace, i) for i in unique[start : start + layout.PAGE]]
            out.extend(await self._call(
                lambda c, p=part: c.retrieve(self.collection, ids=p, with_payload=with_payload, with_vectors=with_vectors),
                "reading shards"))
        # Ids are derived from the namespace, but the payload is the authority.
        return [p for p in out if p.payload is None or p.payload.get("ns", namespace) == namespace]

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        validate_namespace(namespace)
        found = {s.id: s for s in (layout.shard_of(p.payload) for p in
                                   await self._retrieve(ids, namespace, with_payload=True, with_vectors=False))}
        return [found[i] for i in ids if i in found]

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        validate_namespace(namespace)
        points = await self._retrieve(ids, namespace, with_payload=["sid", "ns"], with_vectors=[layout.DENSE])
        return {p.payload["sid"]: np.asarray(p.vector[layout.DENSE], dtype=np.float32) for p in points}

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        validate_namespace(namespace)
        points = await self._retrieve(ids, namespace, with_payload=["sid", "ns"], with_vectors=False)
        return {p.payload["sid"] for p in points}

    async def _query(self, query: Any, using: str, flt: SearchFilter, limit: int) -> list[Hit]:
        items = where_items(flt)
        qfilter = layout.search_filter(flt, items)
        fetch = limit
        while True:
            result = await self._call(
                lambda c, n=fetch: c.query_points(self.collection, query=query, using=using, query_filter=qfilter,
                                                  limit=n, with_payload=["sid", "meta"] if items else ["sid"]),
                "searching")
            points = result.points
            kept = [p for p in points if not items or metadata_matches(p.payload.get("meta") or {}, items)]
            # Qdrant's filter is a superset; if Python dropped some, fetch deeper until full.
            if len(kept) >= limit or len(points) < fetch:
                return [Hit(p.payload["sid"], float(p.score)) for p in kept[:limit]]
            fetch *= 4

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        query = check_query_vector(vector, self.dimension).tolist()
        if limit <= 0:
            return []
        return await self._query(query, layout.DENSE, flt, limit)

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        terms = query_terms(text)
        if not terms or limit <= 0:
            return []
        hits = await self._query(layout.sparse_vector({t: 1.0 for t in terms}), layout.SPARSE, flt, limit)
        return [h for h in hits if h.score > 0]

    async def _expand(
        self, sources: list[tuple[str, str, str]], flt: SearchFilter, max_degree: int, limit: int, exclude: set[str]
    ) -> list[Link]:
        entities = list(dict.fromkeys(e for _, e, _ in sources))
        if not entities:
            return []
        items = where_items(flt)
        # One bounded read per entity, all at once: an entity with more than max_degree links is
        # skipped anyway, so max_degree + 1 points tell a hub apart without reading all of it
        # (a hub of 10,000 memories cost a scroll of 10,000 payloads per weave).
        pages = await asyncio.gather(*(self._linked_to(flt.namespace, e, max_degree + 1) for e in entities))
        degrees: dict[str, int] = {}
        targets: dict[str, list[tuple[str, str]]] = {}
        for entity, (page, complete) in zip(entities, pages):
            found: list[tuple[str, str]] = []
            for p in page:
                payload = p.payload
                passes = time_matches(payload["occurred_at"], flt) and metadata_matches(payload.get("meta") or {}, items)
                for token in payload.get("links") or ():
                    relation, key = layout.split_link(token)
                    if key == entity:
                        degrees[entity] = degrees.get(entity, 0) + 1  # the hub degree ignores the read filter
                        if passes:
                            found.append((payload["sid"], relation))
            if not complete:
                degrees[entity] = max(degrees.get(entity, 0), max_degree + 1)  # a hub: more links than were read
            targets[entity] = found
        return assemble_links(sources, degrees, targets, max_degree=max_degree, limit=limit, exclude=exclude)

    async def _linked_to(self, namespace: str, entity: str, most: int) -> tuple[list[Any], bool]:
        """Up to ``most`` points linked to ``entity``, and whether that is all of them."""
        page, offset = await self._call(
            lambda c: c.scroll(self.collection, scroll_filter=layout.links_filter(namespace, [entity]), limit=most,
                               with_payload=["sid", "links", "occurred_at", "meta"], with_vectors=False),
            "walking the graph")
        return list(page), offset is None

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        unique = list(dict.fromkeys(ids))
        if not unique or limit <= 0:
            return []
        points = await self._retrieve(unique, flt.namespace, with_payload=["sid", "ns", "links"], with_vectors=False)
        by_id = {p.payload["sid"]: p.payload.get("links") or () for p in points}
        sources = [(sid, key, relation) for sid in unique for relation, key in map(layout.split_link, by_id.get(sid, ()))]
        return await self._expand(sources, flt, max_degree, limit, exclude=set(unique))

    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        unique = list(dict.fromkeys(keys))
        if not unique or limit <= 0:
            return []
        return await self._expand([(k, k, "query") for k in unique], flt, max_degree, limit, exclude=set())

    async def count(self, namespace: str | None = None) -> int:
        qfilter = None
        if namespace is not None:
            validate_namespace(namespace)
            qfilter = layout.search_filter(SearchFilter(namespace))
        result = await self._call(lambda c: c.count(self.collection, count_filter=qfilter, exact=True), "counting")
        return int(result.count)

    async def namespaces(self) -> list[str]:
        result = await self._call(lambda c: c.facet(self.collection, key="ns", limit=100_000, exact=True),
                                  "listing namespaces")
        return sorted(str(hit.value) for hit in result.hits if hit.count > 0)

    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        info: dict[str, Any] = {"backend": self.name, "location": redact_uri(self.url) or self.path, "collection": self.collection}
        if self._closed:
            return {**info, "ok": False, "error": "closed"}
        try:
            client = self._connect()
            exists = await asyncio.wait_for(client.collection_exists(self.collection), timeout=self.timeout)
            total = (await client.count(self.collection, exact=True)).count if exists else 0
        except Exception as exc:  # health never raises: it reports
            return {**info, "ok": False, "error": self._scrub(str(exc) or type(exc).__name__)}
        return {**info, "ok": True, "shards": total, "latency_ms": (time.perf_counter() - started) * 1000}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
