import json
import re

import pytest

from HoloLoom import (
    Complexity,
    HoloLoom,
    InvalidComplexityError,
    InvalidFeedbackError,
    InvalidQueryError,
    NotFoundError,
    Settings,
    Spacetime,
    Stage,
    ToolContext,
    ToolResult,
    ValidationError,
    detect_complexity,
)
from HoloLoom.weaving import (
    STAGE_ORDER, StageEnded, StageStarted, ToolChooser, WeaveEnded, WeaveStarted, fuse, intent_of, resolve_window,
)
from HoloLoom.weaving.answer import answer_tool
from HoloLoom.weaving.tools import summarize_tool

QUESTION = "Who directed the film that was shot in Leland, North Carolina in 1986?"


@pytest.mark.parametrize(
    "query, level",
    [
        ("hi", Complexity.LITE),
        ("thanks, that helps!", Complexity.LITE),
        ("Define machine learning", Complexity.FULL),  # "Define" is not a greeting; no substring rules
        ("this", Complexity.FULL),  # a one-word look-up is a question about memory
        ("What is the capital of France?", Complexity.FULL),
        ("Who founded the order that Haymo of Faversham led?", Complexity.FULL),
        ("Give me a comprehensive analysis of the launch", Complexity.RESEARCH),
        ("What creative activity does Nate joke about?", Complexity.FULL),  # a question about a joke
    ],
)
def test_complexity_is_detected_by_whole_words(query: str, level: Complexity) -> None:
    assert detect_complexity(query) is level


def test_temporal_window_from_phrases_and_options() -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    w = resolve_window("what happened last week?", now=now)
    assert w.source == "query" and w.phrase == "last week"
    assert (w.since, w.until) == (1699228800.0, pytest.approx(1699833600.0 - 1e-3))  # the calendar week Nov 6-12
    w = resolve_window("launches in 2023", now=now)
    assert w.since == 1672531200.0 and w.until < 1704067200.0
    w = resolve_window("notes from in March 2024", now=now)
    assert w.since == 1709251200.0
    w = resolve_window("in 2023", since="2020-01-01", now=now)
    assert w.source == "options" and w.since == 1577836800.0 and w.until is None
    assert not resolve_window("plain question", now=now).active
    with pytest.raises(ValidationError):
        resolve_window("x", since="2024-01-02", until="2024-01-01", now=now)


def test_intent_and_tool_choice_learn_and_persist(tmp_path) -> None:
    from HoloLoom.routing import Policy

    assert intent_of("summarise the meeting") == "summarize"
    assert intent_of("find notes about Paris") == "search"
    assert intent_of("who is Ada?") == "answer"
    path = tmp_path / "policy.json"
    chooser = ToolChooser(Policy(path, seed=1))
    tools = ["answer", "search", "summarize"]
    intent = intent_of("who is Ada?")  # stage 1 reads it once; the chooser works per intent
    assert {chooser.choose(intent, tools)[0] for _ in range(200)} == {"answer"}  # never rated: the intent's tool
    for _ in range(30):  # feedback on every weave, in which "search" does well and "answer" badly
        tool = chooser.choose(intent, tools)[0]
        chooser.learn(intent, tool, 1.0 if tool == "search" else 0.0)
        chooser.learn(intent, "search", 1.0)
        chooser.learn(intent, "answer", 0.0)
    picks = [chooser.choose(intent, tools)[0] for _ in range(200)]
    assert picks.count("search") > 150
    a, b = Policy(path).posterior("tool", "answer", "search")
    assert a > 25 and b < 3  # saved, and read back by a new process


def test_fuse_dedups_and_demotes_near_duplicates() -> None:
    from HoloLoom import MemoryShard, ScoredShard

    def item(i: str, text: str, score: float) -> ScoredShard:
        return ScoredShard(MemoryShard(id=i, namespace="n", text=text), score)

    items = [item("a", "the cat sat on the mat today", 1.0), item("a", "the cat sat on the mat today", 1.0),
             item("b", "the cat sat on the mat today again", 0.9), item("c", "dogs bark at night", 0.8)]
    fused, info = fuse(items, limit=3)
    assert [f.id for f in fused] == ["a", "c", "b"]
    assert info["unique"] == 3 and info["demoted"] == 1


async def test_answer_and_summarize_tools_cite_their_sources(small_loom: HoloLoom) -> None:
    items = tuple(await small_loom.recall(QUESTION, complexity="FULL", limit=5))
    ctx = ToolContext(query=QUESTION, complexity=Complexity.FULL, items=items)
    result = await answer_tool(ctx)
    assert "Stephen King" in result.response and result.citations
    assert set(result.citations) <= {i.id for i in items}
    for sentence, row in re.findall(r"(.+?) \[(\d+)\]", result.response):  # [n] is context row n
        assert sentence.strip().split()[0] in items[int(row) - 1].shard.text
    assert 0 < result.confidence <= 1
    summary = await summarize_tool(ctx)
    assert summary.citations and summary.response.count("[") >= 2


async def test_weave_runs_nine_stages_in_order_from_events(small_loom: HoloLoom) -> None:
    seen = []
    small_loom.events.subscribe(seen.append)
    st = await small_loom.weave(QUESTION, complexity="FULL", budget_ms=60_000)
    assert [r.stage for r in st.stages] == list(STAGE_ORDER)
    stage_events = [(e.stage, type(e)) for e in seen if isinstance(e, (StageStarted, StageEnded))]
    assert stage_events == [(s, t) for s in STAGE_ORDER for t in (StageStarted, StageEnded)]
    assert isinstance(seen[0], WeaveStarted) and seen[0].query == QUESTION
    assert isinstance(seen[-1], WeaveEnded) and seen[-1].spacetime is st
    # the trace is the stage end events, as published
    assert [(r.stage, r.duration_ms, dict(r.data)) for r in st.stages] == [
        (e.stage, e.duration_ms, dict(e.data)) for e in seen if isinstance(e, StageEnded)]
    assert all(r.duration_ms >= 0 for r in st.stages)
    assert st.complexity is Complexity.FULL and st.backend == "embedded" and not st.degraded
    assert "Stephen King" in st.response
    titles = [c.shard.title for c in st.context[:3]]
    assert "Maximum Overdrive" in titles and "Leland, North Carolina" in titles
    crawl = next(r for r in st.stages if r.stage is Stage.CRAWL)
    assert len(crawl.data["passes"]) == 3


@pytest.mark.parametrize("level", list(Complexity))
async def test_weave_at_every_level(small_loom: HoloLoom, level: Complexity) -> None:
    st = await small_loom.weave("Where did Haymo of Faversham lecture?", complexity=level, budget_ms=60_000)
    assert st.complexity is level
    crawl = next(r for r in st.stages if r.stage is Stage.CRAWL)
    assert len(crawl.data["passes"]) == level.rank + 1
    assert st.context and st.response


async def test_spacetime_json_round_trip(small_loom: HoloLoom) -> None:
    st = await small_loom.weave(QUESTION, budget_ms=60_000)
    again = Spacetime.from_json(st.to_json())
    assert again == st
    assert json.loads(st.to_json())["stages"][4]["loom_name"] == "Yarn Graph"


async def test_budget_cuts_slow_stages_and_says_so(small_loom: HoloLoom) -> None:
    orch = small_loom.orchestrator
    ticks = iter(range(0, 100_000))
    orch.clock = lambda: next(ticks) * 0.010  # every look at the clock costs 10 ms
    st = await small_loom.weave(QUESTION, complexity="RESEARCH", budget_ms=50)
    assert st.degraded
    assert any("time budget" in w for w in st.warnings)
    crawl = next(r for r in st.stages if r.stage is Stage.CRAWL)
    assert len(crawl.data["passes"]) < 4
    assert st.response  # it still answers with what it has


async def test_a_failing_user_tool_is_reported_not_raised(small_loom: HoloLoom) -> None:
    async def broken(ctx: ToolContext) -> ToolResult:
        raise RuntimeError("LLM quota exceeded")

    small_loom.register_tool("llm", broken)
    st = await small_loom.weave(QUESTION, tool="llm", budget_ms=60_000)
    assert st.tool == "llm" and st.degraded
    assert any("LLM quota exceeded" in e for e in st.errors)
    execute = next(r for r in st.stages if r.stage is Stage.EXECUTE)
    assert execute.data["failed"] is True


async def test_a_user_tool_gets_the_woven_context(small_loom: HoloLoom) -> None:
    seen: list[ToolContext] = []

    async def echo(ctx: ToolContext) -> ToolResult:
        seen.append(ctx)
        return ToolResult(f"{len(ctx.items)} items", 0.9, tuple(i.id for i in ctx.items[:1]))

    small_loom.register_tool("echo", echo)
    st = await small_loom.weave(QUESTION, tool="echo", limit=3, budget_ms=60_000)
    assert st.response == "3 items" and len(seen[0].items) == 3
    with pytest.raises(ValidationError):
        small_loom.register_tool("Bad Name", echo)
    with pytest.raises(ValidationError):
        small_loom.register_tool("sync", lambda ctx: None)  # type: ignore[arg-type]


async def test_feedback_moves_the_tool_posterior_and_survives_restart(home, embedder) -> None:
    async with HoloLoom(settings=Settings(home=home, seed=3), embedder=embedder) as loom:
        await loom.add("Ada Lovelace wrote the first program.")
        st = await loom.weave("Who wrote the first program?", budget_ms=60_000)
        assert st.tool == "answer"  # nothing learned yet: the intent's tool
        out = await loom.feedback(st.id, useful=True)
        assert out["tool_learned"] and out["tool_posterior"] == {"alpha": 2.0, "beta": 1.0}
        out = await loom.feedback(st.id, 0.25)  # replaces the first feedback
        assert out["tool_posterior"] == {"alpha": 1.25, "beta": 1.75}
        forced = await loom.weave("Who wrote the first program?", tool="search", budget_ms=60_000)
        assert not (await loom.feedback(forced.id, 1.0))["tool_learned"]  # the caller chose it, not the policy
    async with HoloLoom(settings=Settings(home=home, seed=3), embedder=embedder) as loom:
        assert loom.orchestrator.policy.posterior("tool", "answer", "answer") == (1.25, 1.75)
        assert loom.orchestrator.policy.posterior("arm", st.routing["query_type"], "hybrid")[0] > 1.0
        # the weave log lets a new process credit an old weave
        out = await loom.feedback(st.id, 1.0)
        assert out["tool"] == "answer" and out["tool_learned"]


async def test_bad_weave_and_feedback_input(small_loom: HoloLoom) -> None:
    for bad in ("", "  ", None, 3, "x" * 20_000):
        with pytest.raises(InvalidQueryError):
            await small_loom.weave(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidComplexityError):
        await small_loom.weave("ok", complexity="MEGA")
    with pytest.raises(ValidationError):
        await small_loom.weave("ok", tool="nope")
    with pytest.raises(InvalidFeedbackError):
        await small_loom.feedback("not-an-id", 1.0)
    st = await small_loom.weave("Stephen King", budget_ms=60_000)
    for reward in (-0.1, 1.5, float("nan"), True, "1"):
        with pytest.raises(InvalidFeedbackError):
            await small_loom.feedback(st.id, reward)  # type: ignore[arg-type]
    with pytest.raises(InvalidFeedbackError):
        await small_loom.feedback(st.id)
    with pytest.raises(NotFoundError):
        await small_loom.feedback("0" * 32, 1.0)


async def test_time_phrase_prefers_its_window_and_warns_when_nothing_matches(loom: HoloLoom) -> None:
    await loom.add("Quarterly launch review: the rocket slipped.", occurred_at="2023-05-01")
    await loom.add("Quarterly launch review: the rocket flew.", occurred_at="2024-05-01")
    st = await loom.weave("launch review in 2024", budget_ms=60_000)
    # The window's memory leads; the other follows at a discount, marked (the phrase may date the subject).
    assert [c.shard.text for c in st.context] == ["Quarterly launch review: the rocket flew.",
                                                  "Quarterly launch review: the rocket slipped."]
    assert "outside-window" in st.context[1].paths and "outside-window" not in st.context[0].paths
    assert not st.warnings
    st = await loom.weave("launch review", since="2024-01-01", budget_ms=60_000)
    assert [c.shard.text for c in st.context] == ["Quarterly launch review: the rocket flew."]  # options filter
    st = await loom.weave("launch review in 1999", budget_ms=60_000)
    assert len(st.context) == 2 and any("searched all dates" in w for w in st.warnings)


async def test_subscriber_errors_never_break_a_weave(small_loom: HoloLoom) -> None:
    def boom(event):
        raise ValueError("observer bug")

    small_loom.events.subscribe(boom)
    st = await small_loom.weave("Stephen King", budget_ms=60_000)
    assert st.response


async def test_learned_routing_is_the_default_and_serves_the_full_plan_without_feedback(home, embedder) -> None:
    from HoloLoom import Document
    from tests.conftest import CORPUS

    async with HoloLoom(settings=Settings(home=home, seed=11), embedder=embedder) as loom:
        await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS])
        for n in range(12):
            st = await loom.weave(f"Who directed the film shot in Leland? ({n})", budget_ms=60_000)
            assert st.routing["arm"] == "hybrid" and st.strategy == st.routing["strategy"] == "learned"
            assert st.routing["query_type"] == "factual" and not st.routing["explored"]
            crawl = next(r for r in st.stages if r.stage is Stage.CRAWL)
            assert len(crawl.data["passes"]) == len(loom.orchestrator.cards[st.complexity].plan.passes)
        await loom.feedback(st.id, useful=True)
        stats = loom.orchestrator.router.stats()
        assert stats["contexts"]["factual"]["hybrid"]["rewards"] == 1
        assert stats["availability"]["hybrid"]["outcomes"] == 12
    assert (home / "state" / "policy.json").exists() and not (home / "routing").exists()


async def test_a_weave_reads_its_query_once(small_loom: HoloLoom, monkeypatch) -> None:
    """Entities extracted, query type classified and intent read once per weave; the query embedded once."""
    from HoloLoom.weaving import features

    calls: dict[str, int] = {"entities": 0, "type": 0, "intent": 0}
    extractor = small_loom.extractor
    real_entities, real_type, real_intent = extractor.entities, features.classify_query_type, features.intent_of

    def count(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    await small_loom.weave("warm the namespace up", budget_ms=60_000)  # the one-time probe crawl is not a weave
    monkeypatch.setattr(extractor, "entities", count("entities", real_entities))
    from HoloLoom.weaving import patterns

    for module in (features, patterns):  # stage 1's reading, and detect_complexity's own fallback
        monkeypatch.setattr(module, "classify_query_type", count("type", real_type))
    monkeypatch.setattr(features, "intent_of", count("intent", real_intent))
    st = await small_loom.weave("Who directed the film that was shot in Leland, North Carolina?", budget_ms=60_000)
    assert st.response and calls == {"entities": 1, "type": 1, "intent": 1}
