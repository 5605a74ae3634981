"""The Cypher side of the Neo4j backend: schema, statements, filters, record conversion.

Every value reaches Cypher as a parameter; the only names written into query text are
labels, relationship types and property names from the fixed sets in this module
(:data:`REL_TYPES`, the ``s``/``t`` aliases), so user text can never become Cypher.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..types import MemoryShard, SearchFilter
from ._shared import flat_metadata, where_items
from .base import Hit, ShardRecord

try:  # the `neo4j` extra; neo4j_store refuses to build a store without it
    from neo4j import exceptions as neo4j_errors
except ImportError:  # pragma: no cover - exercised by the missing-extra test via monkeypatch
    neo4j_errors = None  # type: ignore[assignment]

VECTOR_INDEX = "hololoom_shard_embedding"
TEXT_INDEX = "hololoom_shard_text"
#: relation name (as in Link) -> relationship type; the only types ever written into Cypher.
REL_TYPES = {"mentions": "MENTIONS", "about": "ABOUT"}
RELATION_OF = {v: k for k, v in REL_TYPES.items()}
SHARD_FIELDS = "s.id AS id, s.ns AS ns, s.text AS text, s.metadata AS metadata, s.entities AS entities, " \
                "s.about AS about, s.motifs AS motifs, s.created_at AS created_at, s.occurred_at AS occurred_at"
CHUNK = 1000  # ids per read query
WRITE_BATCH = 500  # shards per UNWIND statement
MAX_CANDIDATES = 10_000  # ANN candidates beyond which an exact scan of the namespace is cheaper


def schema_statements(dimension: int, with_vectors: bool) -> list[tuple[str, dict[str, Any]]]:
    statements: list[tuple[str, dict[str, Any]]] = [
        ("CREATE CONSTRAINT hololoom_shard_key IF NOT EXISTS FOR (s:Shard) REQUIRE (s.ns, s.id) IS UNIQUE", {}),
        ("CREATE CONSTRAINT hololoom_entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE (e.ns, e.key) IS UNIQUE", {}),
        ("CREATE INDEX hololoom_shard_time IF NOT EXISTS FOR (s:Shard) ON (s.ns, s.occurred_at)", {}),
        (f"CREATE FULLTEXT INDEX {TEXT_INDEX} IF NOT EXISTS FOR (s:Shard) ON EACH [s.text] OPTIONS $options",
         {"options": {"indexConfig": {"fulltext.analyzer": "standard-folding",
                                      "fulltext.eventually_consistent": False}}}),
    ]
    if with_vectors:
        statements.append((
            f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (s:Shard) ON s.embedding OPTIONS $options",
            {"options": {"indexConfig": {
                "vector.dimensions": dimension,
                "vector.similarity_function": "cosine",
                # int8 quantisation halves search and insert time; its scores are off by ~0.01,
                # so vector_search rescores the best candidates exactly.
                "vector.quantization.enabled": True,
            }}},
        ))
    return statements


# Relationship types are spelled out, never interpolated: they come from REL_TYPES only.
UPSERT = """
UNWIND $rows AS row
MERGE (s:Shard {ns: row.props.ns, id: row.props.id})
SET s = row.props
WITH s, row
CALL {
    WITH s
    MATCH (s)-[old:MENTIONS|ABOUT]->()
    DELETE old
}
FOREACH (key IN row.mentions | MERGE (e:Entity {ns: row.props.ns, key: key}) CREATE (s)-[:MENTIONS]->(e))
FOREACH (key IN row.about | MERGE (e:Entity {ns: row.props.ns, key: key}) CREATE (s)-[:ABOUT]->(e))
"""


def shard_from_record(r: Any) -> MemoryShard:
    return MemoryShard(
        id=r["id"], namespace=r["ns"], text=r["text"], metadata=json.loads(r["metadata"]),
        entities=tuple(r["entities"] or ()), about=tuple(r["about"] or ()), motifs=tuple(r["motifs"] or ()),
        created_at=float(r["created_at"]), occurred_at=float(r["occurred_at"]),
    )


def shard_props(rec: ShardRecord, with_vectors: bool) -> dict[str, Any]:
    s = rec.shard
    props: dict[str, Any] = {
        "ns": s.namespace, "id": s.id, "text": s.text,
        "metadata": json.dumps(dict(s.metadata), ensure_ascii=False),
        "entities": list(s.entities), "about": list(s.about), "motifs": list(s.motifs),
        "created_at": float(s.created_at), "occurred_at": float(s.occurred_at),
    }
    scalars, nulls = flat_metadata(s.metadata)
    props.update({f"meta.{k}": v for k, v in scalars.items()})
    if nulls:
        props["meta_nulls"] = nulls
    if with_vectors:
        props["embedding"] = np.asarray(rec.vector, dtype=np.float32).astype(np.float64).tolist()
    return props


def filter_clause(alias: str, flt: SearchFilter, params: dict[str, Any]) -> str:
    """A Cypher boolean over node ``alias`` for the filter; fills ``params``.

    Always constrains ``occurred_at`` (``IS NOT NULL`` when unbounded) so the planner seeks
    the (ns, occurred_at) index instead of scanning every shard.
    """
    params["ns"] = flt.namespace
    parts = [f"{alias}.ns = $ns"]
    if flt.since is not None:
        params["since"] = float(flt.since)
        parts.append(f"{alias}.occurred_at >= $since")
    if flt.until is not None:
        params["until"] = float(flt.until)
        parts.append(f"{alias}.occurred_at <= $until")
    if flt.since is None and flt.until is None:
        parts.append(f"{alias}.occurred_at IS NOT NULL")
    for i, (key, values) in enumerate(where_items(flt)):
        present = [v for v in values if v is not None]
        ors = []
        if present:
            params[f"meta_key{i}"] = f"meta.{key}"
            params[f"meta_values{i}"] = present
            ors.append(f"{alias}[$meta_key{i}] IN $meta_values{i}")
        if len(present) < len(values):
            params[f"meta_null{i}"] = key
            ors.append(f"$meta_null{i} IN coalesce({alias}.meta_nulls, [])")
        parts.append("(" + (" OR ".join(ors) or "false") + ")")
    return " AND ".join(parts)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired)):
        # IncompleteCommit included: every write here is an idempotent MERGE/DELETE.
        return True
    if isinstance(exc, neo4j_errors.AuthError):
        return False
    if isinstance(exc, (neo4j_errors.Neo4jError, neo4j_errors.DriverError)):
        return exc.is_retryable()
    return isinstance(exc, (OSError, asyncio.TimeoutError))


#: The indexes and constraints the schema must end up with (whatever else the database holds).
SCHEMA_NAMES = ("hololoom_shard_key", "hololoom_entity_key", "hololoom_shard_time", TEXT_INDEX)

DELETE_SHARDS = """
UNWIND $ids AS id
MATCH (s:Shard {ns: $ns, id: id})
OPTIONAL MATCH (s)-[:MENTIONS|ABOUT]->(e:Entity)
WITH s, collect(e.key) AS keys
DETACH DELETE s
RETURN count(s) AS shards, collect(keys) AS keys"""

DELETE_ORPHAN_ENTITIES = """
UNWIND $keys AS key
MATCH (e:Entity {ns: $ns, key: key})
WHERE NOT EXISTS { (e)<-[:MENTIONS|ABOUT]-() }
DELETE e"""


def ann_search(where: str) -> str:
    """Vector search through the ANN index: the quantised scores pick the best 3x ``limit``,
    exact cosines rank them."""
    return f"""
        CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node AS s, score
        WHERE {where}
        WITH s, score ORDER BY score DESC LIMIT $rescore
        WITH s, vector.similarity.cosine(s.embedding, $vector) AS score
        RETURN s.id AS id, score ORDER BY score DESC, id LIMIT $limit"""


def exact_search(where: str) -> str:
    """Vector search by scanning the filtered shards (small namespaces, or the index fell short)."""
    return f"""
        MATCH (s:Shard) WHERE {where}
        WITH s, vector.similarity.cosine(s.embedding, $vector) AS score
        ORDER BY score DESC, s.id LIMIT $limit
        RETURN s.id AS id, score"""


def neighbors_query(where: str) -> str:
    """Links from the shards ``$ids`` through their entities (at most ``$max_degree`` links each)."""
    return f"""
        UNWIND range(0, size($ids) - 1) AS position
        MATCH (src:Shard {{ns: $ns, id: $ids[position]}})-[r1:MENTIONS|ABOUT]->(e:Entity)
        WITH position, src, r1, e, COUNT {{ (e)<-[:MENTIONS|ABOUT]-() }} AS degree
        WHERE degree <= $max_degree
        MATCH (e)<-[r2:MENTIONS|ABOUT]-(t:Shard)
        WHERE NOT t.id IN $ids AND {where}
        RETURN src.id AS source, t.id AS target, e.key AS entity, type(r1) AS r1, type(r2) AS r2, degree
        ORDER BY degree, position, entity, target LIMIT $limit"""


def entity_lookup_query(where: str) -> str:
    """Links from the entity keys ``$keys`` to the shards about or mentioning them."""
    return f"""
        UNWIND range(0, size($keys) - 1) AS position
        MATCH (e:Entity {{ns: $ns, key: $keys[position]}})
        WITH position, e, COUNT {{ (e)<-[:MENTIONS|ABOUT]-() }} AS degree
        WHERE degree <= $max_degree
        MATCH (e)<-[r2:MENTIONS|ABOUT]-(t:Shard)
        WHERE {where}
        RETURN e.key AS source, t.id AS target, e.key AS entity, 'query' AS r1, type(r2) AS r2, degree
        ORDER BY degree, position, target LIMIT $limit"""


async def check_schema(tx: Any, *, dimension: int, with_vectors: bool, where: str) -> None:
    """Wait for the indexes, then refuse a database whose indexes do not fit this store."""
    await (await tx.run("CALL db.awaitIndexes($seconds)", {"seconds": 120})).consume()
    rows = await (await tx.run("SHOW INDEXES YIELD name, options RETURN name, options")).data()
    options = {r["name"]: r["options"] for r in rows}
    for name in SCHEMA_NAMES + ((VECTOR_INDEX,) if with_vectors else ()):
        if name not in options:
            # CREATE ... IF NOT EXISTS is a no-op when an equivalent index has another name.
            raise ConfigurationError(
                f"{where}: index {name} is missing, most likely because an "
                "equivalent index or constraint on :Shard/:Entity exists under another name; drop it"
            )
    if with_vectors:
        found = options[VECTOR_INDEX]["indexConfig"].get("vector.dimensions")
        if found is not None and int(found) != dimension:
            raise ConfigurationError(
                f"{where} indexes {found}-d vectors but the embedder makes "
                f"{dimension}-d ones (drop index {VECTOR_INDEX} or use another database)"
            )


async def consume(tx: Any, query: str, params: dict[str, Any]) -> None:
    await (await tx.run(query, params)).consume()


async def single(tx: Any, query: str, params: dict[str, Any], field: str) -> Any:
    record = await (await tx.run(query, params)).single()
    return record[field] if record is not None else None


async def hits(tx: Any, query: str, params: dict[str, Any]) -> list[Hit]:
    result = await tx.run(query, params)
    # vector.similarity.cosine is rescaled to [0, 1] as (1 + cos) / 2; undo that.
    return [Hit(r["id"], 2.0 * float(r["score"]) - 1.0) async for r in result]
