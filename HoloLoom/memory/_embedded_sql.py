"""The embedded store's SQLite side: schema and migration, lookups by id and slot, filters, the graph.

Every shard row records its ``slot`` (its row in the vector file) and ``seq``, the
number of the write transaction that last touched it; retired slots are logged in
``retired`` with the same numbers. A process that has indexed everything up to some
``seq`` catches up by reading only what came after it (:func:`changes_since`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigurationError, ValidationError
from ..types import MemoryShard, SearchFilter
from .base import Link
from .vector_file import VectorFile

__all__ = ["SHARD_COLUMNS", "UPSERT", "allowed_slots", "expand", "prepare", "select_by_ids", "shard_from_row",
           "slots_of", "slots_to_ids"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (
    row INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    entities TEXT NOT NULL,
    about TEXT NOT NULL,
    motifs TEXT NOT NULL,
    created_at REAL NOT NULL,
    occurred_at REAL NOT NULL,
    slot INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS shards_ns_id ON shards(namespace, id);
CREATE INDEX IF NOT EXISTS shards_ns_time ON shards(namespace, occurred_at);
CREATE TABLE IF NOT EXISTS links (
    row INTEGER NOT NULL REFERENCES shards(row) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    entity TEXT NOT NULL,
    relation TEXT NOT NULL CHECK (relation IN ('mentions', 'about')),
    PRIMARY KEY (row, entity, relation)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_entity ON links(namespace, entity, relation, row);
CREATE TABLE IF NOT EXISTS retired (seq INTEGER NOT NULL, slot INTEGER NOT NULL);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS shards_seq ON shards(seq);
CREATE INDEX IF NOT EXISTS retired_seq ON retired(seq);
"""

META_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
UPSERT = """INSERT INTO shards (namespace, id, text, metadata, entities, about, motifs, created_at, occurred_at,
                                 slot, seq)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(namespace, id) DO UPDATE SET
                 text=excluded.text, metadata=excluded.metadata, entities=excluded.entities,
                 about=excluded.about, motifs=excluded.motifs, occurred_at=excluded.occurred_at,
                 slot=excluded.slot, seq=excluded.seq
             RETURNING row"""
SHARD_COLUMNS = "row, namespace, id, text, metadata, entities, about, motifs, created_at, occurred_at"


def shard_from_row(r: tuple) -> MemoryShard:
    return MemoryShard(
        id=r[2], namespace=r[1], text=r[3], metadata=json.loads(r[4]), entities=tuple(json.loads(r[5])),
        about=tuple(json.loads(r[6])), motifs=tuple(json.loads(r[7])), created_at=r[8], occurred_at=r[9],
    )


def prepare(conn: sqlite3.Connection, dimension: int, vectors: VectorFile, path: object) -> None:
    """Create or migrate the schema and check the vector dimension."""
    conn.executescript(_SCHEMA)
    row = conn.execute("SELECT value FROM meta WHERE key='dimension'").fetchone()
    if row is None:
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('dimension', ?)", (str(dimension),))
    elif int(row[0]) != dimension:
        raise ConfigurationError(f"{path} holds {row[0]}-d vectors but the embedder makes {dimension}-d ones")
    columns = {r[1] for r in conn.execute("PRAGMA table_info(shards)")}
    if "vector" in columns:
        _move_vectors_out(conn, dimension, vectors)
    conn.executescript(_INDEXES)


def _move_vectors_out(conn: sqlite3.Connection, dimension: int, vectors: VectorFile) -> None:
    """Migrate a store written before the vector file: vectors leave SQLite for it, once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for column in ("slot INTEGER NOT NULL DEFAULT -1", "seq INTEGER NOT NULL DEFAULT 1"):
            if column.split()[0] not in {r[1] for r in conn.execute("PRAGMA table_info(shards)")}:
                conn.execute(f"ALTER TABLE shards ADD COLUMN {column}")
        cursor = conn.execute("SELECT row, vector FROM shards ORDER BY row")
        while batch := cursor.fetchmany(20_000):
            matrix = np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(len(batch), dimension)
            first = vectors.append(matrix)
            conn.executemany("UPDATE shards SET slot = ?, seq = 1 WHERE row = ?",
                             [(first + i, r[0]) for i, r in enumerate(batch)])
        vectors.sync()
        conn.execute("ALTER TABLE shards DROP COLUMN vector")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('seq', '1')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def current_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
    return 0 if row is None else int(row[0])


def set_seq(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (str(seq),))


def json_types(value: Any) -> tuple[str, ...]:
    """The JSON types a stored value may have to equal ``value`` (Python's 1 == 1.0)."""
    if isinstance(value, bool):
        return ("true",) if value else ("false",)
    if isinstance(value, (int, float)):
        return ("integer", "real")
    if isinstance(value, str):
        return ("text",)
    raise ValidationError(f"metadata filter values must be str, int, float, bool or None, not {type(value).__name__}")


def allowed_slots(conn: sqlite3.Connection, flt: SearchFilter) -> np.ndarray | None:
    """Slots passing the metadata filter, or None when there is none."""
    if not flt.where:
        return None
    clauses, params = ["namespace = ?"], [flt.namespace]
    for key, wanted in flt.where.items():
        if not META_KEY.match(key):
            raise ValidationError(f"metadata filter key {key!r} must match [A-Za-z0-9_-]+")
        values = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        ors = []
        for v in values:
            if v is None:
                ors.append("json_type(metadata, ?) = 'null'")
                params.append(f"$.{key}")
            else:
                types = json_types(v)
                ors.append(f"(json_extract(metadata, ?) = ? AND json_type(metadata, ?) IN ({','.join('?' * len(types))}))")
                params.extend([f"$.{key}", int(v) if isinstance(v, bool) else v, f"$.{key}", *types])
        clauses.append("(" + (" OR ".join(ors) or "0") + ")")
    return np.asarray([s for (s,) in conn.execute(f"SELECT slot FROM shards WHERE {' AND '.join(clauses)}", params)],
                      dtype=np.int64)


def expand(conn: sqlite3.Connection, sources: Sequence[tuple[str, str, str]], flt: SearchFilter, *,
           max_degree: int, limit: int, exclude: set[str], allowed: np.ndarray | None) -> list[Link]:
    """Links from (source, entity, relation) to every shard of the namespace linked to the same entity."""
    entities = list(dict.fromkeys(e for _, e, _ in sources))
    if not entities:
        return []
    # Count each entity's links only up to max_degree + 1: a hub ("lisbon", linked to 1% of a
    # million memories) is skipped after reading 49 index entries instead of 10,000.
    degrees = {entity: conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM links WHERE namespace = ? AND entity = ? LIMIT ?)",
        (flt.namespace, entity, max_degree + 1)).fetchone()[0] for entity in entities}
    usable = [e for e in entities if 0 < degrees[e] <= max_degree]
    if not usable:
        return []
    time_sql, time_params = "", []
    if flt.since is not None:
        time_sql, time_params = time_sql + " AND s.occurred_at >= ?", [*time_params, flt.since]
    if flt.until is not None:
        time_sql, time_params = time_sql + " AND s.occurred_at <= ?", [*time_params, flt.until]
    keep = None if allowed is None else set(allowed.tolist())
    targets: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(usable), 500):
        part = usable[start : start + 500]
        for entity, relation, sid, slot in conn.execute(
            f"""SELECT l.entity, l.relation, s.id, s.slot FROM links l JOIN shards s ON s.row = l.row
                WHERE l.namespace = ? AND l.entity IN ({','.join('?' * len(part))}) {time_sql}""",
            (flt.namespace, *part, *time_params),
        ):
            if keep is None or slot in keep:
                targets.setdefault(entity, []).append((sid, relation))
    links: list[Link] = []
    for source, entity, source_relation in sources:
        for target, target_relation in targets.get(entity, ()):
            if target != source and target not in exclude:
                links.append(Link(source, target, entity, source_relation, target_relation, degrees[entity]))
    links.sort(key=lambda link: link.degree)  # rarest entities first: the most specific connections
    return links[:limit]


def slots_of(conn: sqlite3.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """(namespace, id) -> (row, slot) for the keys that are stored."""
    by_namespace: dict[str, list[str]] = {}
    for namespace, sid in keys:
        by_namespace.setdefault(namespace, []).append(sid)
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for namespace, ids in by_namespace.items():
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            for sid, row, slot in conn.execute(
                f"SELECT id, row, slot FROM shards WHERE namespace = ? AND id IN ({','.join('?' * len(part))})",
                (namespace, *part),
            ):
                out[(namespace, sid)] = (row, slot)
    return out


def select_by_ids(conn: sqlite3.Connection, columns: str, ids: Sequence[str], namespace: str) -> list[tuple]:
    """``columns`` of the shards of ``namespace`` among ``ids`` (in chunks SQLite accepts)."""
    unique = list(dict.fromkeys(ids))
    out: list[tuple] = []
    for start in range(0, len(unique), 500):
        part = unique[start : start + 500]
        out.extend(conn.execute(
            f"SELECT {columns} FROM shards WHERE namespace = ? AND id IN ({','.join('?' * len(part))})",
            (namespace, *part)))
    return out


def slots_to_ids(conn: sqlite3.Connection, rowids: np.ndarray, slots: Sequence[int]) -> dict[int, str]:
    """Slot -> shard id for the slots still stored (``rowids`` maps slots to SQLite rows)."""
    rows = rowids[np.asarray(slots, dtype=np.int64)].tolist() if len(slots) else []
    by_row: dict[int, str] = {}
    for start in range(0, len(rows), 500):
        part = rows[start : start + 500]
        by_row.update(conn.execute(f"SELECT row, id FROM shards WHERE row IN ({','.join('?' * len(part))})", part))
    return {slot: by_row[row] for slot, row in zip(slots, rows) if row in by_row}
