"""Nearest-neighbour search over the embedded store's slots: exact, or HNSW then an exact rerank.

Below :data:`EXACT_BELOW` live vectors in the namespace searched (or when a filter leaves
fewer candidates than that), search is exact: one matrix product over the candidates'
float32 vectors, perfect recall and no index to build; it costs about 1 ms per 10,000
vectors on one core. Above it an HNSW graph (:mod:`.ann_index`) proposes candidates,
each is checked against the filter and rescored exactly from the float32 vectors, and
the search widens until ``limit`` candidates pass (or falls back to exact when the
filter is so selective that widening would cost more than a scan). The threshold is
where, measured on MiniLM vectors (``hololoom bench scale``, docs/scale.md), the scan
starts to cost more than the HNSW search plus its rerank by a margin worth an index.

``mode`` forces one path: ``"exact"`` never builds the graph, ``"ann"`` builds it at any
size and uses it whenever it holds the namespace (the quality benchmark's
``--vector-search ann`` uses this to show the graph changes no answer).
"""

from __future__ import annotations

import numpy as np

from .ann_index import AnnIndex
from .slot_table import SlotTable
from .vector_file import VectorFile

__all__ = ["EXACT_BELOW", "MODES", "VectorIndex"]

EXACT_BELOW = 20_000
MODES = ("auto", "exact", "ann")
_RERANK_EXTRA = 16  # HNSW candidates beyond ``limit`` rescored exactly: recall for little cost
_MAX_WIDEN = 65_536  # past this many candidates a filtered scan is cheaper than a wider graph search


class VectorIndex:
    """Cosine search over the live slots of a :class:`SlotTable`, vectors read from a :class:`VectorFile`."""

    def __init__(self, table: SlotTable, vectors: VectorFile, *, mode: str = "auto",
                 exact_below: int = EXACT_BELOW, ann: AnnIndex | None = None) -> None:
        self.table = table
        self.file = vectors
        self.mode = mode
        self.exact_below = exact_below
        self.ann = ann

    @property
    def wants_ann(self) -> bool:
        return self.mode == "ann" or (self.mode == "auto" and self.table.live >= self.exact_below)

    def vector(self, slot: int) -> np.ndarray:
        return np.array(self.file.matrix(slot + 1)[slot], dtype=np.float32)

    # -- upkeep -------------------------------------------------------------------------

    def added(self, slots: np.ndarray, vectors: np.ndarray | None = None) -> None:
        """Index slots just assigned in the table (their vectors are in the file)."""
        if self.ann is None:
            if self.wants_ann:
                self.build()
            return
        if len(slots):
            self.ann.add(slots, self.file.matrix()[slots] if vectors is None else vectors)

    def removed(self, slots: np.ndarray) -> None:
        if self.ann is not None and len(slots):
            self.ann.remove(slots)

    def build(self) -> None:
        """(Re)build the graph from every live slot, in slot order."""
        live = np.flatnonzero(self.table.namespaces[: self.table.size] >= 0)
        ann = AnnIndex(self.file.dimension)
        matrix = self.file.matrix()
        for start in range(0, len(live), 50_000):
            part = live[start : start + 50_000]
            ann.add(part, matrix[part])
        self.ann = ann

    # -- search -------------------------------------------------------------------------

    def search_many(self, queries: np.ndarray, *, namespace: str, limit: int, since: float | None = None,
                    until: float | None = None, allowed: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, the ``limit`` best (slots, cosine scores), best first; ``allowed`` holds slots."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.file.dimension)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        filtered = since is not None or until is not None or allowed is not None
        size = self.table.count(namespace) if not filtered else None
        if limit <= 0 or not len(queries) or size == 0:
            return [empty] * len(queries)
        mask = None
        if filtered:
            mask = self.table.mask(namespace, since=since, until=until, allowed=allowed)
            size = int(mask.sum())
            if size == 0:
                return [empty] * len(queries)
        use_ann = self.ann is not None and (self.mode == "ann" or size >= self.exact_below) and self.mode != "exact"
        if use_ann:
            found = self._graph_search(queries, namespace, limit, size, since, until, allowed)
            if found is not None:
                return found
        if mask is None:
            mask = self.table.mask(namespace)
        return self._exact(queries, np.flatnonzero(mask), limit)

    def _exact(self, queries: np.ndarray, candidates: np.ndarray, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
        matrix = self.file.matrix(self.table.size)
        whole = len(candidates) == len(matrix)  # every slot qualifies: one contiguous scan
        scores = (matrix if whole else matrix[candidates]) @ queries.T
        return [_top(candidates, scores[:, j], limit) for j in range(len(queries))]

    def _graph_search(self, queries: np.ndarray, namespace: str, limit: int, size: int, since: float | None,
                      until: float | None, allowed: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """HNSW candidates, filtered and rescored exactly; None when a scan is the better plan."""
        assert self.ann is not None
        total = max(1, len(self.ann))
        # Ask for enough that, at the filter's selectivity, ``limit`` should pass.
        count = int(np.ceil((limit + _RERANK_EXTRA) * total / size * 1.2))
        matrix = self.file.matrix(self.table.size)
        results = []
        for query in queries:
            want = count
            while True:
                if want > _MAX_WIDEN and want < total:
                    return None
                keys = self.ann.search(query, min(want, total))[0]
                keys = keys[self.table.passes(keys, namespace, since=since, until=until, allowed=allowed)]
                if len(keys) >= limit + _RERANK_EXTRA or len(keys) >= size or want >= total:
                    break
                want *= 4
            keys = np.sort(keys)  # ascending slots: the gather reads the file front to back
            results.append(_top(keys, matrix[keys] @ query, limit))
        return results


def _top(slots: np.ndarray, scores: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(limit, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((slots[top], -scores[top]))]  # ties by slot: the same order every run
    return slots[top].astype(np.int64), scores[top].astype(np.float32)
