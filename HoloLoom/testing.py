"""Test doubles for your own tests (and ours): an in-memory store and a model-free embedder.

Both are real implementations, small enough to read, not canned answers:

- :class:`FakeStore` keeps shards in a dict and answers every read the way the real
  backends do (namespaces, time and metadata filters, exact cosine search, BM25, the
  shard-entity graph with its hub cap); it passes the same contract suite
  (``tests/contract``) as the embedded, Neo4j and Qdrant backends.
- :class:`HashEmbedder` turns text into a 384-d unit vector by hashing its words and
  their character trigrams, so texts that share words are near and the same text always
  gives the same vector, in every process, with no model to load.

Example::

    from HoloLoom import HoloLoom
    from HoloLoom.testing import FakeStore, HashEmbedder

    async def test_my_feature(tmp_path):
        async with HoloLoom(tmp_path, store=FakeStore(), embedder=HashEmbedder()) as loom:
            await loom.add("Maximum Overdrive was filmed in Leland, North Carolina.")
            hits = await loom.recall("Where was Maximum Overdrive filmed?")
            assert "Leland" in hits[0].shard.text

Use the real model (the default ``HoloLoom()``) where the quality of retrieval is what
you test: hashed trigrams know spelling, not meaning.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import StoreClosedError
from .extraction import STOPWORDS
from .memory._shared import assemble_links, check_query_vector, check_records, metadata_matches, time_matches, \
    where_items, words
from .memory.base import BaseStore, Hit, Link, ShardRecord, shard_entity_keys
from .memory.lexical_index import lexical_terms
from .types import MemoryShard, SearchFilter, validate_namespace

__all__ = ["FakeStore", "HashEmbedder"]

_K1, _B = 1.2, 0.75  # BM25 as the embedded store computes it
_INLINE_TEXTS = 64  # HashEmbedder embeds up to this many texts on the event loop, more in a thread


@dataclass(slots=True)
class _Row:
    shard: MemoryShard
    vector: np.ndarray
    links: list[tuple[str, str]]  # (entity key, relation), as every backend derives them
    terms: Counter[str]


@dataclass(slots=True)
class _Tables:
    """What a FakeStore holds; shared by stores built with ``shared_with`` (a "restart")."""

    rows: dict[tuple[str, str], _Row] = field(default_factory=dict)


class FakeStore(BaseStore):
    """An in-memory MemoryStore with the real backends' semantics, for tests.

    Args:
        dimension: vector size; vectors of another size are refused, as by every backend.
        shared_with: another FakeStore whose data this one sees (as a process reopening
            the same directory would); closing one does not close the other.
    """

    name = "fake"

    def __init__(self, *, dimension: int = 384, shared_with: FakeStore | None = None) -> None:
        self.dimension = dimension
        self._tables = shared_with._tables if shared_with is not None else _Tables()
        self._closed = False

    def __repr__(self) -> str:
        return f"<FakeStore {len(self._tables.rows)} shards>"

    def _rows(self) -> dict[tuple[str, str], _Row]:
        if self._closed:
            raise StoreClosedError("the fake store is closed")
        return self._tables.rows

    def _namespace_rows(self, namespace: str) -> list[_Row]:
        return [row for (ns, _), row in self._rows().items() if ns == namespace]

    def _visible(self, flt: SearchFilter) -> list[_Row]:
        items = where_items(flt)  # validates the filter before anything is read
        return [row for row in self._namespace_rows(flt.namespace)
                if time_matches(row.shard.occurred_at, flt) and metadata_matches(row.shard.metadata, items)]

    # -- writes ------------------------------------------------------------------------

    async def add(self, records: Sequence[ShardRecord]) -> list[str]:
        rows = self._rows()
        records = check_records(records, self.dimension)
        for rec in records:
            validate_namespace(rec.shard.namespace)
        for rec in records:
            shard = rec.shard
            rows[(shard.namespace, shard.id)] = _Row(
                shard, np.asarray(rec.vector, dtype=np.float32).copy(), shard_entity_keys(shard),
                Counter(lexical_terms(shard.text)))
        return [rec.shard.id for rec in records]

    async def delete(self, ids: Sequence[str], *, namespace: str) -> int:
        validate_namespace(namespace)
        rows = self._rows()
        return sum(rows.pop((namespace, sid), None) is not None for sid in dict.fromkeys(ids))

    async def delete_namespace(self, namespace: str) -> int:
        validate_namespace(namespace)
        rows = self._rows()
        doomed = [key for key in rows if key[0] == namespace]
        for key in doomed:
            del rows[key]
        return len(doomed)

    # -- reads -------------------------------------------------------------------------

    async def get(self, ids: Sequence[str], *, namespace: str) -> list[MemoryShard]:
        validate_namespace(namespace)
        rows = self._rows()
        return [rows[(namespace, sid)].shard for sid in ids if (namespace, sid) in rows]

    async def get_vectors(self, ids: Sequence[str], *, namespace: str) -> dict[str, np.ndarray]:
        validate_namespace(namespace)
        rows = self._rows()
        return {sid: rows[(namespace, sid)].vector.copy() for sid in ids if (namespace, sid) in rows}

    async def existing_ids(self, ids: Sequence[str], *, namespace: str) -> set[str]:
        validate_namespace(namespace)
        rows = self._rows()
        return {sid for sid in ids if (namespace, sid) in rows}

    async def vector_search(self, vector: np.ndarray, flt: SearchFilter, *, limit: int) -> list[Hit]:
        query = check_query_vector(vector, self.dimension)
        candidates = self._visible(flt)
        if limit <= 0 or not candidates:
            return []
        scores = np.stack([row.vector for row in candidates]) @ query
        ranked = sorted(zip(scores.tolist(), (row.shard.id for row in candidates)), key=lambda p: (-p[0], p[1]))
        return [Hit(sid, float(score)) for score, sid in ranked[:limit]]

    async def keyword_search(self, text: str, flt: SearchFilter, *, limit: int) -> list[Hit]:
        terms = list(dict.fromkeys(lexical_terms(text)))
        if not terms or limit <= 0:
            return []
        corpus = self._namespace_rows(flt.namespace)  # statistics per namespace, as in every engine
        visible = {id(row) for row in self._visible(flt)}
        average = sum(sum(row.terms.values()) for row in corpus) / max(1, len(corpus))
        idf = {t: math.log(1 + (len(corpus) - df + 0.5) / (df + 0.5))
               for t in terms for df in [sum(t in row.terms for row in corpus)]}
        scored = []
        for row in corpus:
            if id(row) not in visible:
                continue
            norm = _K1 * (1 - _B + _B * sum(row.terms.values()) / max(average, 1e-9))
            score = sum(idf[t] * row.terms[t] * (_K1 + 1) / (row.terms[t] + norm) for t in terms if t in row.terms)
            if score > 0:
                scored.append((score, row.shard.id))
        scored.sort(key=lambda p: (-p[0], p[1]))
        return [Hit(sid, score) for score, sid in scored[:limit]]

    async def neighbors(
        self, ids: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 500
    ) -> list[Link]:
        unique = list(dict.fromkeys(ids))
        rows = self._rows()
        sources = [(sid, key, relation) for sid in unique if (flt.namespace, sid) in rows
                   for key, relation in rows[(flt.namespace, sid)].links]
        return self._expand(sources, flt, max_degree=max_degree, limit=limit, exclude=set(unique))

    async def entity_lookup(
        self, keys: Sequence[str], flt: SearchFilter, *, max_degree: int = 64, limit: int = 200
    ) -> list[Link]:
        sources = [(key, key, "query") for key in dict.fromkeys(keys)]
        return self._expand(sources, flt, max_degree=max_degree, limit=limit, exclude=set())

    def _expand(self, sources: list[tuple[str, str, str]], flt: SearchFilter, *, max_degree: int, limit: int,
                exclude: set[str]) -> list[Link]:
        """Through each source's entities to every shard of the namespace linked to them."""
        wanted = {entity for _, entity, _ in sources}
        if not wanted or limit <= 0:
            return []
        degrees: Counter[str] = Counter()  # the hub degree ignores the read filter, as everywhere
        for row in self._namespace_rows(flt.namespace):
            degrees.update(key for key, _ in row.links if key in wanted)
        targets: dict[str, list[tuple[str, str]]] = {}
        for row in self._visible(flt):
            for key, relation in row.links:
                if key in wanted:
                    targets.setdefault(key, []).append((row.shard.id, relation))
        return assemble_links(sources, degrees, targets, max_degree=max_degree, limit=limit, exclude=exclude)

    # -- administration ----------------------------------------------------------------

    async def count(self, namespace: str | None = None) -> int:
        if namespace is None:
            return len(self._rows())
        validate_namespace(namespace)
        return len(self._namespace_rows(namespace))

    async def namespaces(self) -> list[str]:
        return sorted({ns for ns, _ in self._rows()})

    async def close(self) -> None:
        self._closed = True


class HashEmbedder:
    """A deterministic, model-free Embedder: hashed words and character trigrams.

    Each non-stopword word (case- and accent-folded) and each trigram of it (padded with
    spaces) adds +-1 to one of ``dimension`` buckets chosen by a stable hash (BLAKE2b, not
    Python's salted ``hash``); the sum is scaled to unit length. Texts sharing words, or
    parts of words, therefore have a high cosine; unrelated texts are near orthogonal.
    A text with no words at all embeds to one fixed unit vector.

    Args:
        dimension: vector size (384, like the default model, fits any store built for it).
    """

    def __init__(self, dimension: int = 384) -> None:
        if dimension <= 0:
            raise ValueError("dimension must be positive")
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def name(self) -> str:
        return f"hash-trigram-{self._dimension}"

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts``, shape ``(len(texts), dimension)``, rows of unit length."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for feature in _features(text):
                bucket, sign = _bucket(feature, self._dimension)
                out[i, bucket] += sign
            norm = float(np.linalg.norm(out[i]))
            if norm == 0.0:
                out[i, 0], norm = 1.0, 1.0
            out[i] /= norm
        return out

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) <= _INLINE_TEXTS:  # microseconds a text: cheaper than a hop to a worker thread
            return self.embed_sync(texts)
        return await asyncio.to_thread(self.embed_sync, texts)

    async def warmup(self) -> None:
        """Nothing to load."""


def _features(text: str) -> list[str]:
    out = []
    for word in words(text):
        if word in STOPWORDS:
            continue
        out.append("w:" + word)
        padded = f" {word} "
        out.extend("c:" + padded[i : i + 3] for i in range(len(padded) - 2))
    return out


@functools.lru_cache(maxsize=1 << 16)
def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return digest % dimension, 1.0 if digest >> 63 else -1.0
