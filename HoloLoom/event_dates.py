"""When the events a memory tells of happened, as opposed to when it was said.

"I went to a support group yesterday", said on 8 May 2023, tells of 7 May 2023. A
conversation turn's ``occurred_at`` is when it was said; the phrases inside it
("yesterday", "last week", "two weekends ago", "in March") are resolved against that
time by :mod:`HoloLoom.timephrases` and stored in ``metadata["event_dates"]`` as ISO 8601
intervals (``"2023-05-07/2023-05-08"``, half-open; ``..`` for an open end). The crawler
uses them in two ways: a "when ..." question prefers memories that state a date, and a
question about a period ("in July 2023") prefers memories said, or telling of events,
within it.

Only threaded memories (conversation turns) are read: relative phrases are how people
talk, and a cheap trigger test keeps the parser off the turns that have no time words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .timephrases import find_time_phrases, query_window

__all__ = ["EVENT_DATES", "asks_when", "intervals_of", "overlaps", "query_period", "stated_dates"]

#: Metadata key holding the dates of the events a memory tells of.
EVENT_DATES = "event_dates"

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# Every phrase timephrases can find contains one of these words ("last", "next", "this"
# only ever qualify one of them), so a text without any is not parsed at all: most turns.
_TRIGGER = re.compile(
    rf"\b(?:yesterday|today|tonight|tomorrow|ago|days?|weeks?|weekends?|months?|years?|"
    rf"(?:mon|tues|wednes|thurs|fri|satur|sun)days?|{_MONTHS}|spring|summer|autumn|fall|winter|"
    rf"q[1-4]|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"^\s*(?:when\b|what\s+(?:date|day|year|month|time)\b|which\s+(?:date|day|year|month)\b|how\s+long\s+ago\b)"
    r"|\b(?:on\s+what\s+date|in\s+what\s+year|what\s+time\s+of\s+year)\b",
    re.IGNORECASE,
)


def stated_dates(text: str, *, at: float) -> list[str]:
    """The event intervals ``text`` states, resolved against ``at`` (epoch seconds)."""
    if not _TRIGGER.search(text):
        return []
    out: list[str] = []
    for phrase in find_time_phrases(text, now=at):
        start = phrase.start.date().isoformat() if phrase.start else ".."
        end = phrase.end.date().isoformat() if phrase.end else ".."
        if f"{start}/{end}" not in out and (start, end) != ("..", ".."):
            out.append(f"{start}/{end}")
    return out


def intervals_of(metadata: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The stored event intervals of a memory as epoch seconds (an open end is infinite)."""
    raw = metadata.get(EVENT_DATES)
    out: list[tuple[float, float]] = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, str) or item.count("/") != 1:
            continue
        first, last = item.split("/")
        start, end = _epoch(first, open_value=-math.inf), _epoch(last, open_value=math.inf)
        if start is not None and end is not None:
            out.append((start, end))
    return out


def _epoch(part: str, *, open_value: float) -> float | None:
    if part == "..":
        return open_value
    try:
        return datetime.fromisoformat(part).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def overlaps(intervals: Iterable[tuple[float, float]], since: float | None, until: float | None) -> bool:
    """Whether any interval meets the window ``[since, until]`` (None: open)."""
    lo = -math.inf if since is None else since
    hi = math.inf if until is None else until
    return any(start <= hi and end > lo for start, end in intervals)


def query_period(query: str, *, now: float) -> tuple[float | None, float | None] | None:
    """The period a question names ("in July 2023", "last week"), as ``(since, until)``, or None.

    The trigger test first: most questions name no period and cost no parsing.
    """
    if not _TRIGGER.search(query):
        return None
    phrase = query_window(query, now=now)
    return (phrase.since, phrase.until) if phrase is not None else None


def asks_when(query: str) -> bool:
    """Whether a question asks for a date ("When did ...", "What year ...", "How long ago ...")."""
    return bool(_WHEN.search(query))
