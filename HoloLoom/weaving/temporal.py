"""Stage 2 (Chrono Trigger): the time window of a question.

From call options (``since``/``until``) or from the time phrases in the query ("last
March", "in Q1", "since January", "two weeks ago", "between March and May", "in 2023",
"2026-03-04", ...; see :mod:`HoloLoom.timephrases`), resolved against an injectable clock
(UTC). Options win over phrases. The window becomes a real filter on retrieval; a window
from the query that matches no memory is relaxed by the orchestrator, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ValidationError
from ..timephrases import query_window
from ..types import to_timestamp

__all__ = ["TimeWindow", "resolve_window"]


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Epoch seconds, ``until`` inclusive; ``source`` is "options", "query" or "none"."""

    since: float | None
    until: float | None
    source: str
    phrase: str | None = None

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None


def resolve_window(query: str, *, since: object = None, until: object = None, now: float) -> TimeWindow:
    """The window for ``query``: explicit options if given, else the phrases found in it."""
    s, u = to_timestamp(since, name="since"), to_timestamp(until, name="until")
    if s is not None or u is not None:
        if s is not None and u is not None and s > u:
            raise ValidationError("since must not be later than until")
        return TimeWindow(s, u, "options")
    phrase = query_window(query, now=now)
    if phrase is None:
        return TimeWindow(None, None, "none")
    return TimeWindow(phrase.since, phrase.until, "query", phrase.text)
