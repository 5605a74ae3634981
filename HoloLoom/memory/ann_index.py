"""An approximate nearest-neighbour index (HNSW, from usearch) over vector slots.

Chosen by measurement over hnswlib, faiss and qdrant-edge (see ``docs/scale.md`` and
``benchmarks/ann_candidates.py``): at a million MiniLM vectors usearch built fastest,
answered fastest at the same recall, holds its vectors as int8 (a quarter of float32),
and saves and loads its graph as one file in well under a second.

The index stores int8 copies of the vectors; callers rerank what it returns with the
exact float32 vectors, so the int8 rounding moves no score a caller sees. Keys are the
embedded store's slots. Removed keys are marked deleted by usearch and never returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError

__all__ = ["AnnIndex"]

#: HNSW links per node ("M"), and the candidate-list sizes while adding and searching
#: ("efConstruction", "ef"). With int8 storage and an exact rerank these give a recall@10
#: of 0.99 at a million MiniLM vectors (docs/scale.md); ef grows with the results asked for.
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64


def _usearch():
    try:
        from usearch.index import Index
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError("approximate vector search", "usearch") from exc
    return Index


class AnnIndex:
    """HNSW over unit vectors with cosine distance; keys are non-negative integers."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._index = _usearch()(ndim=dimension, metric="cos", dtype="i8", connectivity=CONNECTIVITY,
                                 expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)

    def __len__(self) -> int:
        return len(self._index)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if len(keys):
            self._index.add(np.asarray(keys, dtype=np.uint64), np.asarray(vectors, dtype=np.float32), threads=0)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.uint64)
        return np.asarray(self._index.contains(keys), dtype=bool).reshape(len(keys)) if len(keys) else np.zeros(0, bool)

    def remove(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(keys):
            self._index.remove(keys)

    def search(self, queries: np.ndarray, count: int) -> np.ndarray:
        """The keys of up to ``count`` nearest neighbours per query, as a ``(queries, count)``
        array padded with -1 (order within a row is approximate: callers rerank)."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        count = max(1, min(count, len(self._index)))
        self._index.expansion_search = max(EXPANSION_SEARCH, 2 * count)
        found = self._index.search(queries, count, threads=1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
        # One query gives usearch's Matches (every row valid), several give BatchMatches.
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(len(queries))
        columns = np.arange(keys.shape[1])[None, :]
        return np.where(columns < counts[:, None], keys, -1)

    def save(self, path: Path) -> None:
        self._index.save(str(path))

    @classmethod
    def load(cls, path: Path, dimension: int) -> "AnnIndex":
        ann = cls(dimension)
        ann._index.load(str(path))
        return ann
