"""An append-only file of float32 vectors, read through a memory map.

The embedded store keeps every vector here, one fixed-size row per *slot*, and records
each shard's slot in SQLite. Rows are only ever appended (a replaced or deleted shard's
old slot is retired, never overwritten), so a process that mapped a prefix of the file
never sees it change under it, and several processes can share one file: appends happen
inside SQLite's write transaction, which serialises them, and are fsynced before that
transaction commits, so a committed shard's vector is always on disk.

Reading through a memory map means opening a store costs no read at all, and the pages a
search never touches never count against the process's memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["VectorFile"]


class VectorFile:
    """Float32 rows of a fixed dimension, appended and memory-mapped."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self.row_bytes = dimension * 4
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._map: np.ndarray = np.zeros((0, dimension), dtype=np.float32)

    @property
    def slots(self) -> int:
        """Rows the file holds (a torn last row, from a crash mid-append, is not counted)."""
        return os.fstat(self._fd).st_size // self.row_bytes

    def append(self, vectors: np.ndarray) -> int:
        """Write ``vectors`` after the last whole row; returns the first new slot. Not yet durable."""
        rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        first = self.slots
        data = memoryview(rows.tobytes())
        offset = first * self.row_bytes
        while data:
            written = os.pwrite(self._fd, data, offset)
            data, offset = data[written:], offset + written
        return first

    def sync(self) -> None:
        """Make every appended row durable (called before SQLite commits the shards)."""
        os.fsync(self._fd)

    def matrix(self, rows: int | None = None) -> np.ndarray:
        """A read-only view of the first ``rows`` slots (all of them by default)."""
        rows = self.slots if rows is None else rows
        if rows > len(self._map):
            self._map = np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.slots, self.dimension))
        return self._map[:rows]

    def close(self) -> None:
        self._map = np.zeros((0, self.dimension), dtype=np.float32)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
