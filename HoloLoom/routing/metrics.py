"""One JSON line per routed query: append-only, streamed back, aggregated per arm.

Each outcome line (``"kind": "outcome"``)::

    {"kind": "outcome", "timestamp": 1764000000.123, "decision_id": "9f1c...", "query_hash": "5d41402abc4b2a76",
     "query_type": "factual", "complexity": "FAST", "arm": "vector", "strategy": "learned",
     "latency_ms": 12.5, "relevance": 0.81, "confidence": 0.77, "success": true, "reward": 0.83,
     "memory_size": 994, "spacetime_id": null, "ab_variant": null}

Explicit feedback that arrives later is a ``"kind": "feedback"`` line naming the same
``decision_id``; :meth:`MetricsCollector.aggregates` then uses the feedback reward for that
query. The raw query text is stored (as ``"query"``) only with ``store_raw_queries=True``;
``query_hash`` is a pseudonym (BLAKE2b, keyed with ``hash_key`` when given) so repeated
questions can be grouped without keeping what was asked.

Writes open the file with ``O_APPEND`` and issue one ``write()`` per line, so the file is
never loaded, several processes can append to it, and a rotated (renamed) file is left
alone: the next line starts a new file. Reads stream line by line; :meth:`tail` reads
backwards from the end, so showing the last 1,000 queries costs the same on a large file
as on a small one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..types import Complexity, to_timestamp
from .bandit import check_unit

__all__ = ["MetricsCollector"]

_BLOCK = 64 * 1024
_FEEDBACK_MARK = b'"kind": "feedback"'


class MetricsCollector:
    """Append-only routing metrics in a JSON-lines file.

    Args:
        path: the ``.jsonl`` file (created with its directory on first write).
        store_raw_queries: also keep the query text; off by default (privacy).
        hash_key: key for the query hash (e.g. a per-deployment secret), so hashes of
            short, guessable questions cannot be reversed by hashing guesses.
        clock: epoch-seconds clock for timestamps (inject one in tests).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        store_raw_queries: bool = False,
        hash_key: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.store_raw_queries = bool(store_raw_queries)
        if hash_key is not None and (not isinstance(hash_key, bytes) or len(hash_key) > 64):
            raise ValidationError("hash_key must be bytes (at most 64)")
        self._hash_key = hash_key or b""
        self._clock = clock
        self._checked_tail = False

    # -- writing -----------------------------------------------------------------------

    def query_hash(self, text: str) -> str:
        """A 16-hex-digit pseudonym of ``text`` (stable for the same key)."""
        return hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=self._hash_key).hexdigest()

    def _append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not self._checked_tail:
                # A crash mid-line leaves a torn last line; start ours on a fresh one.
                self._checked_tail = True
                size = os.fstat(fd).st_size
                if size:
                    with open(self.path, "rb") as fh:
                        fh.seek(size - 1)
                        if fh.read(1) != b"\n":
                            line = b"\n" + line
            os.write(fd, line)
        finally:
            os.close(fd)

    def record(
        self,
        *,
        query_type: str,
        complexity: Complexity | str,
        arm: str,
        strategy: str,
        latency_ms: float,
        relevance: float | None,
        confidence: float | None,
        success: bool,
        reward: float,
        query: str | None = None,
        query_hash: str | None = None,
        memory_size: int | None = None,
        spacetime_id: str | None = None,
        decision_id: str | None = None,
        ab_variant: str | None = None,
        timestamp: float | None = None,
    ) -> dict[str, Any]:
        """Append one routed query's outcome; returns the record written.

        Give ``query`` (hashed unless ``store_raw_queries``) or a precomputed ``query_hash``.

        Raises:
            ValidationError: a value out of range (latency negative, scores outside [0, 1]).
        """
        if not isinstance(latency_ms, (int, float)) or isinstance(latency_ms, bool) or not math.isfinite(latency_ms) or latency_ms < 0:
            raise ValidationError(f"latency_ms must be a non-negative number, got {latency_ms!r}")
        rec: dict[str, Any] = {
            "kind": "outcome",
            "timestamp": float(timestamp if timestamp is not None else self._clock()),
            "decision_id": decision_id,
            "query_hash": query_hash if query_hash is not None else (self.query_hash(query) if query is not None else None),
            "query_type": query_type,
            "complexity": Complexity.parse(complexity).value,
            "arm": arm,
            "strategy": strategy,
            "latency_ms": round(float(latency_ms), 4),
            "relevance": None if relevance is None else round(check_unit(relevance, "relevance"), 6),
            "confidence": None if confidence is None else round(check_unit(confidence, "confidence"), 6),
            "success": bool(success),
            "reward": round(check_unit(reward), 6),
            "memory_size": None if memory_size is None else int(memory_size),
            "spacetime_id": spacetime_id,
            "ab_variant": ab_variant,
        }
        if self.store_raw_queries and query is not None:
            rec["query"] = query
        self._append(rec)
        return rec

    def record_feedback(
        self, *, decision_id: str, reward: float, spacetime_id: str | None = None, timestamp: float | None = None,
    ) -> dict[str, Any]:
        """Append explicit feedback that replaces the reward of an earlier outcome."""
        if not isinstance(decision_id, str) or not decision_id:
            raise ValidationError("decision_id must be a non-empty string")
        rec = {
            "kind": "feedback",
            "timestamp": float(timestamp if timestamp is not None else self._clock()),
            "decision_id": decision_id,
            "reward": round(check_unit(reward), 6),
            "spacetime_id": spacetime_id,
        }
        self._append(rec)
        return rec

    # -- reading -----------------------------------------------------------------------

    def _lines(self) -> Iterator[bytes]:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        with fh:
            yield from fh

    @staticmethod
    def _parse(line: bytes) -> dict[str, Any] | None:
        line = line.strip()
        if not line:
            return None
        try:
            rec = json.loads(line)
        except ValueError:
            return None  # a line torn by a crash; the rest of the file is fine
        return rec if isinstance(rec, dict) else None

    @staticmethod
    def _matcher(
        query_type: str | None, complexity: Complexity | str | None, arm: str | None, since: object, until: object,
        kind: str | None,
    ) -> Callable[[Mapping[str, Any]], bool]:
        level = Complexity.parse(complexity).value if complexity is not None else None
        lo = to_timestamp(since, name="since")
        hi = to_timestamp(until, name="until")

        def match(rec: Mapping[str, Any]) -> bool:
            if kind is not None and rec.get("kind", "outcome") != kind:
                return False
            if query_type is not None and rec.get("query_type") != query_type:
                return False
            if level is not None and rec.get("complexity") != level:
                return False
            if arm is not None and rec.get("arm") != arm:
                return False
            ts = rec.get("timestamp")
            if lo is not None and (not isinstance(ts, (int, float)) or ts < lo):
                return False
            if hi is not None and (not isinstance(ts, (int, float)) or ts > hi):
                return False
            return True

        return match

    def records(
        self,
        *,
        query_type: str | None = None,
        complexity: Complexity | str | None = None,
        arm: str | None = None,
        since: object = None,
        until: object = None,
        kind: str | None = "outcome",
    ) -> Iterator[dict[str, Any]]:
        """Stream the records that match every given filter, oldest first.

        Args:
            since, until: a time window (datetime, ISO-8601 string or epoch seconds), inclusive.
            kind: ``"outcome"`` (default), ``"feedback"``, or None for both.
        """
        match = self._matcher(query_type, complexity, arm, since, until, kind)
        for line in self._lines():
            rec = self._parse(line)
            if rec is not None and match(rec):
                yield rec

    def _reverse_lines(self) -> Iterator[bytes]:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        with fh:
            pos = fh.seek(0, os.SEEK_END)
            rest = b""
            while pos > 0:
                step = min(_BLOCK, pos)
                pos -= step
                fh.seek(pos)
                chunk = fh.read(step) + rest
                lines = chunk.split(b"\n")
                rest = lines[0]  # may continue in the previous block
                for line in reversed(lines[1:]):
                    if line:
                        yield line
            if rest:
                yield rest

    def tail(
        self,
        n: int = 1000,
        *,
        query_type: str | None = None,
        complexity: Complexity | str | None = None,
        arm: str | None = None,
        since: object = None,
        until: object = None,
        kind: str | None = "outcome",
    ) -> list[dict[str, Any]]:
        """The last ``n`` matching records, oldest first, read backwards from the end of the file."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("n must be a non-negative integer")
        match = self._matcher(query_type, complexity, arm, since, until, kind)
        out: list[dict[str, Any]] = []
        if n == 0:
            return out
        for line in self._reverse_lines():
            rec = self._parse(line)
            if rec is not None and match(rec):
                out.append(rec)
                if len(out) >= n:
                    break
        out.reverse()
        return out

    def _feedback_rewards(self) -> dict[str, float]:
        # Feedback lines are rare: find them with a byte search before parsing anything.
        rewards: dict[str, float] = {}
        for line in self._lines():
            if _FEEDBACK_MARK in line:
                rec = self._parse(line)
                if rec and isinstance(rec.get("decision_id"), str) and isinstance(rec.get("reward"), (int, float)):
                    rewards[rec["decision_id"]] = float(rec["reward"])
        return rewards

    def aggregates(
        self,
        *,
        query_type: str | None = None,
        complexity: Complexity | str | None = None,
        arm: str | None = None,
        since: object = None,
        until: object = None,
        last: int | None = None,
    ) -> dict[str, dict[str, float]]:
        """Per arm over the matching outcomes (or the ``last`` N of them).

        Returns:
            ``{arm: {"count", "mean_latency_ms", "p95_latency_ms", "mean_relevance",
            "success_rate", "mean_reward"}}``; ``mean_reward`` uses explicit feedback where
            there is some; ``mean_relevance`` ignores outcomes that had none.
        """
        feedback = self._feedback_rewards()
        filters = dict(query_type=query_type, complexity=complexity, arm=arm, since=since, until=until)
        source = self.tail(last, **filters) if last is not None else self.records(**filters)
        acc: dict[str, dict[str, Any]] = {}
        for rec in source:
            a = acc.setdefault(str(rec.get("arm")), {"lat": [], "rel": [], "ok": 0, "reward": 0.0, "n": 0})
            a["n"] += 1
            if isinstance(rec.get("latency_ms"), (int, float)):
                a["lat"].append(float(rec["latency_ms"]))
            if isinstance(rec.get("relevance"), (int, float)):
                a["rel"].append(float(rec["relevance"]))
            a["ok"] += bool(rec.get("success"))
            reward = feedback.get(rec.get("decision_id") or "", rec.get("reward"))
            a["reward"] += float(reward) if isinstance(reward, (int, float)) else 0.0
        out: dict[str, dict[str, float]] = {}
        for name, a in sorted(acc.items()):
            lat = np.asarray(a["lat"], dtype=float)
            out[name] = {
                "count": a["n"],
                "mean_latency_ms": round(float(lat.mean()), 4) if lat.size else 0.0,
                "p95_latency_ms": round(float(np.percentile(lat, 95)), 4) if lat.size else 0.0,
                "mean_relevance": round(sum(a["rel"]) / len(a["rel"]), 6) if a["rel"] else 0.0,
                "success_rate": round(a["ok"] / a["n"], 6),
                "mean_reward": round(a["reward"] / a["n"], 6),
            }
        return out
