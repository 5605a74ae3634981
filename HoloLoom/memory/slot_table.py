"""Which shard lives in which slot: the arrays the vector and BM25 indexes filter with.

A slot is a row of the embedded store's vector file. For each slot the table keeps the
SQLite row id of its shard, a small integer code for its namespace (``-1`` for a slot
that is free or retired) and its ``occurred_at``, as flat numpy arrays: a namespace or
time filter over a million slots is one vectorised comparison, and the whole table costs
20 bytes a slot. Per-namespace live counts are kept so the common filter (a namespace
and nothing else) needs no scan at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SlotTable"]

DEAD = -1


class SlotTable:
    """Slot -> (row id, namespace code, time), growable, with live counts per namespace."""

    def __init__(self, capacity: int = 1024) -> None:
        self.rowids = np.zeros(capacity, dtype=np.int64)
        self.namespaces = np.full(capacity, DEAD, dtype=np.int32)
        self.times = np.zeros(capacity, dtype=np.float64)
        self.size = 0  # one past the highest slot ever assigned
        self.names: list[str] = []
        self._codes: dict[str, int] = {}
        self._counts: dict[int, int] = {}

    # -- state ------------------------------------------------------------------------

    @classmethod
    def from_arrays(cls, rowids: np.ndarray, namespaces: np.ndarray, times: np.ndarray,
                    names: Sequence[str]) -> "SlotTable":
        table = cls(max(1024, len(rowids)))
        n = len(rowids)
        table.rowids[:n], table.namespaces[:n], table.times[:n] = rowids, namespaces, times
        table.size = n
        table.names = list(names)
        table._codes = {name: i for i, name in enumerate(table.names)}
        live = namespaces[namespaces >= 0]
        table._counts = {int(c): int(k) for c, k in enumerate(np.bincount(live, minlength=len(names))) if k}
        return table

    def arrays(self) -> dict[str, np.ndarray]:
        return {"rowids": self.rowids[: self.size], "namespaces": self.namespaces[: self.size],
                "times": self.times[: self.size]}

    # -- updates ----------------------------------------------------------------------

    def code(self, namespace: str, *, create: bool = False) -> int | None:
        code = self._codes.get(namespace)
        if code is None and create:
            code = self._codes[namespace] = len(self.names)
            self.names.append(namespace)
        return code

    def _grow(self, needed: int) -> None:
        capacity = len(self.rowids)
        if needed <= capacity:
            return
        new = max(needed, capacity * 2)
        for name, fill in (("rowids", 0), ("namespaces", DEAD), ("times", 0.0)):
            old = getattr(self, name)
            grown = np.full(new, fill, dtype=old.dtype)
            grown[: self.size] = old[: self.size]
            setattr(self, name, grown)

    def assign(self, slots: np.ndarray, rowids: np.ndarray, namespaces: Sequence[str], times: np.ndarray) -> None:
        """Mark ``slots`` live, holding the given shards."""
        slots = np.asarray(slots, dtype=np.int64)
        if not len(slots):
            return
        self._grow(int(slots.max()) + 1)
        codes = np.fromiter((self.code(ns, create=True) for ns in namespaces), dtype=np.int32, count=len(slots))
        self.retire(slots[self.namespaces[slots] >= 0])  # re-assigning a live slot replaces it
        self.rowids[slots], self.namespaces[slots], self.times[slots] = rowids, codes, times
        self.size = max(self.size, int(slots.max()) + 1)
        for code, k in zip(*np.unique(codes, return_counts=True)):
            self._counts[int(code)] = self._counts.get(int(code), 0) + int(k)

    def retire(self, slots: np.ndarray) -> np.ndarray:
        """Mark ``slots`` dead; returns those that were live."""
        slots = np.asarray(slots, dtype=np.int64)
        slots = slots[(slots < self.size)]
        slots = np.unique(slots[self.namespaces[slots] >= 0])
        for code, k in zip(*np.unique(self.namespaces[slots], return_counts=True)):
            self._counts[int(code)] -= int(k)
        self.namespaces[slots] = DEAD
        return slots

    # -- reads ------------------------------------------------------------------------

    @property
    def live(self) -> int:
        return sum(self._counts.values())

    def count(self, namespace: str) -> int:
        code = self._codes.get(namespace)
        return 0 if code is None else self._counts.get(code, 0)

    def mask(self, namespace: str, *, since: float | None = None, until: float | None = None,
             allowed: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask over ``[0, size)``: live slots of the namespace passing the filters."""
        code = self._codes.get(namespace)
        n = self.size
        if code is None:
            return np.zeros(n, dtype=bool)
        mask = self.namespaces[:n] == code
        if since is not None:
            mask &= self.times[:n] >= since
        if until is not None:
            mask &= self.times[:n] <= until
        if allowed is not None:
            keep = np.zeros(n, dtype=bool)
            allowed = np.asarray(allowed, dtype=np.int64)
            keep[allowed[allowed < n]] = True
            mask &= keep
        return mask

    def passes(self, slots: np.ndarray, namespace: str, *, since: float | None = None,
               until: float | None = None, allowed: np.ndarray | None = None) -> np.ndarray:
        """Which of ``slots`` (any slots, -1 included) pass the same filters, without a full scan."""
        slots = np.asarray(slots, dtype=np.int64)
        code = self._codes.get(namespace)
        ok = (slots >= 0) & (slots < self.size)
        if code is None:
            return np.zeros(len(slots), dtype=bool)
        safe = np.where(ok, slots, 0)
        ok &= self.namespaces[safe] == code
        if since is not None:
            ok &= self.times[safe] >= since
        if until is not None:
            ok &= self.times[safe] <= until
        if allowed is not None:
            ok &= np.isin(slots, allowed)
        return ok
