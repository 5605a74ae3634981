"""The weave and feedback logs, written by an event subscriber on a thread of its own.

:class:`WeaveLogWriter` subscribes to a loom's events. On :class:`~.events.WeaveEnded`
it queues the Spacetime, and its thread turns it into a JSON line (the whole Spacetime
plus process figures: pid, resident memory, the namespace's memory count) and appends it
to ``state/weaves.jsonl``; on :class:`~.events.FeedbackGiven` it appends to
``state/feedback.jsonl``. Encoding and file writes never run on the event loop, so a
slow disk never delays a weave. :class:`Background` is that thread: the learner's
periodic saves are queued on it too.

:meth:`Background.flush` waits until everything queued so far is done; ``close()``
flushes and stops the thread, so a process that exits through ``loom.close()`` leaves
every weave in the log for ``hololoom feedback`` and the dashboard.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..jsonl import JsonlLog
from .events import FeedbackGiven, LoomEvent, WeaveEnded

__all__ = ["Background", "WeaveLogWriter", "process_rss_mb"]

log = logging.getLogger("HoloLoom.weave_log")


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


class Background:
    """One daemon thread running queued calls in order (started on the first call)."""

    def __init__(self, name: str = "hololoom-background") -> None:
        self._name = name
        self._queue: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` on the thread; an exception is logged, never raised."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()
        self._queue.put(lambda: fn(*args, **kwargs))

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                job()
            except Exception:
                log.exception("background write failed")
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Block until every call queued so far has run."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()
            self._thread = None


class WeaveLogWriter:
    """An event subscriber appending each finished weave and each feedback to its log, off the loop.

    Args:
        weaves: the weave log; ``feedback``: the feedback log.
        background: the thread to write on.
        memory_count: the namespace's memory count as last known (cheap; read on the thread).
    """

    def __init__(self, weaves: JsonlLog, feedback: JsonlLog, background: Background, *,
                 memory_count: Callable[[str], int | None] = lambda _ns: None) -> None:
        self.weaves = weaves
        self.feedback = feedback
        self._background = background
        self._memory_count = memory_count
        self._pid = os.getpid()

    def __call__(self, event: LoomEvent) -> None:
        if isinstance(event, WeaveEnded):
            self._background.submit(self._write_weave, event)
        elif isinstance(event, FeedbackGiven):
            self._background.submit(self.feedback.append, {
                "spacetime_id": event.weave_id, "reward": event.reward, "tool": event.tool, "arm": event.arm,
                "timestamp": event.timestamp})

    def _write_weave(self, event: WeaveEnded) -> None:
        st = event.spacetime
        record = st.to_dict()
        record["process"] = {"pid": self._pid, "rss_mb": round(process_rss_mb(), 1),
                             "memory_count": self._memory_count(st.namespace)}
        self.weaves.append(record)
