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

The graph is kept off the write path: an add makes its vectors searchable at once (new
slots wait in a small *pending* list that every search scans exactly) and a background
thread moves them into the graph, so a write costs no HNSW insertion and the insertions
overlap the embedding of the next batch. The first graph is built the same way when the
store crosses the threshold; until it is ready, search stays exact.

``mode`` forces one path: ``"exact"`` never builds the graph, ``"ann"`` builds it at any
size and uses it whenever it holds the namespace (the quality benchmark's
``--vector-search ann`` uses this to show the graph changes no answer).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import numpy as np

from .ann_index import AnnIndex
from .slot_table import SlotTable
from .vector_file import VectorFile

__all__ = ["EXACT_BELOW", "MODES", "VectorIndex"]

EXACT_BELOW = 20_000
MODES = ("auto", "exact", "ann")
_RERANK_EXTRA = 16  # HNSW candidates beyond ``limit`` rescored exactly: recall for little cost
_MAX_WIDEN = 65_536  # past this many candidates a filtered scan is cheaper than a wider graph search

log = logging.getLogger("HoloLoom.memory")


class VectorIndex:
    """Cosine search over the live slots of a :class:`SlotTable`, vectors read from a :class:`VectorFile`."""

    def __init__(self, table: SlotTable, vectors: VectorFile, *, mode: str = "auto",
                 exact_below: int = EXACT_BELOW, ann: AnnIndex | None = None,
                 pending: np.ndarray | None = None) -> None:
        self.table = table
        self.file = vectors
        self.mode = mode
        self.exact_below = exact_below
        self.ann = ann
        self._pending: list[np.ndarray] = []  # slots written but not yet in the graph
        self._lock = threading.Lock()  # guards the graph and the pending list
        self._wake = threading.Condition(self._lock)
        self._indexer: threading.Thread | None = None
        self._stopping = False
        self._building = False
        if ann is not None and pending is not None and len(pending):
            self.added(np.asarray(pending, dtype=np.int64))  # what the checkpointed graph still lacked

    @property
    def wants_ann(self) -> bool:
        return self.mode == "ann" or (self.mode == "auto" and self.table.live >= self.exact_below)

    def vector(self, slot: int) -> np.ndarray:
        return np.array(self.file.matrix(slot + 1)[slot], dtype=np.float32)

    # -- upkeep -------------------------------------------------------------------------

    def added(self, slots: np.ndarray, vectors: np.ndarray | None = None) -> None:
        """Slots just assigned in the table: searchable now, in the graph soon."""
        with self._lock:
            if self.ann is None and not self._building:
                if not self.wants_ann:
                    return
                self._building = True
            if len(slots):
                self._pending.append(np.asarray(slots, dtype=np.int64))
            self._start_indexer()
            self._wake.notify()

    def removed(self, slots: np.ndarray) -> None:
        if len(slots):
            with self._lock:
                if self.ann is not None:
                    self.ann.remove(slots)

    def _start_indexer(self) -> None:
        if self._indexer is None:
            self._indexer = threading.Thread(target=self._index_forever, name="hololoom-hnsw", daemon=True)
            self._indexer.start()

    def _index_forever(self) -> None:
        """The indexer thread. If the graph cannot be built or extended (a broken install, no
        memory), search falls back to exact for good: slower at scale, never wrong, and
        nothing waits for a graph that will not come."""
        try:
            self._index_until_stopped()
        except Exception:
            log.warning("vector index: the HNSW graph failed; searching exactly from now on", exc_info=True)
            with self._lock:
                self.ann, self._building, self._pending, self.mode = None, False, [], "exact"
                self._wake.notify_all()

    def _index_until_stopped(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and not self._pending and not (self._building and self.ann is None):
                    self._wake.wait()
                if self._stopping:
                    return
                building = self.ann is None
            if building:
                self._build_unlocked()
            else:
                self._index_some(1024)

    def _index_some(self, most: int) -> int:
        """Move up to ``most`` pending slots into the graph; returns how many."""
        with self._lock:
            if not self._pending or self.ann is None:
                return 0
            batch = np.concatenate(self._pending)
            take, rest = batch[:most], batch[most:]
            self._pending = [rest] if len(rest) else []
            take = take[~self.ann.contains(take)]  # already in a graph built while they queued
            self.ann.add(take, self.file.matrix()[take])
            return len(take)

    def _build_unlocked(self) -> None:
        """Build the first graph without holding the lock (searches stay exact meanwhile)."""
        with self._lock:
            live = np.flatnonzero(self.table.namespaces[: self.table.size] >= 0)
            self._pending = []  # everything live now is in this build; later adds queue anew
        ann = AnnIndex(self.file.dimension)
        matrix = self.file.matrix()
        for start in range(0, len(live), 8192):
            if self._stopping:  # closing: the next open builds it again
                with self._lock:
                    self._building = False
                    self._wake.notify_all()
                return
            part = live[start : start + 8192]
            ann.add(part, matrix[part])
        with self._lock:
            self.ann, self._building = ann, False
            self._wake.notify_all()

    @property
    def state(self) -> str:
        """``"graph"``, ``"building"`` (exact until the first graph is ready) or ``"exact"``."""
        return "graph" if self.ann is not None else "building" if self._building else "exact"

    def flush(self) -> None:
        """Wait for a first build, then put every pending slot into the graph now (before a checkpoint)."""
        with self._lock:
            while self._building and self.ann is None:
                self._wake.wait()
        while self._index_some(1 << 20):
            pass

    @contextlib.contextmanager
    def frozen(self) -> Iterator[tuple[AnnIndex | None, np.ndarray]]:
        """The graph (None while the first one is being built) and the slots not yet in it,
        held still for a checkpoint: the indexer waits, nothing else does."""
        with self._lock:
            pending = np.concatenate(self._pending) if self._pending else np.zeros(0, dtype=np.int64)
            yield self.ann, pending

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        if self._indexer is not None:
            self._indexer.join()

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
        if self.mode != "exact" and (self.mode == "ann" or size >= self.exact_below):
            with self._lock:
                if self.ann is not None:
                    pending = np.concatenate(self._pending) if self._pending else np.zeros(0, dtype=np.int64)
                    found = self._graph_search(queries, namespace, limit, size, pending, since, until, allowed)
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

    def _graph_search(self, queries: np.ndarray, namespace: str, limit: int, size: int, pending: np.ndarray,
                      since: float | None, until: float | None,
                      allowed: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """HNSW candidates plus the pending slots, filtered and rescored exactly; None when a
        scan is the better plan. Called with the lock held."""
        assert self.ann is not None
        total = max(1, len(self.ann))
        extra = pending[self.table.passes(pending, namespace, since=since, until=until, allowed=allowed)]
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
                found = len(keys) + len(extra)
                if found >= limit + _RERANK_EXTRA or found >= size or want >= total:
                    break
                want *= 4
            keys = np.union1d(keys, extra)  # ascending slots: the gather reads the file front to back
            results.append(_top(keys, matrix[keys] @ query, limit))
        return results


def _top(slots: np.ndarray, scores: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(limit, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((slots[top], -scores[top]))]  # ties by slot: the same order every run
    return slots[top].astype(np.int64), scores[top].astype(np.float32)


_blas = None


def single_blas_thread():
    """One BLAS thread for index scans: they are memory-bound, and a second OpenBLAS thread
    on a busy 2-core machine stalls them (measured: 12 ms vs 20 ms for a 100k x 96 scan)."""
    global _blas
    try:
        if _blas is None:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController()
        return _blas.limit(limits=1, user_api="blas")
    except Exception:  # threadpoolctl missing or unusable: run as configured
        import contextlib

        return contextlib.nullcontext()
