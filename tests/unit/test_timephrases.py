"""Time phrases resolved against an injected now: every phrase the product promises."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from HoloLoom.timephrases import find_time_phrases, query_window, to_utc

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=timezone.utc)  # a Wednesday


def _window(text: str, now: datetime = NOW) -> tuple[str | None, str | None]:
    phrase = query_window(text, now=now)
    assert phrase is not None, f"no time phrase found in {text!r}"
    return (phrase.start.date().isoformat() if phrase.start else None,
            phrase.end.date().isoformat() if phrase.end else None)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        # months: "in March" is the latest March that has started; "last March" the latest one that is over
        ("What did Priya say last March?", "2026-03-01", "2026-04-01"),
        ("What happened in March?", "2026-03-01", "2026-04-01"),
        ("Who did I meet in August?", "2025-08-01", "2025-09-01"),
        ("in March 2024", "2024-03-01", "2024-04-01"),
        ("March 4, 2026", "2026-03-04", "2026-03-05"),
        ("on 4 March 2025", "2025-03-04", "2025-03-05"),
        ("on the 4th of March", "2026-03-04", "2026-03-05"),
        ("on Jan 3rd", "2026-01-03", "2026-01-04"),
        ("since January", "2026-01-01", None),
        ("before March", None, "2026-03-01"),
        ("until June", None, "2026-07-01"),
        ("by the end of June", None, "2026-07-01"),
        ("early March", "2026-03-01", "2026-03-11"),
        ("mid-March", "2026-03-11", "2026-03-21"),
        ("late 2025", "2025-09-01", "2026-01-01"),
        # quarters
        ("What did we ship in Q1?", "2026-01-01", "2026-04-01"),
        ("in Q3", "2025-07-01", "2025-10-01"),
        ("Q3 2025", "2025-07-01", "2025-10-01"),
        ("in the first quarter of 2024", "2024-01-01", "2024-04-01"),
        ("last quarter", "2026-01-01", "2026-04-01"),
        ("this quarter", "2026-04-01", "2026-07-01"),
        # years
        ("this year", "2026-01-01", "2027-01-01"),
        ("last year", "2025-01-01", "2026-01-01"),
        ("next year", "2027-01-01", "2028-01-01"),
        ("in 2023", "2023-01-01", "2024-01-01"),
        ("since 2022", "2022-01-01", None),
        ("before 2020", None, "2020-01-01"),
        ("after 2024", "2025-01-01", None),
        ("earlier this year", "2026-01-01", "2026-05-20"),
        # days and weeks
        ("yesterday", "2026-05-19", "2026-05-20"),
        ("today", "2026-05-20", "2026-05-21"),
        ("tomorrow", "2026-05-21", "2026-05-22"),
        ("the day before yesterday", "2026-05-18", "2026-05-19"),
        ("two weeks ago", "2026-05-03", "2026-05-10"),
        ("3 days ago", "2026-05-17", "2026-05-18"),
        ("a month ago", "2026-04-01", "2026-05-01"),
        ("a few days ago", "2026-05-15", "2026-05-19"),
        ("last week", "2026-05-11", "2026-05-18"),
        ("this week", "2026-05-18", "2026-05-25"),
        ("next week", "2026-05-25", "2026-06-01"),
        ("next month", "2026-06-01", "2026-07-01"),
        ("last month", "2026-04-01", "2026-05-01"),
        ("in the last 3 days", "2026-05-17", "2026-05-20"),
        ("over the past month", "2026-04-20", "2026-05-20"),
        ("in the past two weeks", "2026-05-06", "2026-05-20"),
        ("on Friday", "2026-05-15", "2026-05-16"),
        ("last Friday", "2026-05-15", "2026-05-16"),
        ("next Tuesday", "2026-05-26", "2026-05-27"),
        ("last weekend", "2026-05-16", "2026-05-18"),
        # seasons
        ("last summer", "2025-06-01", "2025-09-01"),
        ("this spring", "2026-03-01", "2026-06-01"),
        ("last winter", "2025-12-01", "2026-03-01"),
        ("in the summer of 2024", "2024-06-01", "2024-09-01"),
        ("since last summer", "2025-06-01", None),
        # ranges
        ("between March and May", "2026-03-01", "2026-06-01"),
        ("from January to March 2024", "2024-01-01", "2024-04-01"),
        ("from March 2023 to May", "2023-03-01", "2023-06-01"),
        ("March-May 2024", "2024-03-01", "2024-06-01"),
        ("between 2022 and 2024", "2022-01-01", "2025-01-01"),
        # ISO dates
        ("on 2026-03-04", "2026-03-04", "2026-03-05"),
        ("2025/11/30", "2025-11-30", "2025-12-01"),
        ("in 2025-11", "2025-11-01", "2025-12-01"),
    ],
)
def test_query_windows(query: str, start: str | None, end: str | None) -> None:
    assert _window(query) == (start, end)


def test_last_month_name_inside_that_month_means_a_year_ago() -> None:
    in_march = datetime(2026, 3, 15, tzinfo=timezone.utc)
    assert _window("last March", in_march) == ("2025-03-01", "2025-04-01")
    assert _window("in March", in_march) == ("2026-03-01", "2026-04-01")
    assert _window("this March", in_march) == ("2026-03-01", "2026-04-01")
    assert _window("next March", in_march) == ("2027-03-01", "2027-04-01")


def test_last_summer_in_autumn_is_this_years_summer() -> None:
    october = datetime(2026, 10, 2, tzinfo=timezone.utc)
    assert _window("last summer", october) == ("2026-06-01", "2026-09-01")


def test_winter_spans_the_new_year() -> None:
    january = datetime(2026, 1, 10, tzinfo=timezone.utc)
    assert _window("this winter", january) == ("2025-12-01", "2026-03-01")
    assert _window("last winter", january) == ("2024-12-01", "2025-03-01")


@pytest.mark.parametrize("text", [
    "Priya may join the call.", "The 2023 budget is final.", "We decided to march on.", "What are the Q1 OKRs?",
    "Summer Vasquez runs the design team.", "Room 2024 is booked.", "It was a good fall for the team.",
    "Kestrel Robotics signed the contract.",
])
def test_words_that_only_look_like_dates_are_not_dates(text: str) -> None:
    assert find_time_phrases(text, now=NOW) == []
    assert query_window(text, now=NOW) is None


def test_phrases_in_a_stored_text_resolve_against_the_texts_own_time() -> None:
    written = datetime(2025, 9, 10, 18, 30, tzinfo=timezone.utc)  # a Wednesday
    phrases = find_time_phrases("Yesterday we signed with Kestrel; the kickoff is next Monday, "
                                "and the audit was two weeks ago.", now=written)
    assert [p.text for p in phrases] == ["Yesterday", "next Monday", "two weeks ago"]
    assert [p.anchor.date().isoformat() for p in phrases] == ["2025-09-09", "2025-09-15", "2025-08-27"]
    assert phrases[0].start_char == 0 and phrases[0].end_char == len("Yesterday")


def test_prefer_future_picks_the_next_occurrence() -> None:
    written = datetime(2025, 9, 10, tzinfo=timezone.utc)
    [launch] = find_time_phrases("The launch is planned for early March.", now=written, prefer="future")
    assert launch.start.date().isoformat() == "2026-03-01"
    [past] = find_time_phrases("The launch was in March.", now=written)
    assert past.start.date().isoformat() == "2025-03-01"


def test_query_window_of_several_phrases_is_their_union() -> None:
    phrase = query_window("What happened in May 2025 and in July 2025?", now=NOW)
    assert (phrase.start.date().isoformat(), phrase.end.date().isoformat()) == ("2025-05-01", "2025-08-01")
    assert phrase.text == "May 2025 / July 2025"


def test_epoch_seconds_and_naive_datetimes_are_utc() -> None:
    assert to_utc(NOW.timestamp()) == NOW
    assert to_utc(datetime(2026, 5, 20, 12, 0)) == NOW
    phrase = query_window("yesterday", now=NOW.timestamp())
    assert phrase.since == datetime(2026, 5, 19, tzinfo=timezone.utc).timestamp()
    assert phrase.until == pytest.approx(datetime(2026, 5, 20, tzinfo=timezone.utc).timestamp() - 1e-3)


def test_invalid_dates_and_preferences() -> None:
    assert find_time_phrases("on 2026-02-30", now=NOW) == []
    with pytest.raises(ValueError):
        find_time_phrases("in March", now=NOW, prefer="sideways")
