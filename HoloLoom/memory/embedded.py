"""The embedded default store: SQLite (WAL) for records and graph, a vector file, in-memory indexes.

No server: a directory holds ``hololoom.db`` (shards, metadata, the entity graph),
``vectors.f32`` (every vector, appended, memory-mapped; see :mod:`.vector_file`) and
``index/`` (checkpoints of the in-memory indexes; see :mod:`._checkpoint`). A write is
acknowledged when its SQLite transaction commits (``synchronous=FULL``), after its
vectors were fsynced. Opening maps the vectors and loads the latest checkpoint, then
replays only the changes SQLite recorded after it, so reopening a million memories takes
about a second and never re-reads their text.

In memory: a :class:`~.slot_table.SlotTable` (which shard is in which slot), the
vector index (exact below :data:`~.vector_index.EXACT_BELOW` memories, HNSW with an
exact rerank above; :mod:`.vector_index`) and BM25 over a compressed inverted index
(:mod:`.lexical_index`), all kept current by every add and delete. Several processes may
share one directory: each notices the others' commits (``PRAGMA data_version``) and
replays them before it reads.

All SQLite and index work runs on one dedicated worker thread per store, so the event
loop never blocks on disk and the connection is never shared between threads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import ConfigurationError, StoreClosedError, StoreError, ValidationError
from ..types import MemoryShard, SearchFilter, validate_namespace
from . import _embedded_sql as sql
from ._checkpoint import load_checkpoint, save_checkpoint
from ._shared import check_records
from .base import BaseStore, Hit, Link, ShardRecord, shard_entity_keys
from .lexical_index import LexicalIndex
from .slot_table import SlotTable
from .vector_file import VectorFile
from .vector_index import EXACT_BELOW, MODES, VectorIndex, single_blas_thread

__all__ = ["EmbeddedStore"]

T = TypeVar("T")

#: Checkpoint after this many changed slots, or a quarter of the store if that is more:
#: a crash then replays at most that much, and checkpoints cost O(size) amortised O(1).
CHECKPOINT_EVERY = 50_000



def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class EmbeddedStore(BaseStore):
    """The default MemoryStore: a directory, no server.

    Args:
        path: directory for the data (created if missing).
        dimension: vector size; checked against what the directory already holds.
        vector_search: ``"auto"`` (exact below ``exact_below`` memories, HNSW above),
            ``"exact"`` (never build the graph) or ``"ann"`` (always use the graph).
        exact_below: the size at which ``"auto"`` switches to the graph.
    """

    name = "embedded"

    def __init__(self, path: str | Path, *, dimension: int = 384, vector_search: str = "auto",
                 exact_below: int = EXACT_BELOW) -> None:
        if vector_search not in MODES:
            raise ConfigurationError(f"vector_search must be one of {', '.join(MODES)}, not {vector_search!r}")
        self.path = Path(path).expanduser()
        self.dimension = dimension
        self.search_mode = vector_search
        self.exact_below = exact_below
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hololoom-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._file: VectorFile | None = None
        self._table = SlotTable()
        self._lexical = LexicalIndex(self._table)
        self._vectors: VectorIndex | None = None
        self._seq = 0  # the last SQLite change this process has indexed
        self._unsaved = 0  # slots changed since the last checkpoint
        self._data_version: int | None = None
        self._closed = False
        self._opened = False
        self._open_lock = asyncio.Lock()

    # -- plumbing ---------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreClosedError("the embedded store is closed")
        if not self._opened:
            async with self._open_lock:
                if not self._opened:
                    await asyncio.get_running_loop().run_in_executor(self._executor, self._open_sync)
                    self._opened = True
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"embedded store at {self.path}: {exc}") from exc

    async def open(self) -> "EmbeddedStore":
        """Open the database and load the indexes now (otherwise on first use)."""
        await self._run(lambda: None)
        return self

    def _open_sync(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the data directory {self.path}: {exc}") from exc
        try:
            conn = sqlite3.connect(self.path / "hololoom.db", isolation_level=None, timeout=30.0)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
                conn.execute(f"PRAGMA {pragma}")
            self._file = VectorFile(self.path / "vectors.f32", self.dimension)
            sql.prepare(conn, self.dimension, self._file, self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the embedded store at {self.path}: {exc}") from exc
        except ConfigurationError:
            conn.close()
            raise
        self._conn = conn
        self._load_indexes()

    def _load_indexes(self) -> None:
        assert self._conn is not None and self._file is not None
        saved = load_checkpoint(self.path / "index", dimension=self.dimension)
        if saved is not None and saved.seq <= sql.current_seq(self._conn):
            self._table, self._seq = saved.table, saved.seq
            self._lexical = LexicalIndex(self._table, saved.lexical)
            ann, pending = (saved.ann, saved.pending) if self.search_mode != "exact" else (None, None)
        else:
            self._table, self._seq, ann, pending = SlotTable(), 0, None, None
            self._lexical = LexicalIndex(self._table)
        self._vectors = VectorIndex(self._table, self._file, mode=self.search_mode,
                                    exact_below=self.exact_below, ann=ann, pending=pending)
        self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        self._catch_up()
        if self._vectors.ann is None and self._vectors.wants_ann:
            self._vectors.added(np.zeros(0, dtype=np.int64))  # built in the background; exact until then

    def _catch_up(self) -> None:
        """Index every change SQLite recorded after ``self._seq`` (other processes', or since the checkpoint)."""
        conn = self._conn
        assert conn is not None
        latest = sql.current_seq(conn)
        if latest == self._seq:
            return
        cursor = conn.execute("SELECT row, slot, namespace, occurred_at, text FROM shards WHERE seq > ? ORDER BY slot",
                              (self._seq,))
        while batch := cursor.fetchmany(20_000):
            self._assign(np.fromiter((r[1] for r in batch), dtype=np.int64, count=len(batch)),
                         np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch)),
                         [r[2] for r in batch], np.fromiter((r[3] for r in batch), dtype=np.float64, count=len(batch)),
                         [r[4] for r in batch])
        gone = [s for (s,) in conn.execute("SELECT slot FROM retired WHERE seq > ?", (self._seq,))]
        self._retire(np.asarray(gone, dtype=np.int64))
        self._seq = latest

    def _assign(self, slots: np.ndarray, rowids: np.ndarray, namespaces: list[str], times: np.ndarray,
                texts: list[str], vectors: np.ndarray | None = None) -> None:
        assert self._vectors is not None
        self._table.assign(slots, rowids, namespaces, times)
        self._lexical.add(slots.tolist(), texts)
        self._vectors.added(slots, vectors)
        self._unsaved += len(slots)

    def _retire(self, slots: np.ndarray) -> None:
        assert self._vectors is not None
        if not len(slots):
            return
        slots = np.unique(slots[slots < self._table.size])
        live = slots[self._table.namespaces[slots] >= 0]
        codes = self._table.namespaces[live].copy()
        self._table.retire(live)
        self._lexical.retired(live, codes)
        self._vectors.removed(live)
        self._unsaved += len(live)

    def _checkpoint(self) -> None:
        assert self._vectors is not None
        # The graph may lag the writes: the checkpoint records which live slots it lacks, so
        # neither a checkpoint nor close() ever waits for HNSW insertions.
        with self._vectors.frozen() as (ann, pending):
            save_checkpoint(self.path / "index", seq=self._seq, dimension=self.dimension, table=self._table,
                            lexical=self._lexical.arrays(), ann=ann, pending=pending)
        self._unsaved = 0

    def _maybe_checkpoint(self) -> None:
        if self._unsaved >= max(CHECKPOINT_EVERY, self._table.live // 4):
            self._checkpoint()

    def _sync_with_other_writers(self) -> None:
        assert self._conn is not None
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self._catch_up()

    def _conn_checked(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreClosedError("the embedded store is closed")
        self._sync_with_other_writers()
        return self._conn

    def _begin_write(self) -> tuple[sqlite3.Connection, int]:
        """Take SQLite's write lock, replay whatever committed meanwhile; returns this write's seq."""
        conn = self._conn_checked()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._catch_up()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return conn, self._seq + 1

    def _commit(self, conn: sqlite3.Connection, seq: int) -> None:
        sql.set_seq(conn, seq)
        assert self._file is not None
        self._file.sync()  # the vectors are durable before the rows that point at them
        conn.execute("COMMIT")
        self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]

    # -- writes -------------------------------------------------------------------------

    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        records = check_records(records, self.dimension)
        if not records:
            return []
        return await self._run(self._add_sync, records)

    def _add_sync(self, records: list[ShardRecord]) -> list[str]:
        assert self._file is not None
        matrix = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
        conn, seq = self._begin_write()
        try:
            old = sql.slots_of(conn, [(r.shard.namespace, r.shard.id) for r in records])
            first = self._file.append(matrix)
            rows = [conn.execute(sql.UPSERT, (
                s.namespace, s.id, s.text, _dumps(dict(s.metadata)), _dumps(list(s.entities)), _dumps(list(s.about)),
                _dumps(list(s.motifs)), s.created_at, s.occurred_at, first + i, seq,
            )).fetchone()[0] for i, s in enumerate(r.shard for r in records)]
            replaced = [row for row, _ in old.values()]
            conn.executemany("DELETE FROM links WHERE row = ?", [(row,) for row in replaced])
            conn.executemany("INSERT OR IGNORE INTO links (row, namespace, entity, relation) VALUES (?, ?, ?, ?)",
                             [(row, r.shard.namespace, key, rel) for row, r in zip(rows, records)
                              for key, rel in shard_entity_keys(r.shard)])
            conn.executemany("INSERT INTO retired VALUES (?, ?)", [(seq, slot) for _, slot in old.values()])
            self._commit(conn, seq)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._seq = seq
        self._retire(np.asarray([slot for _, slot in old.values()], dtype=np.int64))
        self._assign(first + np.arange(len(records)), np.asarray(rows, dtype=np.int64),
                     [r.shard.namespace for r in records],
                     np.asarray([r.shard.occurred_at for r in records], dtype=np.float64),
                     [r.shard.text for r in records], matrix)
        self._maybe_checkpoint()
        return [r.shard.id for r in records]

    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        validate_namespace(namespace)
        if not ids:
            return 0
        return await self._run(self._delete_sync, list(ids), namespace)

    def _delete_sync(self, ids: list[str], namespace: str) -> int:
        conn, seq = self._begin_write()
        try:
            found = sql.slots_of(conn, [(namespace, i) for i in dict.fromkeys(ids)])
            rows = [row for row, _ in found.values()]
            for start in range(0, len(rows), 500):
                part = rows[start : start + 500]
                conn.execute(f"DELETE FROM shards WHERE row IN ({','.join('?' * len(part))})", part)
            conn.executemany("INSERT INTO retired VALUES (?, ?)", [(seq, slot) for _, slot in found.values()])
            self._commit(conn, seq)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._seq = seq
        self._retire(np.asarray([slot for _, slot in found.values()], dtype=np.int64))
        self._maybe_checkpoint()
        return len(found)

    async def delete_namespace(self, namespace: str) -> int:
        validate_namespace(namespace)

        def run() -> int:
            conn = self._conn_checked()
            ids = [i for (i,) in conn.execute("SELECT id FROM shards WHERE namespace = ?", (namespace,))]
            return sum(self._delete_sync(ids[start : start + 5000], namespace) for start in range(0, len(ids), 5000))

        return await self._run(run)

    # -- reads --------------------------------------------------------------------------

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        validate_namespace(namespace)
        if not ids:
            return []

        def run() -> list[MemoryShard]:
            found = {r[2]: sql.shard_from_row(r)
                     for r in sql.select_by_ids(self._conn_checked(), sql.SHARD_COLUMNS, ids, namespace)}
            return [found[i] for i in ids if i in found]

        return await self._run(run)

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        validate_namespace(namespace)
        if not ids:
            return {}

        def run() -> dict[str, np.ndarray]:
            assert self._file is not None
            pairs = sql.select_by_ids(self._conn_checked(), "id, slot", ids, namespace)
            if not pairs:
                return {}
            matrix = np.array(self._file.matrix()[np.asarray([slot for _, slot in pairs], dtype=np.int64)])
            return {sid: matrix[i] for i, (sid, _) in enumerate(pairs)}

        return await self._run(run)

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        validate_namespace(namespace)
        if not ids:
            return set()
        return await self._run(lambda: {r[0] for r in sql.select_by_ids(self._conn_checked(), "id", ids, namespace)})

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        return (await self.vector_search_many([vector], flt, limit=limit))[0]

    async def vector_search_many(self, vectors: Sequence[np.ndarray], flt: SearchFilter, *, limit: int) -> list[list[Hit]]:
        """Several vector searches in one call (the crawler's expansions use it)."""
        queries = np.asarray(np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors]) if len(vectors) else
                             np.zeros((0, self.dimension), dtype=np.float32))
        if queries.shape[1:] != (self.dimension,):
            raise ValidationError(f"query vectors have shape {queries.shape[1:]}, expected ({self.dimension},)")

        def run() -> list[list[Hit]]:
            conn = self._conn_checked()
            assert self._vectors is not None
            with single_blas_thread():
                results = self._vectors.search_many(queries, namespace=flt.namespace, limit=limit, since=flt.since,
                                                    until=flt.until, allowed=sql.allowed_slots(conn, flt))
            ids = sql.slots_to_ids(conn, self._table.rowids, sorted({s for slots, _ in results for s in slots.tolist()}))
            return [[Hit(ids[s], float(sc)) for s, sc in zip(slots.tolist(), scores.tolist()) if s in ids]
                    for slots, scores in results]

        return await self._run(run)

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        if limit <= 0 or not text.strip():
            return []

        def run() -> list[Hit]:
            conn = self._conn_checked()
            slots, scores = self._lexical.search(flt.namespace, text, limit=limit, since=flt.since, until=flt.until,
                                                 allowed=sql.allowed_slots(conn, flt))
            ids = sql.slots_to_ids(conn, self._table.rowids, slots.tolist())
            return [Hit(ids[s], float(sc)) for s, sc in zip(slots.tolist(), scores.tolist()) if s in ids]

        return await self._run(run)

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        if not ids:
            return []

        def run() -> list[Link]:
            conn = self._conn_checked()
            unique = list(dict.fromkeys(ids))
            sources = conn.execute(
                f"""SELECT s.id, l.entity, l.relation FROM links l JOIN shards s ON s.row = l.row
                    WHERE s.namespace = ? AND s.id IN ({','.join('?' * len(unique))})""",
                (flt.namespace, *unique),
            ).fetchall()
            return sql.expand(conn, sources, flt, max_degree=max_degree, limit=limit, exclude=set(unique),
                              allowed=sql.allowed_slots(conn, flt))

        return await self._run(run)

    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        if not keys:
            return []

        def run() -> list[Link]:
            conn = self._conn_checked()
            sources = [(key, key, "query") for key in dict.fromkeys(keys)]
            return sql.expand(conn, sources, flt, max_degree=max_degree, limit=limit, exclude=set(),
                              allowed=sql.allowed_slots(conn, flt))

        return await self._run(run)

    async def count(self, namespace: str | None = None) -> int:
        if namespace is not None:
            validate_namespace(namespace)

        def run() -> int:
            conn = self._conn_checked()
            if namespace is None:
                return conn.execute("SELECT count(*) FROM shards").fetchone()[0]
            return conn.execute("SELECT count(*) FROM shards WHERE namespace = ?", (namespace,)).fetchone()[0]

        return await self._run(run)

    async def namespaces(self) -> list[str]:
        def run() -> list[str]:
            conn = self._conn_checked()
            return [n for (n,) in conn.execute("SELECT DISTINCT namespace FROM shards ORDER BY namespace")]

        return await self._run(run)

    async def health(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            total = await self.count()
        except Exception as exc:  # health never raises: it reports
            return {"ok": False, "backend": self.name, "path": str(self.path), "error": str(exc)}
        return {
            "ok": True,
            "backend": self.name,
            "path": str(self.path),
            "shards": total,
            "vectors_indexed": self._table.live,
            "vector_search": self._vectors.state if self._vectors is not None else "exact",
            "latency_ms": (time.perf_counter() - started) * 1000,
        }

    async def settle(self) -> None:
        """Wait until every vector stored so far is in the HNSW graph (at once below the exact size).

        Writes never wait for the graph: new vectors are scanned exactly until the
        background indexer has them. Benchmarks call this to time searches on the settled
        index (and report how long settling took); nothing else needs to.
        """
        if self._vectors is not None:
            await asyncio.to_thread(self._vectors.flush)

    async def close(self) -> None:
        """Checkpoint the indexes (so the next open is fast) and release the files; idempotent."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                try:
                    if self._unsaved:
                        self._sync_with_other_writers()
                        self._checkpoint()
                finally:
                    self._conn.close()
                    self._conn = None
            if self._vectors is not None:
                self._vectors.close()
            if self._file is not None:
                self._file.close()
                self._file = None

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        finally:
            self._executor.shutdown(wait=True)

