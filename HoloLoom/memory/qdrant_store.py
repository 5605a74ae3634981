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
import hashlib
import json
import time
import uuid
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
from .base import Hit, Link, ShardRecord, shard_entity_keys

try:  # the `qdrant` extra
    from qdrant_client import AsyncQdrantClient, models
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
except ImportError:  # pragma: no cover - exercised by the missing-extra test via monkeypatch
    AsyncQdrantClient = None  # type: ignore[assignment,misc]
    models = None  # type: ignore[assignment]
    ResponseHandlingException = UnexpectedResponse = None  # type: ignore[assignment,misc]

__all__ = ["QdrantStore", "point_id"]

T = TypeVar("T")

DENSE = "dense"
SPARSE = "bm25"
_POINT_NS = uuid.UUID("6f1c1b9e-4a51-4a3e-9a57-6b0f3c1d2e10")
_PAGE = 1000


def point_id(namespace: str, shard_id: str) -> str:
    """The Qdrant point id of a shard: stable, and distinct across namespaces."""
    return str(uuid.uuid5(_POINT_NS, f"{namespace}\x1f{shard_id}"))


def _term_index(term: str) -> int:
    # A stable 31-bit hash (Python's hash() is salted per process); collisions at this
    # width are rare enough to be noise in a BM25 ranking.
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "big") & 0x7FFFFFFF


def _sparse(weights: dict[str, float]) -> Any:
    merged: dict[int, float] = {}
    for term, w in weights.items():
        idx = _term_index(term)
        merged[idx] = merged.get(idx, 0.0) + w
    return models.SparseVector(indices=list(merged), values=list(merged.values()))


def _payload(shard: MemoryShard) -> dict[str, Any]:
    return {
        "ns": shard.namespace,
        "sid": shard.id,
        "text": shard.text,
        "metadata_json": json.dumps(dict(shard.metadata), ensure_ascii=False),
        "meta": dict(shard.metadata),
        "entities": list(shard.entities),
        "about": list(shard.about),
        "motifs": list(shard.motifs),
        "created_at": float(shard.created_at),
        "occurred_at": float(shard.occurred_at),
        "links": [f"{relation}:{key}" for key, relation in shard_entity_keys(shard)],
    }


def _shard(payload: dict[str, Any]) -> MemoryShard:
    return MemoryShard(
        id=payload["sid"], namespace=payload["ns"], text=payload["text"],
        metadata=json.loads(payload["metadata_json"]), entities=tuple(payload.get("entities") or ()),
        about=tuple(payload.get("about") or ()), motifs=tuple(payload.get("motifs") or ()),
        created_at=float(payload["created_at"]), occurred_at=float(payload["occurred_at"]),
    )


def _split_link(token: str) -> tuple[str, str]:
    relation, _, key = token.partition(":")
    return relation, key


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ResponseHandlingException):
        return True  # the request never got an answer: connection refused, reset, timeout
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in (429, 500, 502, 503, 504)
    if type(exc).__name__ == "AioRpcError":  # gRPC, without importing grpc
        return str(getattr(exc, "code", lambda: "")()).endswith(("UNAVAILABLE", "DEADLINE_EXCEEDED"))
    return isinstance(exc, (OSError, asyncio.TimeoutError))


class QdrantStore:
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
        path = None if settings.qdrant_url else (settings.qdrant_path or settings.home / "qdrant")
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
        if _is_retryable(exc):
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
            return await retrying(lambda: fn(client), retryable=_is_retryable, seconds=self.retry_seconds)
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
                    size = vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None
                    if size != self.dimension:
                        raise ConfigurationError(
                            f"{self.where}: collection {self.collection!r} holds {size}-d vectors named "
                            f"{DENSE!r}, but the embedder makes {self.dimension}-d ones"
                        )
                    return
                await client.create_collection(
                    self.collection,
                    vectors_config={DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)},
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                    shard_number=self.shards, replication_factor=self.replication,
                    write_consistency_factor=self.write_consistency,
                )
                if not self.local:  # local mode has no payload indexes (and warns if asked)
                    for field, schema in (
                        ("ns", models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)),
                        ("occurred_at", models.PayloadSchemaType.FLOAT),
                        ("links", models.PayloadSchemaType.KEYWORD),
                        ("sid", models.PayloadSchemaType.KEYWORD),
                    ):
                        await client.create_payload_index(self.collection, field, field_schema=schema, wait=True)

            await self._raw_call(create, f"preparing collection {self.collection!r}")
            self._ready = True

    async def open(self) -> "QdrantStore":
        """Connect and create the collection now (otherwise on first use)."""
        if self._closed:
            raise StoreClosedError("the Qdrant store is closed")
        await self._ensure_collection()
        return self

    def _filter(self, flt: SearchFilter, items: list[tuple[str, list[Any]]] | None = None) -> Any:
        """Qdrant conditions for namespace and time, plus a superset of the metadata filter."""
        must: list[Any] = [models.FieldCondition(key="ns", match=models.MatchValue(value=flt.namespace))]
        if flt.since is not None or flt.until is not None:
            must.append(models.FieldCondition(key="occurred_at", range=models.Range(gte=flt.since, lte=flt.until)))
        for key, values in items or ():
            should: list[Any] = []
            for v in values:
                field = f"meta.{key}"
                if v is None:
                    should.append(models.IsNullCondition(is_null=models.PayloadField(key=field)))
                elif isinstance(v, (bool, str)):
                    should.append(models.FieldCondition(key=field, match=models.MatchValue(value=v)))
                else:  # int or float: a range matches 1 and 1.0 alike
                    should.append(models.FieldCondition(key=field, range=models.Range(gte=float(v), lte=float(v))))
            must.append(models.Filter(should=should))
        return models.Filter(must=must)

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
                vector={DENSE: np.asarray(r.vector, dtype=np.float32).tolist(),
                        SPARSE: _sparse(bm25_weights(r.shard.text, avg_len=self.bm25_avg_len))},
                payload=_payload(r.shard),
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
            selector = models.FilterSelector(filter=self._filter(SearchFilter(namespace)))
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
        for start in range(0, len(unique), _PAGE):
            part = [point_id(namespace, i) for i in unique[start : start + _PAGE]]
            out.extend(await self._call(
                lambda c, p=part: c.retrieve(self.collection, ids=p, with_payload=with_payload, with_vectors=with_vectors),
                "reading shards"))
        # Ids are derived from the namespace, but the payload is the authority.
        return [p for p in out if p.payload is None or p.payload.get("ns", namespace) == namespace]

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        validate_namespace(namespace)
        found = {s.id: s for s in (_shard(p.payload) for p in
                                   await self._retrieve(ids, namespace, with_payload=True, with_vectors=False))}
        return [found[i] for i in ids if i in found]

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        validate_namespace(namespace)
        points = await self._retrieve(ids, namespace, with_payload=["sid", "ns"], with_vectors=[DENSE])
        return {p.payload["sid"]: np.asarray(p.vector[DENSE], dtype=np.float32) for p in points}

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        validate_namespace(namespace)
        points = await self._retrieve(ids, namespace, with_payload=["sid", "ns"], with_vectors=False)
        return {p.payload["sid"] for p in points}

    async def _query(self, query: Any, using: str, flt: SearchFilter, limit: int) -> list[Hit]:
        items = where_items(flt)
        qfilter = self._filter(flt, items)
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
        return await self._query(query, DENSE, flt, limit)

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        terms = query_terms(text)
        if not terms or limit <= 0:
            return []
        hits = await self._query(_sparse({t: 1.0 for t in terms}), SPARSE, flt, limit)
        return [h for h in hits if h.score > 0]

    async def _scroll(self, qfilter: Any, payload: list[str]) -> list[Any]:
        points: list[Any] = []
        offset = None
        while True:
            page, offset = await self._call(
                lambda c, o=offset: c.scroll(self.collection, scroll_filter=qfilter, limit=_PAGE, offset=o,
                                             with_payload=payload, with_vectors=False),
                "walking the graph")
            points.extend(page)
            if offset is None:
                return points

    async def _expand(
        self, sources: list[tuple[str, str, str]], flt: SearchFilter, max_degree: int, limit: int, exclude: set[str]
    ) -> list[Link]:
        entities = list(dict.fromkeys(e for _, e, _ in sources))
        if not entities:
            return []
        items = where_items(flt)
        tokens = [f"{relation}:{key}" for key in entities for relation in ("about", "mentions")]
        qfilter = models.Filter(must=[
            models.FieldCondition(key="ns", match=models.MatchValue(value=flt.namespace)),
            models.FieldCondition(key="links", match=models.MatchAny(any=tokens)),
        ])
        linked = await self._scroll(qfilter, ["sid", "links", "occurred_at", "meta"])
        wanted = set(entities)
        degrees: dict[str, int] = {}
        targets: dict[str, list[tuple[str, str]]] = {}
        for p in linked:
            payload = p.payload
            passes = time_matches(payload["occurred_at"], flt) and metadata_matches(payload.get("meta") or {}, items)
            for token in payload.get("links") or ():
                relation, key = _split_link(token)
                if key in wanted:
                    degrees[key] = degrees.get(key, 0) + 1  # the hub degree ignores the read filter
                    if passes:
                        targets.setdefault(key, []).append((payload["sid"], relation))
        return assemble_links(sources, degrees, targets, max_degree=max_degree, limit=limit, exclude=exclude)

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        unique = list(dict.fromkeys(ids))
        if not unique or limit <= 0:
            return []
        points = await self._retrieve(unique, flt.namespace, with_payload=["sid", "ns", "links"], with_vectors=False)
        by_id = {p.payload["sid"]: p.payload.get("links") or () for p in points}
        sources = [(sid, key, relation) for sid in unique for relation, key in map(_split_link, by_id.get(sid, ()))]
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
            qfilter = self._filter(SearchFilter(namespace))
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

    async def __aenter__(self) -> "QdrantStore":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
