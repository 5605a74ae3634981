"""Stage 2 (Chrono Trigger): the time window of a question.

From call options (``since``/``until``) or from simple phrases in the query —
"today", "yesterday", "last week", "this month", "last 3 days", "in 2023",
"since 2022", "before 2020", "in March 2024" — resolved against an injectable clock
(UTC). Options win over phrases. The window becomes a real filter on retrieval.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import ValidationError
from ..types import to_timestamp

__all__ = ["TimeWindow", "resolve_window"]

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "year": 365, "years": 365}


@dataclass(frozen=True, slots=True)
class TimeWindow:
    since: float | None
    until: float | None
    source: str  # "options", "query", or "none"
    phrase: str | None = None

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None


def _day_start(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


def _year(y: int) -> tuple[float, float]:
    start = datetime(y, 1, 1, tzinfo=timezone.utc)
    return start.timestamp(), datetime(y + 1, 1, 1, tzinfo=timezone.utc).timestamp() - 1e-3


def resolve_window(query: str, *, since: object = None, until: object = None, now: float) -> TimeWindow:
    """The window for ``query``: explicit options if given, else phrases found in it."""
    s, u = to_timestamp(since, name="since"), to_timestamp(until, name="until")
    if s is not None or u is not None:
        if s is not None and u is not None and s > u:
            raise ValidationError("since must not be later than until")
        return TimeWindow(s, u, "options")
    text = query.lower()
    today = _day_start(datetime.fromtimestamp(now, tz=timezone.utc))
    day = 86400.0
    if m := re.search(r"\btoday\b", text):
        return TimeWindow(today.timestamp(), now, "query", m.group(0))
    if m := re.search(r"\byesterday\b", text):
        return TimeWindow(today.timestamp() - day, today.timestamp() - 1e-3, "query", m.group(0))
    if m := re.search(r"\b(?:last|past|previous)\s+(\d{1,4})\s+(days?|weeks?|months?|years?)\b", text):
        span = int(m.group(1)) * _UNITS[m.group(2)] * day
        return TimeWindow(now - span, now, "query", m.group(0))
    if m := re.search(r"\b(?:last|past|previous)\s+(day|week|month|year)\b", text):
        return TimeWindow(now - _UNITS[m.group(1)] * day, now, "query", m.group(0))
    if m := re.search(r"\bthis\s+(week|month|year)\b", text):
        unit = m.group(1)
        if unit == "week":
            start = today - timedelta(days=today.weekday())
        elif unit == "month":
            start = today.replace(day=1)
        else:
            start = today.replace(month=1, day=1)
        return TimeWindow(start.timestamp(), now, "query", m.group(0))
    month_names = "|".join(sorted(_MONTHS, key=len, reverse=True))
    if m := re.search(rf"\bin\s+({month_names})\.?\s+((?:19|20)\d\d)\b", text):
        month, year = _MONTHS[m.group(1)], int(m.group(2))
        start = datetime(year, month, 1, tzinfo=timezone.utc)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
        return TimeWindow(start.timestamp(), end.timestamp() - 1e-3, "query", m.group(0))
    if m := re.search(r"\b(?:in|during)\s+((?:19|20)\d\d)\b", text):
        a, b = _year(int(m.group(1)))
        return TimeWindow(a, b, "query", m.group(0))
    if m := re.search(r"\bsince\s+((?:19|20)\d\d)\b", text):
        return TimeWindow(_year(int(m.group(1)))[0], None, "query", m.group(0))
    if m := re.search(r"\bbefore\s+((?:19|20)\d\d)\b", text):
        return TimeWindow(None, _year(int(m.group(1)))[0] - 1e-3, "query", m.group(0))
    return TimeWindow(None, None, "none")
