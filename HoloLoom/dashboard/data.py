"""What the dashboard reads under ``HOLOLOOM_HOME`` (:class:`~HoloLoom.home.HomeLayout`), as library types.

Weave records are read through :meth:`Spacetime.from_dict` and projected once into a
:class:`WeaveRow`; a line that is not a Spacetime (corrupt, or cut by a writer) is
skipped. The tool posteriors come from the learner's own reader
(:meth:`~HoloLoom.routing.Policy.stats`), never from its file format.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import HoloLoomError
from ..home import HomeLayout
from ..jsonl import JsonlFollower, JsonlLog
from ..rendering import inert
from ..weaving.events import Stage
from ..weaving.spacetime import Spacetime

__all__ = ["ProcessFigures", "RecordCache", "WeaveRow", "beta_summary", "clock", "load_feedback", "load_records",
           "load_tool_state", "signature", "weave_log_path"]

_TAIL_BYTES = 4 * 2**20
_RELOAD_BYTES = 32 * 2**20


def weave_log_path(home: str | os.PathLike[str]) -> os.PathLike[str]:
    return HomeLayout(home).weaves


def load_records(home: str | os.PathLike[str], n: int = 1000) -> list[dict[str, Any]]:
    """The last ``n`` weave-log records under ``home`` as the log holds them (JSON objects), oldest first."""
    return JsonlLog(HomeLayout(home).weaves).tail(n)


def load_tool_state(home: str | os.PathLike[str]) -> dict[str, dict[str, list[float]]]:
    """The policy's tool evidence from feedback, ``{intent: {tool: [successes, failures]}}`` (priors excluded)."""
    from ..routing.policy import Policy  # the learner's own reader of its state

    try:
        contexts = Policy(HomeLayout(home).policy, autosave_every=0).stats().get("tool", {}).get("contexts", {})
    except HoloLoomError:
        return {}
    return {intent: {tool: [post["alpha"] - 1.0, post["beta"] - 1.0] for tool, post in tools.items()}
            for intent, tools in contexts.items()}


def _feedback_logs(home: HomeLayout) -> list[JsonlLog]:
    # The orchestrator writes every feedback to state/feedback.jsonl; an earlier release's
    # routing metrics held the same events, so they are read only for older homes.
    if home.feedback.exists():
        return [JsonlLog(home.feedback)]
    return [JsonlLog(path) for path in home.legacy_feedback]


def load_feedback(home: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Feedback events naming a weave: ``{"spacetime_id", "reward", "timestamp"}``, from the last MiBs of each log."""
    events: list[dict[str, Any]] = []
    for log in _feedback_logs(HomeLayout(home)):
        for rec in log.tail(10**9, max_bytes=_TAIL_BYTES):
            if log.path.name == "routing_metrics.jsonl" and rec.get("kind") != "feedback":
                continue
            try:
                if rec.get("spacetime_id"):
                    events.append({"spacetime_id": str(rec["spacetime_id"]), "reward": float(rec.get("reward", 0.0)),
                                   "timestamp": rec.get("timestamp")})
            except (TypeError, ValueError):
                continue
    return events


def signature(home: str | os.PathLike[str]) -> str:
    """What changes when anything the dashboard reads changes (size and mtime of each file).

    A string: it round-trips through the browser, where integers past 2**53 (nanosecond mtimes) would not.
    """
    layout = HomeLayout(home)
    weaves = JsonlLog(layout.weaves)
    out: list[str] = []
    for path in (weaves.path, weaves.rotated, layout.policy, *(log.path for log in _feedback_logs(layout))):
        try:
            st = path.stat()
            out.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            out.append("-")
    return "|".join(out)


def clock(ts: float) -> str:
    """A local time plotly reads as a date (the page is served on this machine)."""
    t = time.localtime(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{int((ts % 1) * 1000):03d}"


def beta_summary(alpha: float, beta: float) -> dict[str, float]:
    n = alpha + beta
    mean = alpha / n if n > 0 else 0.0
    sd = math.sqrt(alpha * beta / (n * n * (n + 1))) if n > 0 else 0.0
    return {"alpha": round(alpha, 4), "beta": round(beta, 4), "mean": round(mean, 4), "sd": round(sd, 4)}


@dataclass(frozen=True, slots=True)
class ProcessFigures:
    """What the weave log adds to each Spacetime: the writing process and its store's size."""

    pid: str | None = None
    rss_mb: float | None = None
    memory_count: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "ProcessFigures":
        d = d or {}
        return cls(pid=None if d.get("pid") is None else str(d["pid"]),
                   rss_mb=None if d.get("rss_mb") is None else float(d["rss_mb"]),
                   memory_count=None if d.get("memory_count") is None else int(d["memory_count"]))


def status(st: Spacetime) -> str:
    if st.errors:
        return "error"
    return "degraded" if st.degraded else "ok"


def arm(st: Spacetime) -> str:
    return str(st.routing.get("arm") or st.backend or "unknown")


def query_type(st: Spacetime) -> str:
    """The query type the weave routed on (stage 1 reads it; older records: the router's, else the intent)."""
    qtype = st.routing.get("query_type")
    if qtype:
        return str(qtype)
    features = next((r.data for r in st.stages if r.stage is Stage.FEATURES), {})
    if features.get("query_type"):
        return str(features["query_type"])
    return f"intent:{features['intent']}" if features.get("intent") else "unknown"


@dataclass(frozen=True, slots=True)
class WeaveRow:
    """What the dashboard needs of one weave, projected once when its record is read."""

    id: str
    t: float
    clock: str
    query: str
    level: str
    arm: str
    query_type: str
    tool: str
    confidence: float
    ms: float
    status: str
    stages: tuple[tuple[str, float], ...]
    pid: str | None
    rss_mb: float | None
    memory_count: int | None
    posterior: dict[str, dict[str, float]] | None
    namespace: str = "default"

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> "WeaveRow | None":
        """The row of a weave-log record; None when the record is not a Spacetime."""
        try:
            st = Spacetime.from_dict(record)
            proc = ProcessFigures.from_dict(record.get("process"))
        except (HoloLoomError, KeyError, TypeError, ValueError, AttributeError):
            return None
        return cls.project(st, proc)

    @classmethod
    def project(cls, st: Spacetime, proc: ProcessFigures = ProcessFigures()) -> "WeaveRow":
        return cls(id=st.id, t=st.created_at, clock=clock(st.created_at), query=inert(st.query, keep_newlines=False),
                   level=st.complexity.value, arm=arm(st), query_type=query_type(st), tool=st.tool,
                   confidence=st.confidence, ms=st.duration_ms, status=status(st),
                   stages=tuple((r.stage.loom_name, r.duration_ms) for r in st.stages), pid=proc.pid,
                   rss_mb=proc.rss_mb, memory_count=proc.memory_count, posterior=_posterior_of(st.routing),
                   namespace=st.namespace)


def _posterior_of(routing: Mapping[str, Any]) -> dict[str, dict[str, float]] | None:
    """The arms' Beta posteriors a routing decision carries, if it carries any (learned routing does)."""
    post = routing.get("posterior")
    if isinstance(post, Mapping) and post:
        try:
            return {str(a): beta_summary(float(ab[0]), float(ab[1])) for a, ab in post.items()}
        except (TypeError, ValueError, IndexError, KeyError):
            pass
    means = routing.get("posterior_means")
    if isinstance(means, Mapping) and means:
        try:
            return {str(a): {"mean": round(float(m), 4), "sd": 0.0} for a, m in means.items()}
        except (TypeError, ValueError):
            pass
    return None


class RecordCache:
    """The last ``n`` rows of a weave log, each line parsed once: a refresh reads only what was appended.

    A log that was rotated (a new file) or shrank is read again from its tail, topped up
    from the rotated file.
    """

    def __init__(self, path: str | os.PathLike[str], n: int = 1000) -> None:
        self.log = JsonlLog(path)
        self.n = n
        self._rows: deque[WeaveRow] = deque(maxlen=n)
        self._follower = JsonlFollower(path, max_bytes=_RELOAD_BYTES)
        self._fresh = True  # nothing read from the current file yet
        self._lock = threading.Lock()

    @property
    def path(self) -> os.PathLike[str]:
        return self.log.path

    def rows(self) -> list[WeaveRow]:
        with self._lock:
            poll = self._follower.poll()
            if poll.restarted:
                self._rows.clear()
                self._fresh = True
            new = [row for row in map(WeaveRow.of, poll.records) if row is not None]
            if self._fresh and (new or self.log.rotated.exists()):
                self._fresh = False
                missing = self.n - len(new)
                if missing > 0:  # the rest from the rotated file
                    older = JsonlLog(self.log.rotated).tail(missing)
                    self._rows.extend(row for row in map(WeaveRow.of, older) if row is not None)
            self._rows.extend(new)
            return list(self._rows)
