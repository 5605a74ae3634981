"""Small JSON state files that several processes may update at once.

Writes are atomic (a temporary file in the same directory, fsync, ``os.replace``, then
fsync of the directory), so a reader sees the old file or the new one, never half of
one. Writers serialise on an advisory lock held on a sidecar ``<name>.lock`` file (the
state file itself is replaced on every write, so it cannot carry the lock) and follow
read-merge-write under it: see :func:`update_json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import RoutingStateError

__all__ = ["file_lock", "read_json", "update_json", "write_json_atomic"]

try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


@contextlib.contextmanager
def file_lock(path: str | Path, *, timeout: float = 30.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<path>.lock`` (created if missing).

    Raises:
        RoutingStateError: the lock was not obtained within ``timeout`` seconds.
    """
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise RoutingStateError(f"{lock_path}: still locked by another process after {timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def read_json(path: str | Path) -> dict[str, Any] | None:
    """The JSON object stored at ``path``, or None when there is no file yet.

    Raises:
        RoutingStateError: the file exists but is not a JSON object.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RoutingStateError(f"{path}: cannot read routing state ({exc})") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise RoutingStateError(
            f"{path}: not valid JSON ({exc}); move it aside or delete it to reset what the router learned"
        ) from exc
    if not isinstance(data, dict):
        raise RoutingStateError(f"{path}: expected a JSON object; delete it to reset what the router learned")
    return data


def write_json_atomic(path: str | Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` so that no reader ever sees a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(data, indent=1, sort_keys=True, allow_nan=False).encode("utf-8") + b"\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible (or needed) on Windows.
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def update_json(
    path: str | Path,
    merge: Callable[[dict[str, Any] | None], dict[str, Any]],
    *,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Lock, re-read, ``merge(current)``, write atomically; returns what was written.

    ``merge`` receives what is on disk *now* (None if nothing), so changes another
    process saved since this one last read are kept rather than overwritten.
    """
    with file_lock(path, timeout=timeout):
        merged = merge(read_json(path))
        write_json_atomic(path, merged)
        return merged
