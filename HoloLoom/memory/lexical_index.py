"""BM25 over a compressed inverted index of the embedded store's slots, kept incrementally.

The index is a sparse term x slot matrix in CSR form: ``keys`` (sorted 64-bit term
hashes), ``offsets`` into ``slots`` (int32) and ``tfs`` (term frequencies, uint16), six
bytes a posting and no Python object per term or posting, so a million memories fit in
about 100 MB and a checkpoint maps it back from disk without reading it. New documents
go to a small in-memory delta (a dict of lists) that is merged into the arrays every
:data:`MERGE_POSTINGS` postings: a merge is one ``np.insert`` pass, so keeping the
index current costs amortised O(1) a posting. Nothing is rebuilt from the stored text.

A query reads the postings of its few terms and scores them with vectorised numpy: the
cost grows with the postings of the query's terms, not with the corpus. Statistics (N,
document frequency, average length) are per namespace, so one tenant's text never shapes
another's scores; retired slots are skipped by the slot table's namespace code and
dropped from the arrays when they make up half of them.

BM25 with k1 = 1.2, b = 0.75 and the Lucene/ATIRE idf ``log(1 + (N - df + 0.5) / (df + 0.5))``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..extraction import STOPWORDS
from .slot_table import SlotTable

__all__ = ["LexicalIndex", "lexical_terms"]

_TOKEN = re.compile(r"\w+", re.UNICODE)
K1 = 1.2
B = 0.75
MERGE_POSTINGS = 200_000
_EMPTY_SLOTS = np.zeros(0, dtype=np.int32)


def lexical_terms(text: str) -> list[str]:
    """Accent- and case-folded word tokens without stopwords (document and query alike)."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).casefold()
    return [t for t in _TOKEN.findall(folded) if t not in STOPWORDS]


@functools.lru_cache(maxsize=1 << 16)
def _term_key(term: str) -> int:
    """A stable 64-bit hash of a term (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


class LexicalIndex:
    """BM25 over the slots of a :class:`SlotTable` (namespaces, times and liveness come from it)."""

    def __init__(self, table: SlotTable, arrays: dict[str, np.ndarray] | None = None) -> None:
        self.table = table
        arrays = arrays or {}
        self.keys = arrays.get("keys", np.zeros(0, dtype=np.uint64))
        self.offsets = arrays.get("offsets", np.zeros(1, dtype=np.int64))
        self.slots = arrays.get("slots", _EMPTY_SLOTS)
        self.tfs = arrays.get("tfs", np.zeros(0, dtype=np.uint16))
        lengths = arrays.get("lengths", np.zeros(0, dtype=np.float32))
        self.lengths = np.zeros(max(1024, len(lengths)), dtype=np.float32)
        self.lengths[: len(lengths)] = lengths
        self._delta: dict[int, tuple[list[int], list[int]]] = {}
        self._delta_postings = 0
        self._totals = self._namespace_totals()
        self._scratch = np.zeros(0, dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as flat arrays (for a checkpoint); merges the delta first."""
        self.merge()
        return {"keys": self.keys, "offsets": self.offsets, "slots": self.slots, "tfs": self.tfs,
                "lengths": self.lengths[: self.table.size]}

    def _namespace_totals(self) -> np.ndarray:
        n = self.table.size
        codes = self.table.namespaces[:n]
        live = codes >= 0
        return np.bincount(codes[live], weights=self.lengths[:n][live], minlength=len(self.table.names))

    def _total(self, code: int) -> float:
        if code >= len(self._totals):
            self._totals = np.concatenate([self._totals, np.zeros(code + 1 - len(self._totals))])
        return float(self._totals[code])

    # -- updates ----------------------------------------------------------------------

    def add(self, slots: Sequence[int], texts: Sequence[str]) -> None:
        """Index documents just assigned to ``slots`` in the table."""
        if not len(slots):
            return
        top = int(max(slots)) + 1
        if top > len(self.lengths):
            grown = np.zeros(max(top, 2 * len(self.lengths)), dtype=np.float32)
            grown[: len(self.lengths)] = self.lengths
            self.lengths = grown
        for slot, text in zip(slots, texts):
            counts = Counter(lexical_terms(text))
            self.lengths[slot] = sum(counts.values())
            code = int(self.table.namespaces[slot])
            self._total(code)
            self._totals[code] += self.lengths[slot]
            for term, tf in counts.items():
                posting = self._delta.setdefault(_term_key(term), ([], []))
                posting[0].append(int(slot))
                posting[1].append(min(tf, 65535))
            self._delta_postings += len(counts)
        if self._delta_postings >= MERGE_POSTINGS:
            self.merge()

    def retired(self, slots: np.ndarray, codes: np.ndarray) -> None:
        """Slots the table just retired (with the namespace codes they had)."""
        for slot, code in zip(np.asarray(slots).tolist(), np.asarray(codes).tolist()):
            if slot < len(self.lengths) and code >= 0:
                self._total(code)
                self._totals[code] -= self.lengths[slot]

    def merge(self) -> None:
        """Fold the delta into the arrays (one insert pass), dropping retired slots if they dominate."""
        if self._delta:
            dkeys = np.fromiter(sorted(self._delta), dtype=np.uint64, count=len(self._delta))
            postings = [self._delta[int(k)] for k in dkeys]
            counts = np.fromiter((len(p[0]) for p in postings), dtype=np.int64, count=len(postings))
            dslots = np.fromiter((s for p in postings for s in p[0]), dtype=np.int32, count=int(counts.sum()))
            dtfs = np.fromiter((t for p in postings for t in p[1]), dtype=np.uint16, count=int(counts.sum()))
            where = np.searchsorted(self.keys, dkeys)
            padded = np.append(self.keys, np.uint64(0))  # so ``where == len(keys)`` indexes safely
            known = (where < len(self.keys)) & (padded[where] == dkeys)
            at = np.where(known, self.offsets[np.minimum(where + 1, len(self.offsets) - 1)], self.offsets[where])
            self.slots = np.insert(self.slots, np.repeat(at, counts), dslots)
            self.tfs = np.insert(self.tfs, np.repeat(at, counts), dtfs)
            sizes = np.diff(self.offsets)
            np.add.at(sizes, where[known], counts[known])
            sizes = np.insert(sizes, where[~known], counts[~known])
            self.keys = np.insert(self.keys, where[~known], dkeys[~known])
            self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            self._delta, self._delta_postings = {}, 0
        if len(self.slots) > 100_000:
            dead = self.table.namespaces[np.minimum(self.slots, self.table.size - 1)] < 0
            if dead.sum() * 2 > len(self.slots):
                self._drop(~dead)

    def _drop(self, keep: np.ndarray) -> None:
        term_of = np.repeat(np.arange(len(self.keys)), np.diff(self.offsets))
        sizes = np.bincount(term_of[keep], minlength=len(self.keys))
        self.slots, self.tfs = self.slots[keep], self.tfs[keep]
        used = sizes > 0
        self.keys = self.keys[used]
        self.offsets = np.concatenate([[0], np.cumsum(sizes[used])]).astype(np.int64)

    # -- search -------------------------------------------------------------------------

    def _postings(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        i = int(np.searchsorted(self.keys, np.uint64(key)))
        if i < len(self.keys) and int(self.keys[i]) == key:
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            slots, tfs = self.slots[lo:hi], self.tfs[lo:hi]
        else:
            slots, tfs = _EMPTY_SLOTS, np.zeros(0, dtype=np.uint16)
        extra = self._delta.get(key)
        if extra:
            slots = np.concatenate([slots, np.asarray(extra[0], dtype=np.int32)])
            tfs = np.concatenate([tfs, np.asarray(extra[1], dtype=np.uint16)])
        return slots, tfs

    def search(self, namespace: str, query: str, *, limit: int, since: float | None = None,
               until: float | None = None, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``limit`` best (slots, BM25 scores) of the namespace, best first; ``allowed`` holds slots."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        code = self.table.code(namespace)
        n_docs = self.table.count(namespace)
        terms = list(dict.fromkeys(lexical_terms(query)))
        if code is None or n_docs == 0 or not terms or limit <= 0:
            return empty
        avgdl = max(self._total(code) / n_docs, 1e-9)
        if len(self._scratch) < self.table.size:
            self._scratch = np.zeros(max(self.table.size, 2 * len(self._scratch)), dtype=np.float32)
        scratch = self._scratch  # every weight is > 0, so the touched slots are its nonzeros
        for term in terms:
            slots, tfs = self._postings(_term_key(term))
            if not len(slots):
                continue
            mine = self.table.namespaces[slots] == code
            slots, tf = slots[mine], tfs[mine].astype(np.float32)
            if not len(slots):
                continue
            idf = np.log1p((n_docs - len(slots) + 0.5) / (len(slots) + 0.5))
            norm = K1 * (1.0 - B + B * self.lengths[slots] / avgdl)
            scratch[slots] += idf * tf * (K1 + 1.0) / (tf + norm)  # slots are distinct within a term
        docs = np.flatnonzero(scratch[: self.table.size])
        scores = scratch[docs].copy()
        scratch[docs] = 0.0
        ok = self.table.passes(docs, namespace, since=since, until=until, allowed=allowed)
        docs, scores = docs[ok], scores[ok]
        k = min(limit, len(docs))
        if k == 0:
            return empty
        top = np.argpartition(-scores, k - 1)[:k] if k < len(docs) else np.arange(len(docs))
        # Ties break by row id so every run (and every backend) orders them alike.
        top = top[np.lexsort((self.table.rowids[docs[top]], -scores[top]))]
        return docs[top], scores[top]
