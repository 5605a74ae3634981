from dataclasses import replace

import pytest

from HoloLoom import (
    Complexity,
    CrawlPlan,
    DEFAULT_PLANS,
    HoloLoom,
    InvalidComplexityError,
    InvalidQueryError,
    PassSpec,
)


def test_levels_have_1_to_4_passes() -> None:
    assert [len(DEFAULT_PLANS[c].passes) for c in Complexity] == [1, 2, 3, 4]


async def test_two_hop_question_reaches_the_bridge(small_loom: HoloLoom) -> None:
    q = "Who directed the film that was shot in Leland, North Carolina in 1986?"
    lite = await small_loom.crawl(q, complexity="LITE", limit=10)
    full = await small_loom.crawl(q, complexity="FULL", limit=10)
    assert len(lite.passes) == 1 and len(full.passes) == 3
    titles = [h.shard.title for h in full.items[:3]]
    assert "Leland, North Carolina" in titles and "Maximum Overdrive" in titles


async def test_every_item_has_provenance_and_no_duplicates(small_loom: HoloLoom) -> None:
    result = await small_loom.crawl("What language were books translated into in the era of Haymo of Faversham?",
                                    complexity="RESEARCH", limit=None)
    ids = [h.id for h in result.items]
    assert len(ids) == len(set(ids))
    for h in result.items:
        assert 1 <= h.found_in_pass <= 4 and h.paths
        assert set(h.score_parts) == {"sim", "lexical", "graph", "pair", "paths", "recency", "time"}
    scores = [h.score for h in result.items]
    assert scores == sorted(scores, reverse=True)
    recovery = next(h for h in result.items if h.shard.title == "Recovery of Aristotle")
    assert any(p.startswith(("vector", "lexical", "mentions-about", "entity")) for p in recovery.paths)


async def test_threshold_is_really_applied(small_loom: HoloLoom) -> None:
    q = "Stephen King horror films"
    loose = CrawlPlan(Complexity.LITE, (PassSpec(limit=50, threshold=-10.0),), seed_limit=50)
    strict = CrawlPlan(Complexity.LITE, (PassSpec(limit=50, threshold=0.5),), seed_limit=50)
    everything = await small_loom.crawl(q, plan=loose, limit=None)
    kept = await small_loom.crawl(q, plan=strict, limit=None)
    assert len(everything.items) == 8
    assert 0 < len(kept.items) < 8
    assert all(h.score >= 0.5 for h in kept.items)
    assert kept.passes[0].dropped_by_threshold == 8 - len(kept.items)


async def test_pass_limit_is_applied(small_loom: HoloLoom) -> None:
    plan = CrawlPlan(Complexity.FAST, (PassSpec(limit=2, threshold=-1, beam=1), PassSpec(limit=3, threshold=-1)))
    result = await small_loom.crawl("Stephen King", plan=plan, limit=None)
    assert result.passes[0].kept == 2 and len(result.items) == 3


async def test_filters_apply_to_every_path(small_loom: HoloLoom) -> None:
    await small_loom.add("Stephen King wrote Maximum Overdrive in a hurry.", namespace="other")
    hits = await small_loom.recall("Stephen King", complexity="RESEARCH", namespace="other", limit=None)
    assert [h.shard.namespace for h in hits] == ["other"]


async def test_recall_validates_input(small_loom: HoloLoom) -> None:
    with pytest.raises(InvalidComplexityError):
        await small_loom.recall("x", complexity="EXTREME")
    for bad in ("", "   ", None, 5):
        with pytest.raises(InvalidQueryError):
            await small_loom.recall(bad)  # type: ignore[arg-type]


async def test_deadline_stops_later_passes(small_loom: HoloLoom) -> None:
    ticks = iter(range(1000))
    small_loom.crawler.clock = lambda: float(next(ticks))
    from HoloLoom import SearchFilter
    result = await small_loom.crawler.crawl("Stephen King", SearchFilter("default"), complexity="RESEARCH", deadline=2.0)
    assert result.stopped_early and len(result.passes) < 4


async def test_time_window(loom: HoloLoom) -> None:
    await loom.add("The launch happened in spring.", occurred_at="2023-04-01")
    await loom.add("The launch was delayed in autumn.", occurred_at="2024-10-01")
    hits = await loom.recall("launch", since="2024-01-01", complexity="FULL")
    assert [h.shard.text for h in hits] == ["The launch was delayed in autumn."]


def chat(session: int, *lines: tuple[str, str]) -> list:
    from HoloLoom import Document

    return [Document(text=f"{who}: {said}", id=f"D{session}:{i}", occurred_at="2023-05-08T13:56:00",
                     metadata={"speaker": who, "session": session, "conversation": "c"})
            for i, (who, said) in enumerate(lines, start=1)]


async def test_the_answer_to_a_question_turn_is_reached_through_its_reply_link(loom: HoloLoom) -> None:
    await loom.add([
        *chat(1, ("Maria", "Great news John! How often do you all work out together with the kids?"),
              ("John", "Thanks, Maria! Three times a week; it keeps us on track."),
              ("Maria", "I baked a cake for the shelter yesterday.")),
        *chat(2, ("John", "The campaign is going well, lots of door knocking."),
              ("Maria", "I adopted a puppy called Coco.")),
    ])
    # One seed only (the question turn, the closest vector): its answer comes in by the reply link.
    narrow = CrawlPlan(Complexity.LITE, (PassSpec(limit=5, threshold=-1.0),), seed_limit=1, lexical=False,
                       query_entities=False)
    result = await loom.crawl("How often does John work out with his family?", plan=narrow, limit=None)
    found = {h.id: h for h in result.items}
    assert set(found) == {"D1:1", "D1:2"}
    assert "reply<-D1:1" in found["D1:2"].paths
    # Read with the question it answers, the reply matches far better than alone.
    assert found["D1:2"].score_parts["pair"] > found["D1:2"].score_parts["sim"] + 0.1
    closed = await loom.crawl("How often does John work out with his family?", limit=None,
                              plan=replace(narrow, replies=False))
    assert [h.id for h in closed.items] == ["D1:1"]


async def test_a_question_naming_a_speaker_prefers_what_that_speaker_said(loom: HoloLoom) -> None:
    await loom.add([
        *chat(1, ("Ana", "We went hiking in Sintra last weekend, beautiful trails."),
              ("Ben", "Hiking is great, I went hiking in the Alps last weekend too.")),
    ])
    for name, expected in (("Ana", "D1:1"), ("Ben", "D1:2")):
        items = (await loom.crawl(f"Where did {name} go hiking?", complexity="LITE", limit=2)).items
        assert items[0].id == expected
        assert items[0].score_parts["graph"] >= DEFAULT_PLANS[Complexity.LITE].weights.named


def test_the_focus_query_drops_named_participants() -> None:
    from HoloLoom.crawl import _strip_names

    assert _strip_names("What did Caroline's mom and Melanie paint?", ["Caroline", "Melanie"]) == "What did mom and paint?"
    assert _strip_names("Who is Annabel?", ["Anna"]) == "Who is Annabel?"
