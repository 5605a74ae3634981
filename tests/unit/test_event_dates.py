"""Event dates inside conversation turns, and what a question asks of time."""

import math
from datetime import datetime, timezone

import pytest

from HoloLoom import Document, HoloLoom
from HoloLoom.event_dates import asks_when, intervals_of, overlaps, query_period, stated_dates
from HoloLoom.types import to_timestamp

SAID = to_timestamp("2023-05-08T13:56:00")


def test_relative_phrases_are_resolved_against_when_the_turn_was_said() -> None:
    assert stated_dates("I went to a support group yesterday.", at=SAID) == ["2023-05-07/2023-05-08"]
    assert stated_dates("We painted it last year, and again two weeks ago.", at=SAID) == [
        "2022-01-01/2023-01-01", "2023-04-21/2023-04-28"]  # the week two weeks back
    assert stated_dates("Thanks, that was so kind of you!", at=SAID) == []  # no time word: not parsed


def test_stored_intervals_read_back_with_open_ends_and_junk_ignored() -> None:
    got = intervals_of({"event_dates": ["2023-05-07/2023-05-08", "2023-01-01/..", "junk", 5]})
    assert got[0] == (to_timestamp("2023-05-07"), to_timestamp("2023-05-08"))
    assert got[1] == (to_timestamp("2023-01-01"), math.inf) and len(got) == 2
    assert intervals_of({}) == [] and intervals_of({"event_dates": "2023"}) == []
    assert overlaps(got[:1], to_timestamp("2023-05-01"), to_timestamp("2023-05-31"))
    assert not overlaps(got[:1], to_timestamp("2023-06-01"), None)
    assert overlaps(got[1:], to_timestamp("2030-01-01"), None)


def test_when_questions_are_recognised() -> None:
    for q in ("When did Caroline go to the support group?", "What year did Jon open his studio?",
              "How long ago did Maria adopt Coco?", "In what year was it founded?"):
        assert asks_when(q), q
    for q in ("What did Caroline research?", "Where did they go when it rained?"):
        assert not asks_when(q), q


def test_a_questions_period_is_resolved_against_the_memories_time() -> None:
    newest = to_timestamp("2023-10-20T10:00:00")
    assert query_period("When did Melanie go camping in July?", now=newest) == (
        to_timestamp("2023-07-01"), to_timestamp("2023-08-01") - 1e-3)
    assert query_period("What did Maria donate in December 2022?", now=newest)[0] == to_timestamp("2022-12-01")
    assert query_period("What did Caroline research?", now=newest) is None


async def test_turns_store_the_dates_they_tell_of_and_when_questions_prefer_them(loom: HoloLoom) -> None:
    meta = {"conversation": "c", "session": 1}
    await loom.add([
        Document(text="Caroline: I love going to the support group, it keeps me going.", id="t1",
                 occurred_at="2023-05-08T13:56:00", metadata={**meta, "speaker": "Caroline"}),
        Document(text="Caroline: I went to the support group yesterday and it was powerful.", id="t2",
                 occurred_at="2023-05-08T13:56:00", metadata={**meta, "speaker": "Caroline"}),
    ])
    assert "event_dates" not in (await loom.get("t1")).metadata
    assert (await loom.get("t2")).metadata["event_dates"] == ["2023-05-07/2023-05-08"]
    hits = await loom.recall("When did Caroline go to the support group?", complexity="LITE")
    assert hits[0].id == "t2" and hits[0].score_parts["time"] > 0 == hits[1].score_parts["time"]
    plain = await loom.get((await loom.add("I went to the dentist yesterday.")).ids[0])
    assert "event_dates" not in plain.metadata  # only conversation turns are read


def test_a_memory_telling_of_the_window_is_not_discounted_by_the_weave() -> None:
    from HoloLoom.types import MemoryShard, ScoredShard
    from HoloLoom.weaving.temporal import OUTSIDE_WINDOW_DISCOUNT, TimeWindow, prefer_window

    def item(sid: str, score: float, **metadata: object) -> ScoredShard:
        shard = MemoryShard(id=sid, namespace="ns", text=sid, metadata=metadata, created_at=0.0, occurred_at=0.0)
        return ScoredShard(shard=shard, score=score, found_in_pass=1, paths=("vector",))

    july = TimeWindow(datetime(2023, 7, 1, tzinfo=timezone.utc).timestamp(),
                      datetime(2023, 7, 31, tzinfo=timezone.utc).timestamp(), "query", "in July 2023")
    said_in_july = item("said", 0.5)
    told = item("told", 0.8, event_dates=["2023-07-10/2023-07-11"])  # said in August of a day in July
    unrelated = item("other", 0.9, event_dates=["2023-09-01/2023-09-02"])
    ranked = prefer_window([said_in_july], [told, unrelated, said_in_july], window=july)
    assert [r.id for r in ranked] == ["told", "other", "said"]
    by_id = {r.id: r for r in ranked}
    assert by_id["told"].score == 0.8 and "outside-window" not in by_id["told"].paths
    assert by_id["other"].score == pytest.approx(0.9 * OUTSIDE_WINDOW_DISCOUNT) and "outside-window" in by_id["other"].paths
