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
        assert set(h.score_parts) == {"sim", "lexical", "graph", "pair", "paths", "recency"}
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
