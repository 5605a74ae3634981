"""One JSON-lines log class: append from any process, read the tail, follow what is appended.

The weave log and the feedback log (:class:`~HoloLoom.home.HomeLayout`) are both
:class:`JsonlLog` files. An append is one ``write`` of one line on an ``O_APPEND``
descriptor, so concurrent writers in several processes never interleave. Past
``max_bytes`` the file is rotated once (``NAME.1.jsonl``). Readers skip corrupt lines and
a last line still being written.

:class:`JsonlFollower` is the reader for dashboards and metrics processes: each
:meth:`~JsonlFollower.poll` returns only the records appended since the previous one,
and notices when the file was rotated or replaced.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JsonlFollower", "JsonlLog", "Poll"]


def _records(lines: list[bytes]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


class JsonlLog:
    """A JSON-lines file with one-step rotation.

    Args:
        path: the file (its directory is created on the first append).
        max_bytes: past this size the next append first rotates the file to ``NAME.1.jsonl``.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 64 * 2**20) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes

    @property
    def rotated(self) -> Path:
        """The previous file, after a rotation."""
        return self.path.with_suffix(".1.jsonl")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line (blocking file I/O: call it off the event loop)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            if self.path.stat().st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.rotated)
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def _tail_lines(self, max_bytes: int) -> list[bytes]:
        lines: list[bytes] = []
        for path in (self.path, self.rotated):
            if not path.exists() or max_bytes <= 0:
                continue
            with path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                start = max(0, size - max_bytes)
                fh.seek(start)
                chunk = fh.read()
            parts = chunk.split(b"\n")
            if start > 0:
                parts = parts[1:]  # the first line is cut
            lines = [p for p in parts if p.strip()] + lines
            max_bytes -= size
        return lines

    def tail(self, n: int = 1000, *, max_bytes: int = 32 * 2**20) -> list[dict[str, Any]]:
        """The last ``n`` records (the rotated file's too), oldest first."""
        out: list[dict[str, Any]] = []
        for raw in reversed(self._tail_lines(max_bytes)):
            out.extend(_records([raw]))
            if len(out) >= n:
                break
        out.reverse()
        return out

    def find(self, record_id: str, *, key: str = "id") -> dict[str, Any] | None:
        """The newest record whose ``key`` is ``record_id`` (None when there is none)."""
        needle = record_id.encode()
        for raw in reversed(self._tail_lines(64 * 2**20)):
            if needle in raw:
                for record in _records([raw]):
                    if record.get(key) == record_id:
                        return record
        return None


@dataclass(frozen=True, slots=True)
class Poll:
    """What one :meth:`JsonlFollower.poll` read.

    Attributes:
        records: the records appended since the previous poll, oldest first.
        restarted: the file was rotated, replaced or truncated since the previous poll:
            ``records`` are then read afresh from its tail, and whatever a reader kept
            from the old file is stale.
    """

    records: list[dict[str, Any]]
    restarted: bool = False


class JsonlFollower:
    """Reads a JSON-lines file incrementally: each line is parsed once.

    Args:
        path: the file to follow (it may not exist yet).
        from_start: the first poll reads the file's tail (up to ``max_bytes``); otherwise
            it starts at the current end and returns nothing.
        max_bytes: how much of a file's end is read when (re)starting on it.
    """

    def __init__(self, path: str | os.PathLike[str], *, from_start: bool = True, max_bytes: int = 32 * 2**20) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._from_start = from_start
        self._identity: tuple[int, int, bytes] | None = None  # which file was read
        self._offset = 0

    def poll(self) -> Poll:
        try:
            st = self.path.stat()
        except OSError:
            restarted = self._identity is not None
            self._identity, self._offset = None, 0
            self._from_start = True  # a file that appears later is read from its start
            return Poll([], restarted)
        identity = _identity(self.path, st)
        first = self._identity is None
        if first or identity != self._identity or st.st_size < self._offset:
            self._identity = identity
            if first and not self._from_start:
                self._offset = st.st_size
                self._from_start = True  # a file that appears later is read from its start
                return Poll([])
            return Poll(self._read_from(max(0, st.st_size - self.max_bytes)), restarted=not first)
        if st.st_size == self._offset:
            return Poll([])
        return Poll(self._read_from(self._offset, cut=False))

    def _read_from(self, start: int, *, cut: bool = True) -> list[dict[str, Any]]:
        with self.path.open("rb") as fh:
            fh.seek(start)
            chunk = fh.read()
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._offset = start + end
        lines = chunk[:end].split(b"\n")
        if cut and start > 0:
            lines = lines[1:]  # cut by the seek
        return _records(lines)


def _identity(path: Path, st: os.stat_result) -> tuple[int, int, bytes]:
    """A file's identity: device, inode and first bytes (inodes are reused; each line starts with a unique id)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        head = b""
    return st.st_dev, st.st_ino, head
