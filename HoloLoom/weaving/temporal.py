"""Stage 2 (Chrono Trigger): the time window of a question.

From call options (``since``/``until``) or from the time phrases in the query ("last
March", "in Q1", "since January", "two weeks ago", "between March and May", "in 2023",
"2026-03-04", ...; see :mod:`HoloLoom.timephrases`), resolved against an injectable clock
(UTC). Options win over phrases. A window from options is a hard filter. A window from
the query's words is a strong preference: the memories dated inside it are found first,
then the best memories from outside it join them at a discount (:func:`prefer_window`),
because a phrase may date the question's subject rather than the note ("Who runs
on-call from April?" is answered by a note written in March). A query window that
matches no memory at all is reported with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..types import ScoredShard

from ..errors import ValidationError
from ..event_dates import intervals_of, overlaps
from ..timephrases import query_window
from ..types import to_timestamp

__all__ = ["OUTSIDE_WINDOW_DISCOUNT", "TimeWindow", "prefer_window", "resolve_window"]

OUTSIDE_WINDOW_DISCOUNT = 0.6


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


def prefer_window(inside: Sequence[ScoredShard], everywhere: Sequence[ScoredShard], *,
                  window: TimeWindow | None = None, discount: float = OUTSIDE_WINDOW_DISCOUNT) -> list[ScoredShard]:
    """The window's memories, joined by the others at ``discount`` x their score (path ``outside-window``).

    A memory written outside the window that tells of an event inside it (its stored
    ``event_dates``: "last week" in a turn said the week after) belongs to the window too,
    so it is not discounted.
    """
    seen = {item.id for item in inside}

    def tells_of_window(item: ScoredShard) -> bool:
        return window is not None and overlaps(intervals_of(item.shard.metadata), window.since, window.until)

    outside = [item if tells_of_window(item) else
               replace(item, score=item.score * discount, paths=tuple(item.paths) + ("outside-window",))
               for item in everywhere if item.id not in seen]
    return sorted([*inside, *outside], key=lambda item: -item.score)
