"""The Qdrant side of the Qdrant backend: point ids, payloads, sparse BM25 vectors, filters.

A shard is one point: its id derived from namespace and shard id (:func:`point_id`), a
dense vector, a sparse BM25 vector (term hashes to weights) and a payload holding the
shard, its filter fields and its graph links as ``"<relation>:<entity key>"`` tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from ..types import MemoryShard, SearchFilter
from .base import shard_entity_keys

try:  # the `qdrant` extra; qdrant_store refuses to build a store without it
    from qdrant_client import models
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
except ImportError:  # pragma: no cover - exercised by the missing-extra test via monkeypatch
    models = None  # type: ignore[assignment]
    ResponseHandlingException = UnexpectedResponse = None  # type: ignore[assignment,misc]

DENSE = "dense"
SPARSE = "bm25"
POINT_NS = uuid.UUID("6f1c1b9e-4a51-4a3e-9a57-6b0f3c1d2e10")
PAGE = 1000


def point_id(namespace: str, shard_id: str) -> str:
    """The Qdrant point id of a shard: stable, and distinct across namespaces."""
    return str(uuid.uuid5(POINT_NS, f"{namespace}\x1f{shard_id}"))


def term_index(term: str) -> int:
    # A stable 31-bit hash (Python's hash() is salted per process); collisions at this
    # width are rare enough to be noise in a BM25 ranking.
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "big") & 0x7FFFFFFF


def sparse_vector(weights: dict[str, float]) -> Any:
    merged: dict[int, float] = {}
    for term, w in weights.items():
        idx = term_index(term)
        merged[idx] = merged.get(idx, 0.0) + w
    return models.SparseVector(indices=list(merged), values=list(merged.values()))


def payload_of(shard: MemoryShard) -> dict[str, Any]:
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


def shard_of(payload: dict[str, Any]) -> MemoryShard:
    return MemoryShard(
        id=payload["sid"], namespace=payload["ns"], text=payload["text"],
        metadata=json.loads(payload["metadata_json"]), entities=tuple(payload.get("entities") or ()),
        about=tuple(payload.get("about") or ()), motifs=tuple(payload.get("motifs") or ()),
        created_at=float(payload["created_at"]), occurred_at=float(payload["occurred_at"]),
    )


def split_link(token: str) -> tuple[str, str]:
    relation, _, key = token.partition(":")
    return relation, key


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ResponseHandlingException):
        return True  # the request never got an answer: connection refused, reset, timeout
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in (429, 500, 502, 503, 504)
    if type(exc).__name__ == "AioRpcError":  # gRPC, without importing grpc
        return str(getattr(exc, "code", lambda: "")()).endswith(("UNAVAILABLE", "DEADLINE_EXCEEDED"))
    return isinstance(exc, (OSError, asyncio.TimeoutError))


def collection_config(*, dimension: int, shards: int | None, replication: int | None,
                      write_consistency: int | None) -> dict[str, Any]:
    """``create_collection`` arguments: a cosine dense vector, an IDF sparse vector, the layout."""
    return {
        "vectors_config": {DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)},
        "sparse_vectors_config": {SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        "shard_number": shards, "replication_factor": replication, "write_consistency_factor": write_consistency,
    }


def payload_indexes() -> list[tuple[str, Any]]:
    """The payload fields a server indexes: the tenant, the time, the graph links, the shard id."""
    return [
        ("ns", models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)),
        ("occurred_at", models.PayloadSchemaType.FLOAT),
        ("links", models.PayloadSchemaType.KEYWORD),
        ("sid", models.PayloadSchemaType.KEYWORD),
    ]


def links_filter(namespace: str, entities: list[str]) -> Any:
    """Every point of the namespace linked (about or mentions) to any of ``entities``."""
    tokens = [f"{relation}:{key}" for key in entities for relation in ("about", "mentions")]
    return models.Filter(must=[
        models.FieldCondition(key="ns", match=models.MatchValue(value=namespace)),
        models.FieldCondition(key="links", match=models.MatchAny(any=tokens)),
    ])


def search_filter(flt: SearchFilter, items: list[tuple[str, list[Any]]] | None = None) -> Any:
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
