"""The weave log: one JSON line per Spacetime under ``HOLOLOOM_HOME/state/weaves.jsonl``.

It is how other processes see what this one wove: ``hololoom feedback`` credits a weave
made by ``hololoom ask``, and the dashboard shows recent queries and their traces. Each
record is the whole Spacetime plus process figures (memory count, resident memory).
Appends are one ``write`` of one line on an ``O_APPEND`` descriptor, so concurrent
writers never interleave. Past ``max_bytes`` the file is rotated once (``.1``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["WeaveLog", "process_rss_mb"]


def process_rss_mb() -> float:
    """This process's resident memory in MiB (0.0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / (2**20 if sys.platform == "darwin" else 1024)
        except Exception:
            return 0.0


class WeaveLog:
    def __init__(self, path: str | Path, *, max_bytes: int = 64 * 2**20) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            if self.path.stat().st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_suffix(".1.jsonl"))
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def _tail_lines(self, max_bytes: int) -> list[bytes]:
        lines: list[bytes] = []
        for path in (self.path, self.path.with_suffix(".1.jsonl")):
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
        """The last ``n`` records, oldest first (corrupt lines are skipped)."""
        out: list[dict[str, Any]] = []
        for raw in reversed(self._tail_lines(max_bytes)):
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
            if len(out) >= n:
                break
        out.reverse()
        return out

    def find(self, weave_id: str) -> dict[str, Any] | None:
        needle = weave_id.encode()
        for raw in reversed(self._tail_lines(64 * 2**20)):
            if needle in raw:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if record.get("id") == weave_id:
                    return record
        return None
