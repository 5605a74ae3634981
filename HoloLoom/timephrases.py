"""Time phrases: find them in text and resolve them to intervals against a reference time.

One grammar serves two uses:

- a question's window: ``query_window("What did Priya say last March?", now=...)`` gives
  the interval the question is about;
- the dates of events inside a stored text, resolved against that text's own time:
  ``find_time_phrases("Yesterday we signed with Kestrel.", now=turn_occurred_at)`` gives
  each phrase with its interval and ``anchor`` (the day it names best).

Intervals are half-open ``[start, end)`` in UTC; ``None`` is an open bound ("since
January" has no end). Phrases are rule-based, in two levels: *atoms* name one period
("March", "March 4, 2026", "Q1", "last summer", "two weeks ago", "2023-03-04") and
*operators* around them make ranges ("since", "before", "until", "between A and B",
"from A to B", "early/mid/late", "end of"). A year-less period ("in March") is the most
recent one that has started (``prefer="past"``) or the next one not yet over
(``prefer="future"``); "last March" is the most recent March that is over; "this March"
is the current year's; "next March" is the first that has not started.

Bare month names, weekdays and years count only after a word that makes them a time
("in May", "on Friday", "since 2022"), so "Priya may join" and "the 2023 budget" are not
dates. Weeks start on Monday. Seasons are meteorological (northern hemisphere): spring is
March to May, winter Y runs from December Y to February Y+1.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from dateutil.relativedelta import relativedelta

__all__ = ["TimePhrase", "find_time_phrases", "query_window", "to_utc"]

Interval = tuple[datetime, datetime]
_DAY = timedelta(days=1)
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2,
            "a few": 3, "few": 3, "several": 3}
_ORDINAL_QUARTERS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": 4}

_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(_WEEKDAYS)
_NUM_RE = r"\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))
_UNIT_RE = r"days?|weeks?|months?|years?"
_YEAR_RE = r"(?:19|20)\d\d"

# Words after which a bare month, weekday, season or year is a time and not a word.
_CONTEXT = re.compile(
    r"(?:\b(?:in|during|since|after|before|until|till|by|from|between|of|on|last|this|next|early|mid|late|"
    r"throughout|around|over|starting|as of|prior to|up to)|(?<=mid)-)\s*$", re.I)
_MODIFIER = re.compile(r"\b(?:(early|mid|late)[\s-]*|(?:the\s+)?(beginning|start|middle|end)\s+of\s+(?:the\s+)?)$", re.I)
_OPEN_LEFT = re.compile(r"\b(ever\s+since|since|after|starting(?:\s+(?:in|on|from))?|as\s+of|from)\s+(?:the\s+)?$", re.I)
_OPEN_RIGHT = re.compile(r"\b(before|prior\s+to|until|till|up\s+to|by)\s+(?:the\s+)?$", re.I)
_RANGE_LEFT = re.compile(r"\b(between|from)\s+(?:the\s+)?$", re.I)
_RANGE_GAP = re.compile(r"^\s*(?:(and|to|through|thru|until|till)\s+(?:the\s+)?|\s*[-\u2013\u2014]\s*)$", re.I)


def to_utc(value: datetime | float | int) -> datetime:
    """``value`` (epoch seconds, or a datetime; naive means UTC) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class TimePhrase:
    """One time phrase found in a text, resolved.

    Attributes:
        text: the words as written ("last March").
        start_char, end_char: where they are in the text.
        start, end: the interval ``[start, end)`` in UTC; ``None`` is open.
        anchor: the single day the phrase names best (an event's date): the day for
            "two weeks ago", the start of a period ("in March"), the bound of an open range.
        granularity: day, week, weekend, month, quarter, season, year, or range.
    """

    text: str
    start_char: int
    end_char: int
    start: datetime | None
    end: datetime | None
    anchor: datetime
    granularity: str

    @property
    def since(self) -> float | None:
        """The start as epoch seconds (None when open)."""
        return self.start.timestamp() if self.start else None

    @property
    def until(self) -> float | None:
        """The end as epoch seconds, inclusive to the millisecond (None when open)."""
        return self.end.timestamp() - 1e-3 if self.end else None


@dataclass(slots=True)
class _Atom:
    """A level-1 match: one period, possibly year-less (then ``occurrence`` re-resolves it)."""

    start_char: int
    end_char: int
    interval: Interval
    anchor: datetime
    granularity: str
    occurrence: Callable[[int], Interval] | None = None  # the period in cycle n (a year or a week)
    cycle: str = "year"
    weak: bool = False  # a bare word that needs a context word (or a range) to count


# -- calendar helpers ---------------------------------------------------------------------


def _day(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


def _date(year: int, month: int, day: int = 1) -> datetime:
    day = min(day, calendar.monthrange(year, month)[1])
    return datetime(year, month, day, tzinfo=timezone.utc)


def _month(year: int, month: int) -> Interval:
    start = _date(year, month)
    return start, start + relativedelta(months=1)


def _months(year: int, first: int, count: int) -> Interval:
    start = _date(year, first)
    return start, start + relativedelta(months=count)


def _year(year: int) -> Interval:
    return _date(year, 1), _date(year + 1, 1)


def _week_start(dt: datetime) -> datetime:
    return _day(dt) - timedelta(days=dt.weekday())


_EPOCH_MONDAY = datetime(1970, 1, 5, tzinfo=timezone.utc)


def _week(n: int) -> datetime:
    return _EPOCH_MONDAY + timedelta(weeks=n)


def _week_index(dt: datetime) -> int:
    return (_week_start(dt) - _EPOCH_MONDAY).days // 7


def _unit_delta(unit: str, n: int) -> relativedelta:
    unit = unit.rstrip("s")
    return relativedelta(**{unit + "s": n}) if unit != "week" else relativedelta(weeks=n)


def _period_of(unit: str, dt: datetime) -> Interval:
    """The calendar day/week/month/quarter/year containing ``dt``."""
    unit = unit.rstrip("s")
    if unit == "day":
        return _day(dt), _day(dt) + _DAY
    if unit == "week":
        return _week_start(dt), _week_start(dt) + timedelta(weeks=1)
    if unit == "month":
        return _month(dt.year, dt.month)
    if unit == "quarter":
        return _months(dt.year, 3 * ((dt.month - 1) // 3) + 1, 3)
    return _year(dt.year)


def _choose(occurrence: Callable[[int], Interval], current: int, now: datetime, mode: str) -> Interval:
    """The occurrence a mode picks: past, last, this, next or future (see the module docstring)."""
    options = [occurrence(current + d) for d in range(-3, 4)]
    if mode == "this":
        return next((o for o in options if o[0] <= now < o[1]), occurrence(current))
    if mode == "last":
        return [o for o in options if o[1] <= now][-1]
    if mode == "past":
        return [o for o in options if o[0] <= now][-1]
    if mode == "next":
        return next(o for o in options if o[0] > now)
    return next(o for o in options if o[1] > now)  # future


def _number(word: str) -> int:
    word = re.sub(r"\s+", " ", word.lower())
    return int(word) if word.isdigit() else _NUMBERS[word]


# -- level 1: atoms -----------------------------------------------------------------------

_Rule = Callable[[re.Match[str], datetime, str], "_Atom | None"]
_RULES: list[tuple[re.Pattern[str], _Rule]] = []


def _rule(pattern: str) -> Callable[[_Rule], _Rule]:
    def register(fn: _Rule) -> _Rule:
        _RULES.append((re.compile(pattern, re.I), fn))
        return fn
    return register


def _fixed(m: re.Match[str], interval: Interval, granularity: str, anchor: datetime | None = None) -> _Atom:
    return _Atom(m.start(), m.end(), interval, anchor or interval[0], granularity)


def _cyclic(m: re.Match[str], occurrence: Callable[[int], Interval], now: datetime, mode: str, granularity: str,
            *, cycle: str = "year", weak: bool = False) -> _Atom:
    current = now.year if cycle == "year" else _week_index(now)
    interval = _choose(occurrence, current, now, mode)
    return _Atom(m.start(), m.end(), interval, interval[0], granularity, occurrence, cycle, weak)


def _mode(word: str | None, prefer: str) -> str:
    return {"last": "last", "previous": "last", "this": "this", "next": "next", "coming": "next"}.get(
        (word or "").lower(), prefer)


@_rule(rf"\b({_YEAR_RE})[-/](\d{{1,2}})[-/](\d{{1,2}})(?:[T ]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?\b")
def _iso_date(m, now, prefer):
    try:
        day = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=timezone.utc)
    except ValueError:
        return None
    return _fixed(m, (day, day + _DAY), "day")


@_rule(rf"\b({_YEAR_RE})-(0[1-9]|1[0-2])\b(?!-\d)")
def _iso_month(m, now, prefer):
    return _fixed(m, _month(int(m[1]), int(m[2])), "month")


def _month_day(m, now, prefer, month: str, day: str, year: str | None) -> _Atom | None:
    month_n, day_n = _MONTHS[month.lower().rstrip(".")], int(day)
    if not 1 <= day_n <= calendar.monthrange(2024, month_n)[1]:
        return None
    occurrence = lambda y: (_date(y, month_n, day_n), _date(y, month_n, day_n) + _DAY)  # noqa: E731
    if year:
        return _fixed(m, occurrence(int(year)), "day")
    return _cyclic(m, occurrence, now, prefer, "day")


@_rule(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+({_YEAR_RE})\b)?")
def _month_then_day(m, now, prefer):
    return _month_day(m, now, prefer, m[1], m[2], m[3])


@_rule(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b\.?(?:,?\s+({_YEAR_RE})\b)?")
def _day_then_month(m, now, prefer):
    return _month_day(m, now, prefer, m[2], m[1], m[3])


@_rule(rf"\b(?:(last|this|next|previous|coming)\s+)?({_MONTH_RE})\b\.?(?:,?\s+(?:of\s+)?({_YEAR_RE})\b)?")
def _month_name(m, now, prefer):
    month = _MONTHS[m[2].lower()]
    if m[3]:
        return _fixed(m, _month(int(m[3]), month), "month")
    weak = m[1] is None
    if weak and len(m[2]) <= 3 and m[2].lower() not in ("may",):
        return None  # "Mar", "Jun" alone are too ambiguous without a day or year
    return _cyclic(m, lambda y: _month(y, month), now, _mode(m[1], prefer), "month", weak=weak)


@_rule(rf"\b(?:(last|this|next|previous|coming)\s+)?(?:the\s+)?(spring|summer|autumn|fall|winter)\b(?:\s+(?:of\s+)?({_YEAR_RE})\b)?")
def _season(m, now, prefer):
    first = _SEASONS[m[2].lower()]
    occurrence = lambda y: _months(y, first, 3)  # noqa: E731
    if m[3]:
        return _fixed(m, occurrence(int(m[3])), "season")
    return _cyclic(m, occurrence, now, _mode(m[1], prefer), "season", weak=m[1] is None)


@_rule(rf"\b(?:({_YEAR_RE})[\s-]*)?q([1-4])\b(?:\s+(?:of\s+)?({_YEAR_RE})\b)?"
       rf"|\b(first|1st|second|2nd|third|3rd|fourth|4th|last)\s+quarter\b(?:\s+of\s+({_YEAR_RE})\b)?")
def _quarter(m, now, prefer):
    q = int(m[2]) if m[2] else _ORDINAL_QUARTERS[m[4].lower()]
    if m[4] and m[4].lower() == "last" and not m[5]:
        return None  # "last quarter" is relative: see _relative_unit
    year = m[1] or m[3] or m[5]
    occurrence = lambda y: _months(y, 3 * q - 2, 3)  # noqa: E731
    if year:
        return _fixed(m, occurrence(int(year)), "quarter")
    return _cyclic(m, occurrence, now, prefer, "quarter", weak=bool(m[2]))


@_rule(rf"\b({_YEAR_RE})\b(?![-/]\d)")
def _bare_year(m, now, prefer):
    atom = _fixed(m, _year(int(m[1])), "year")
    atom.weak = True
    return atom


@_rule(rf"\b(?:(last|this|next|previous|coming|past)\s+)?({_WEEKDAY_RE})s?\b")
def _weekday(m, now, prefer):
    wd = _WEEKDAYS[m[2].lower()]
    occurrence = lambda w: (_week(w) + timedelta(days=wd), _week(w) + timedelta(days=wd + 1))  # noqa: E731
    mode = "last" if (m[1] or "").lower() == "past" else _mode(m[1], prefer)
    return _cyclic(m, occurrence, now, mode, "day", cycle="week", weak=m[1] is None)


@_rule(r"\b(?:the\s+)?(?:day\s+before\s+yesterday|day\s+after\s+tomorrow)\b|\b(?:today|tonight|yesterday|tomorrow)\b"
       r"|\bthis\s+(?:morning|afternoon|evening)\b")
def _named_day(m, now, prefer):
    word = m[0].lower()
    shift = -2 if "before" in word else 2 if "after" in word else -1 if "yesterday" in word else 1 if "tomorrow" in word else 0
    day = _day(now) + timedelta(days=shift)
    return _fixed(m, (day, day + _DAY), "day")


@_rule(r"\b(?:(last|this|next|previous|coming)\s+)(week|month|quarter|year|weekend)\b")
def _relative_unit(m, now, prefer):
    mode, unit = _mode(m[1], prefer), m[2].lower()
    if unit == "weekend":
        occurrence = lambda w: (_week(w) + timedelta(days=5), _week(w) + timedelta(days=7))  # noqa: E731
        return _cyclic(m, occurrence, now, mode, "weekend", cycle="week")
    shift = {"last": -1, "this": 0, "next": 1}[mode]
    step = relativedelta(months=3) if unit == "quarter" else _unit_delta(unit, 1)
    start = _period_of(unit, now)[0] + step * shift
    return _fixed(m, (start, start + step), unit)


@_rule(r"\b(earlier|later)\s+this\s+(week|month|quarter|year)\b")
def _earlier_later(m, now, prefer):
    start, end = _period_of(m[2], now)
    interval = (start, now) if m[1].lower() == "earlier" else (now, end)
    return _fixed(m, interval, m[2].lower(), anchor=interval[0])


@_rule(rf"\b(?:(?:in|over|during|for|within)\s+)?(?:(the)\s+)?(last|past|previous|next|coming)\s+(?:({_NUM_RE})\s+)?({_UNIT_RE})\b")
def _rolling(m, now, prefer):
    direction, count, unit = m[2].lower(), m[3], m[4].lower()
    if count is None and not m[1] and direction != "past":
        return None  # "last week" is the calendar week: _relative_unit
    if count is None and unit.endswith("s"):
        return None
    n = _number(count) if count else 1
    if direction in ("next", "coming"):
        return _fixed(m, (now, now + _unit_delta(unit, n)), "range", anchor=now)
    start = _day(now - _unit_delta(unit, n))
    return _fixed(m, (start, now), "range", anchor=start)


@_rule(rf"\b({_NUM_RE})\s+({_UNIT_RE})\s+(ago|before|earlier|later|from\s+now)\b|\bin\s+({_NUM_RE})\s+({_UNIT_RE})\b")
def _offset(m, now, prefer):
    count, unit = (m[1], m[2]) if m[1] else (m[4], m[5])
    n, unit = _number(count), unit.lower().rstrip("s")
    sign = -1 if (m[3] or "").lower() in ("ago", "before", "earlier") else 1
    anchor = _day(now + _unit_delta(unit, sign * n))
    fuzzy = count.lower() in ("a few", "few", "several")
    if fuzzy:
        lo, hi = sorted((_day(now + _unit_delta(unit, sign * 2)), _day(now + _unit_delta(unit, sign * 5))))
        return _fixed(m, (lo, hi + _DAY), "range", anchor=anchor)
    if unit == "week":  # a week either side of the day it names is the same "two weeks ago"
        return _fixed(m, (anchor - timedelta(days=3), anchor + timedelta(days=4)), "week", anchor=anchor)
    return _fixed(m, _period_of(unit, anchor), unit, anchor=anchor)


def _atoms(text: str, now: datetime, prefer: str) -> list[_Atom]:
    """Every atom, overlaps resolved: the earliest start wins, then the longest match."""
    found: list[_Atom] = []
    for pattern, rule in _RULES:
        for m in pattern.finditer(text):
            atom = rule(m, now, prefer)
            if atom is not None:
                found.append(atom)
    found.sort(key=lambda a: (a.start_char, -(a.end_char - a.start_char)))
    chosen: list[_Atom] = []
    for atom in found:
        if not chosen or atom.start_char >= chosen[-1].end_char:
            chosen.append(atom)
    return chosen


# -- level 2: operators -------------------------------------------------------------------


def _narrow(atom: _Atom, which: str) -> Interval:
    """The early/middle/late third of a period."""
    start, end = atom.interval
    third = (end - start) / 3
    index = {"early": 0, "beginning": 0, "start": 0, "mid": 1, "middle": 1, "late": 2, "end": 2}[which.lower()]
    return _day(start + third * index), (_day(start + third * (index + 1)) if index < 2 else end)


def _range_end(left: _Atom, right: _Atom, now: datetime, prefer: str) -> tuple[Interval, Interval]:
    """Both ends of "A to B" with a year (or week) given by the other end when one lacks it."""
    a, b = left.interval, right.interval
    if right.occurrence is not None and left.occurrence is None:
        b = _choose(right.occurrence, _cycle(right, a[0]), a[0], "future")
    elif left.occurrence is not None:
        if right.occurrence is None:
            a = [o for o in (left.occurrence(_cycle(left, b[0]) + d) for d in (-1, 0)) if o[0] < b[1]][-1]
        elif left.cycle == right.cycle:
            b = _choose(right.occurrence, _cycle(right, now), now, prefer)
            a = [o for o in (left.occurrence(_cycle(left, b[0]) + d) for d in (-1, 0)) if o[0] < b[1]][-1]
    return a, b


def _cycle(atom: _Atom, at: datetime) -> int:
    return at.year if atom.cycle == "year" else _week_index(at)


def find_time_phrases(text: str, *, now: datetime | float, prefer: str = "past") -> list[TimePhrase]:
    """Every time phrase in ``text``, resolved against ``now``.

    Args:
        text: a question or a stored text.
        now: the reference time: the present for a question, the text's own time
            (``occurred_at``) for an event inside a stored text.
        prefer: ``"past"`` (default) or ``"future"``: which occurrence a year-less period
            ("in March", "on Friday") means.

    Returns:
        The phrases in order of appearance.
    """
    if prefer not in ("past", "future"):
        raise ValueError("prefer must be 'past' or 'future'")
    now = to_utc(now)
    atoms = _atoms(text, now, prefer)
    phrases: list[TimePhrase] = []
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        left_text = text[max(0, atom.start_char - 40):atom.start_char]
        nxt = atoms[i + 1] if i + 1 < len(atoms) else None
        gap = _RANGE_GAP.match(text[atom.end_char:nxt.start_char]) if nxt else None
        is_range = gap is not None and (_RANGE_LEFT.search(left_text) or (gap.group(1) or "-").lower() != "and")
        unanchored = atom.weak and nxt is not None and nxt.weak and not _CONTEXT.search(left_text)
        if is_range and not unanchored:
            a, b = _range_end(atom, nxt, now, prefer)
            start_char = (_RANGE_LEFT.search(left_text).start() + atom.start_char - len(left_text)
                          if _RANGE_LEFT.search(left_text) else atom.start_char)
            phrases.append(TimePhrase(text[start_char:nxt.end_char], start_char, nxt.end_char, a[0], b[1], a[0], "range"))
            i += 2
            continue
        i += 1
        if atom.weak and not _CONTEXT.search(left_text):
            continue
        origin = atom.start_char - len(left_text)  # where left_text starts in text
        mod = _MODIFIER.search(left_text) if atom.granularity in ("month", "quarter", "season", "year", "week") else None
        outer = left_text[:mod.start()] if mod else left_text
        opened, closed = _OPEN_LEFT.search(outer), _OPEN_RIGHT.search(outer)
        if closed and not opened and atom.weak and atom.occurrence is not None:  # "until June": this year's June
            atom.interval = _choose(atom.occurrence, _cycle(atom, now), now, "this")
        start, end = _narrow(atom, mod.group(1) or mod.group(2)) if mod else atom.interval
        start_char = origin + mod.start() if mod else atom.start_char
        granularity, anchor = atom.granularity, start if mod else atom.anchor
        if opened:
            start, end = (end if opened.group(1).lower() == "after" else start), None
            anchor, granularity, start_char = start, "range", origin + opened.start()
        elif closed:
            start, end = None, (start if closed.group(1).lower() in ("before", "prior to") else end)
            anchor, granularity, start_char = end - _DAY, "range", origin + closed.start()
        phrases.append(TimePhrase(text[start_char:atom.end_char], start_char, atom.end_char, start, end, anchor, granularity))
    return phrases


def query_window(text: str, *, now: datetime | float, prefer: str = "past") -> TimePhrase | None:
    """The one window a question asks about: its phrases' union (None if it names no time)."""
    phrases = find_time_phrases(text, now=now, prefer=prefer)
    if not phrases:
        return None
    if len(phrases) == 1:
        return phrases[0]
    starts = [p.start for p in phrases]
    ends = [p.end for p in phrases]
    start = None if None in starts else min(s for s in starts if s is not None)
    end = None if None in ends else max(e for e in ends if e is not None)
    first, last = phrases[0], phrases[-1]
    return replace(first, text=" / ".join(p.text for p in phrases), end_char=last.end_char, start=start, end=end,
                   anchor=start or first.anchor, granularity="range")
