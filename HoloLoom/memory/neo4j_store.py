"""The Neo4j backend: shards, entities and their links as a graph, over the async Bolt driver.

Schema (created on first use, idempotently)::

    (:Shard {ns, id, text, metadata, entities, about, motifs, created_at, occurred_at,
             embedding, meta_nulls, `meta.<key>`...})-[:MENTIONS|ABOUT]->(:Entity {ns, key})

    constraint  (ns, id) unique on :Shard, (ns, key) unique on :Entity
    range index (ns, occurred_at) on :Shard      namespace and time filters
    vector index on :Shard.embedding             cosine, ``dimension``-d, int8-quantised
    fulltext index on :Shard.text                Lucene BM25, accents folded

Entity nodes belong to one namespace, so a graph walk can never leave its tenant and an
entity's degree (the links the hub cap counts) is simply its number of relationships.

Every value reaches Cypher as a parameter (the statements live in :mod:`._neo4j_cypher`).
Metadata is kept verbatim as JSON (``metadata``) and, for filtering, as one property per
scalar value named ``meta.<key>`` (keys as strict as the embedded store's filter keys);
filters read them with a parameterised dynamic lookup ``s[$key]``.

Vector search is exact where that is cheap and the ANN index where it is not. Neo4j's
vector index knows nothing of namespaces, so it is queried for enough candidates to
cover the namespace's share of the index; the candidates are filtered, the best 3x
``limit`` by quantised score are rescored exactly, and if fewer than ``limit`` survive
the search is redone exactly over the namespace. Results therefore match the embedded
store's exact search, up to the index's recall on large namespaces (measured: 1.0
recall@10 at 10,000 shards).

Transient failures (a restarting server, a deadlock) are retried with backoff for
``retry_seconds``; writes are idempotent MERGEs, so replaying one after an unknown
commit outcome is safe. What still fails becomes a :class:`HoloLoomError` that names
the URI and never the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
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
from . import _neo4j_cypher as cypher
from ._shared import check_query_vector, check_records, query_terms, retrying
from .base import BaseStore, Hit, Link, ShardRecord, shard_entity_keys

try:  # the `neo4j` extra
    import neo4j
    from neo4j import exceptions as neo4j_errors
except ImportError:  # pragma: no cover - exercised by the missing-extra test via monkeypatch
    neo4j = None  # type: ignore[assignment]
    neo4j_errors = None  # type: ignore[assignment]

__all__ = ["Neo4jStore"]

T = TypeVar("T")


class Neo4jStore(BaseStore):
    """A MemoryStore on Neo4j 5 (Community, Enterprise or Aura) over Bolt.

    Args:
        uri: ``bolt://host:7687``, ``neo4j://...`` or ``neo4j+s://...``.
        user, password: credentials (``password=None`` connects without auth).
        database: the database to use (the server's default if None).
        dimension: vector size, checked against an existing vector index.
        vectors: store embeddings and serve ``vector_search`` (False in the hybrid
            backend, where Qdrant holds the vectors).
        retry_seconds: how long transient failures are retried before an error is raised.
        connection_timeout: seconds to wait for a TCP connection.
        exact_search_max: namespaces up to this many shards are searched exactly.
        candidates: the least number of ANN candidates fetched per search.
        max_transaction_records: records per write transaction; an ``add`` of at most
            this many is atomic.
    """

    name = "neo4j"

    def __init__(
        self,
        uri: str,
        *,
        user: str = "neo4j",
        password: str | SecretStr | None = None,
        database: str | None = None,
        dimension: int = 384,
        vectors: bool = True,
        retry_seconds: float = 30.0,
        connection_timeout: float = 5.0,
        exact_search_max: int = 500,
        candidates: int = 100,
        max_transaction_records: int = 5000,
    ) -> None:
        if neo4j is None:
            raise MissingDependencyError("the Neo4j backend", "neo4j")
        if not isinstance(uri, str) or "://" not in uri:
            # not echoed: without a scheme it cannot be told apart from "user:password@host"
            raise ConfigurationError("the Neo4j URI must look like bolt://host:7687 or neo4j://host:7687")
        self.uri = uri
        self.display_uri = redact_uri(uri)
        self.user = user
        self.database = database
        self.dimension = dimension
        self.vectors = vectors
        self.retry_seconds = retry_seconds
        self.connection_timeout = connection_timeout
        self.exact_search_max = exact_search_max
        self.candidates = candidates
        self.max_transaction_records = max_transaction_records
        self._password = as_secret(password)
        self._driver: Any = None
        self._schema_ready = False
        self._lock = asyncio.Lock()
        self._closed = False
        # Namespace sizes for choosing exact or ANN search: a hint, so a stale one only costs time.
        self._sizes: dict[str | None, tuple[int, float]] = {}
        #: How vector searches were served: by the ANN ``index``, ``exact``ly, or exactly
        #: after the index returned too few matches (``fallback``).
        self.search_stats = {"index": 0, "exact": 0, "fallback": 0}

    @classmethod
    def from_settings(cls, settings: Any, *, dimension: int, vectors: bool = True, **options: Any) -> "Neo4jStore":
        """Configured from ``HOLOLOOM_NEO4J_URI/USER/PASSWORD/DATABASE``."""
        if not settings.neo4j_uri:
            raise ConfigurationError(
                f"backend {settings.backend!r} needs a Neo4j URI: set HOLOLOOM_NEO4J_URI (e.g. bolt://localhost:7687)"
            )
        return cls(settings.neo4j_uri, user=settings.neo4j_user, password=settings.neo4j_password,
                   database=settings.neo4j_database, dimension=dimension, vectors=vectors, **options)

    def __repr__(self) -> str:
        return f"<Neo4jStore {self.display_uri} database={self.database!r}>"

    # -- plumbing ---------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, self._password, *uri_secrets(self.uri))

    def _error(self, exc: BaseException, action: str) -> HoloLoomError:
        where = f"Neo4j at {self.display_uri}"
        detail = self._scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, neo4j_errors.AuthError):
            return StoreUnavailableError(f"{where} refused the credentials of user {self.user!r} while {action}")
        if isinstance(exc, (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired,
                            neo4j_errors.ConnectionAcquisitionTimeoutError, OSError, asyncio.TimeoutError)):
            return StoreUnavailableError(
                f"{where} is unreachable while {action} (retried for {self.retry_seconds:g}s): {detail}"
            )
        if isinstance(exc, neo4j_errors.TransientError):
            return StoreError(f"{where} kept failing transiently while {action}: {detail}")
        return StoreError(f"{where} failed while {action}: {detail}")

    def _connect(self) -> Any:
        if self._driver is None:
            try:
                self._driver = neo4j.AsyncGraphDatabase.driver(
                    self.uri,
                    auth=None if self._password is None else (self.user, reveal(self._password)),
                    connection_timeout=self.connection_timeout,
                    connection_acquisition_timeout=self.connection_timeout * 2,
                    # Our own retry loop (tenacity) decides how long to keep trying.
                    max_transaction_retry_time=0.0,
                    liveness_check_timeout=30.0,
                    notifications_min_severity="OFF",
                    user_agent="HoloLoom",
                )
            except (neo4j_errors.ConfigurationError, ValueError) as exc:
                raise ConfigurationError(f"cannot use Neo4j URI {self.display_uri}: {self._scrub(str(exc))}") from exc
        return self._driver

    async def _transaction(self, work: Callable[[Any], Awaitable[T]], *, write: bool, action: str) -> T:
        """Run ``work(tx)`` in one transaction, committed on success, retried when transient."""
        if self._closed:
            raise StoreClosedError("the Neo4j store is closed")
        await self._ensure_schema()
        return await self._raw_transaction(work, write=write, action=action)

    async def _raw_transaction(self, work: Callable[[Any], Awaitable[T]], *, write: bool, action: str) -> T:
        """``work`` gets a transaction (writes, committed at the end) or a session (reads)."""
        driver = self._connect()

        async def attempt() -> T:
            mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
            async with driver.session(database=self.database, default_access_mode=mode,
                                      bookmark_manager=driver.execute_query_bookmark_manager) as session:
                if not write:
                    # Reads run as auto-commit queries: one round trip each instead of three
                    # (BEGIN, RUN, COMMIT); they are idempotent, so the retry loop covers them.
                    return await work(session)
                tx = await session.begin_transaction()
                try:
                    result = await work(tx)
                    await tx.commit()
                    return result
                finally:
                    if not tx.closed():
                        with contextlib.suppress(Exception):  # the connection may be gone already
                            await tx.close()

        try:
            return await retrying(attempt, retryable=cypher.is_retryable, seconds=self.retry_seconds)
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError, OSError, asyncio.TimeoutError) as exc:
            raise self._error(exc, action) from exc

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._lock:
            if self._schema_ready:
                return
            for statement, params in cypher.schema_statements(self.dimension, self.vectors):
                await self._raw_transaction(lambda tx, s=statement, p=params: cypher.consume(tx, s, p),
                                            write=True, action="creating the schema")

            async def check(tx: Any) -> None:
                await cypher.check_schema(tx, dimension=self.dimension, with_vectors=self.vectors,
                                   where=f"Neo4j at {self.display_uri}")

            await self._raw_transaction(check, write=False, action="waiting for the indexes")
            self._schema_ready = True

    async def open(self) -> "Neo4jStore":
        """Connect and create the schema now (otherwise on first use)."""
        if self._closed:
            raise StoreClosedError("the Neo4j store is closed")
        await self._ensure_schema()
        return self

    # -- writes -------------------------------------------------------------------------

    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        records = check_records(records, self.dimension)
        if not records:
            return []
        for rec in records:
            validate_namespace(rec.shard.namespace)
        for start in range(0, len(records), self.max_transaction_records):
            part = records[start : start + self.max_transaction_records]
            await self._transaction(lambda tx, p=part: self._write(tx, p), write=True,
                                    action=f"writing {len(part)} shards")
            self._forget_sizes({r.shard.namespace for r in part})
        return [r.shard.id for r in records]

    async def _write(self, tx: Any, records: list[ShardRecord]) -> None:
        rows = []
        for r in records:
            links: dict[str, list[str]] = {rel: [] for rel in cypher.REL_TYPES}
            for key, relation in shard_entity_keys(r.shard):
                links[relation].append(key)
            rows.append({"props": cypher.shard_props(r, self.vectors),
                         **{relation: sorted(keys) for relation, keys in links.items()}})
        # One statement per batch: upsert the shard, drop its old links, link its entities.
        # The shard's write lock is taken before its old links are read, so two writers of
        # the same shard serialise instead of both keeping their links.
        for start in range(0, len(rows), cypher.WRITE_BATCH):
            await cypher.consume(tx, cypher.UPSERT, {"rows": rows[start : start + cypher.WRITE_BATCH]})

    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        validate_namespace(namespace)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0

        async def work(tx: Any) -> int:
            total = 0
            for start in range(0, len(unique), cypher.CHUNK):
                found = await (await tx.run(cypher.DELETE_SHARDS,
                                            {"ids": unique[start : start + cypher.CHUNK], "ns": namespace})).single()
                total += found["shards"]
                touched = sorted({k for keys in found["keys"] for k in keys})
                await cypher.consume(tx, cypher.DELETE_ORPHAN_ENTITIES, {"keys": touched, "ns": namespace})
            return total

        deleted = await self._transaction(work, write=True, action=f"deleting shards of namespace {namespace!r}")
        self._forget_sizes([namespace])
        return deleted

    async def delete_namespace(self, namespace: str) -> int:
        validate_namespace(namespace)
        total = 0
        while True:  # in bounded transactions, so a huge namespace never needs one huge transaction
            removed = await self._transaction(lambda tx: cypher.single(tx, """
                MATCH (s:Shard) WHERE s.ns = $ns AND s.occurred_at IS NOT NULL
                WITH s LIMIT 2000 DETACH DELETE s RETURN count(*) AS n""", {"ns": namespace}, "n"),
                write=True, action=f"deleting namespace {namespace!r}")
            total += removed
            if removed < 2000:
                break
        while await self._transaction(lambda tx: cypher.single(tx, """
                MATCH (e:Entity) WHERE e.ns = $ns WITH e LIMIT 5000 DETACH DELETE e RETURN count(*) AS n""",
                {"ns": namespace}, "n"), write=True, action=f"deleting namespace {namespace!r}") == 5000:
            pass
        self._forget_sizes([namespace])
        return total

    # -- reads --------------------------------------------------------------------------

    async def _read_chunks(self, ids: Sequence[str], namespace: str, query: str, action: str) -> list[Any]:
        validate_namespace(namespace)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []

        async def work(tx: Any) -> list[Any]:
            rows: list[Any] = []
            for start in range(0, len(unique), cypher.CHUNK):
                result = await tx.run(query, {"ns": namespace, "ids": unique[start : start + cypher.CHUNK]})
                rows.extend([r async for r in result])
            return rows

        return await self._transaction(work, write=False, action=action)

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        rows = await self._read_chunks(ids, namespace, f"""
            MATCH (s:Shard) WHERE s.ns = $ns AND s.id IN $ids RETURN {cypher.SHARD_FIELDS}""", "reading shards")
        found = {r["id"]: cypher.shard_from_record(r) for r in rows}
        return [found[i] for i in ids if i in found]

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        if not self.vectors:
            raise StoreError("this Neo4j store keeps no vectors (the hybrid backend reads them from Qdrant)")
        rows = await self._read_chunks(ids, namespace, """
            MATCH (s:Shard) WHERE s.ns = $ns AND s.id IN $ids RETURN s.id AS id, s.embedding AS v""", "reading vectors")
        return {r["id"]: np.asarray(r["v"], dtype=np.float32) for r in rows if r["v"] is not None}

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        rows = await self._read_chunks(ids, namespace, """
            MATCH (s:Shard) WHERE s.ns = $ns AND s.id IN $ids RETURN s.id AS id""", "reading ids")
        return {r["id"] for r in rows}

    def _forget_sizes(self, namespaces: Iterable[str]) -> None:
        for ns in [*namespaces, None]:
            self._sizes.pop(ns, None)

    async def _namespace_size(self, namespace: str | None) -> int:
        """Shards in a namespace (or in all, for None), cached for a few seconds."""
        cached = self._sizes.get(namespace)
        if cached is not None and time.monotonic() - cached[1] < 10.0:
            return cached[0]
        size = await self.count(namespace)
        self._sizes[namespace] = (size, time.monotonic())
        return size

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        if not self.vectors:
            raise StoreError("this Neo4j store keeps no vectors (the hybrid backend searches them in Qdrant)")
        query = check_query_vector(vector, self.dimension).astype(np.float64).tolist()
        if limit <= 0:
            return []
        params: dict[str, Any] = {"vector": query, "limit": int(limit)}
        where = cypher.filter_clause("s", flt, params)
        size = await self._namespace_size(flt.namespace)
        if size == 0:
            return []
        if size > self.exact_search_max:
            total = max(size, await self._namespace_size(None))
            # Enough candidates that, spread like the index, about 3x `limit` fall in this namespace.
            k = max(self.candidates, math.ceil(3 * limit * total / size))
            if k <= cypher.MAX_CANDIDATES:
                # The quantised scores pick the best 3x `limit`; exact cosines rank them.
                found = await self._transaction(lambda tx: cypher.hits(tx, cypher.ann_search(where), {
                    **params, "index": cypher.VECTOR_INDEX, "k": k, "rescore": 3 * int(limit)}),
                    write=False, action="searching vectors")
                if len(found) >= limit:
                    self.search_stats["index"] += 1
                    return found
                self.search_stats["fallback"] += 1
            else:
                self.search_stats["fallback"] += 1
        else:
            self.search_stats["exact"] += 1
        return await self._transaction(lambda tx: cypher.hits(tx, cypher.exact_search(where), params),
                                       write=False, action="searching vectors")

    async def _total_size(self) -> int:
        return await self._transaction(lambda tx: cypher.single(tx, "MATCH (s:Shard) RETURN count(s) AS n", {}, "n"),
                                       write=False, action="counting shards")

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        terms = query_terms(text)
        if not terms or limit <= 0:
            return []
        params: dict[str, Any] = {"index": cypher.TEXT_INDEX, "limit": int(limit),
                                  # Quoted terms: no Lucene syntax from the user's text survives.
                                  "query": " OR ".join(f'"{t}"' for t in terms)}
        where = cypher.filter_clause("s", flt, params)

        async def work(tx: Any) -> list[Hit]:
            result = await tx.run(f"""
                CALL db.index.fulltext.queryNodes($index, $query) YIELD node AS s, score
                WHERE {where}
                RETURN s.id AS id, score ORDER BY score DESC, id LIMIT $limit""", params)
            return [Hit(r["id"], float(r["score"])) async for r in result]

        return await self._transaction(work, write=False, action="searching text")

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        unique = list(dict.fromkeys(ids))
        if not unique or limit <= 0:
            return []
        params: dict[str, Any] = {"ids": unique, "max_degree": int(max_degree), "limit": int(limit)}
        where = cypher.filter_clause("t", flt, params)
        return await self._links(cypher.neighbors_query(where), params)

    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        unique = list(dict.fromkeys(keys))
        if not unique or limit <= 0:
            return []
        params: dict[str, Any] = {"keys": unique, "max_degree": int(max_degree), "limit": int(limit)}
        where = cypher.filter_clause("t", flt, params)
        return await self._links(cypher.entity_lookup_query(where), params)

    async def _links(self, query: str, params: dict[str, Any]) -> list[Link]:
        async def work(tx: Any) -> list[Link]:
            result = await tx.run(query, params)
            return [
                Link(r["source"], r["target"], r["entity"], cypher.RELATION_OF.get(r["r1"], r["r1"]),
                     cypher.RELATION_OF[r["r2"]], int(r["degree"]))
                async for r in result
            ]

        return await self._transaction(work, write=False, action="walking the graph")

    async def count(self, namespace: str | None = None) -> int:
        if namespace is None:
            return await self._total_size()
        validate_namespace(namespace)
        return await self._transaction(lambda tx: cypher.single(tx, """
            MATCH (s:Shard) WHERE s.ns = $ns AND s.occurred_at IS NOT NULL RETURN count(s) AS n""",
            {"ns": namespace}, "n"), write=False, action="counting shards")

    async def namespaces(self) -> list[str]:
        async def work(tx: Any) -> list[str]:
            result = await tx.run("""
                MATCH (s:Shard) WHERE s.ns IS NOT NULL AND s.occurred_at IS NOT NULL
                RETURN DISTINCT s.ns AS ns ORDER BY ns""")
            return [r["ns"] async for r in result]

        return await self._transaction(work, write=False, action="listing namespaces")

    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        info: dict[str, Any] = {"backend": self.name, "uri": self.display_uri, "database": self.database}
        if self._closed:
            return {**info, "ok": False, "error": "closed"}
        try:
            driver = self._connect()
            await asyncio.wait_for(driver.verify_connectivity(), timeout=self.connection_timeout + 1)
            async with driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
                result = await session.run("MATCH (s:Shard) RETURN count(s) AS n")
                total = (await result.single())["n"]
        except Exception as exc:  # health never raises: it reports
            return {**info, "ok": False, "error": self._scrub(str(exc) or type(exc).__name__)}
        return {**info, "ok": True, "shards": total, "latency_ms": (time.perf_counter() - started) * 1000}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._driver is not None:
            driver, self._driver = self._driver, None
            await driver.close()
