"""Each of the nine weave stages on its own, over a WeaveContext, with stand-ins for what it calls.

No model, no store: the stand-ins record how a stage used them, so each test shows what
the stage reads from the context, what it writes, and what it reports in the trace.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from HoloLoom import Complexity, MemoryShard, RuleBasedExtractor, ScoredShard, StoreError, ToolContext, ToolResult
from HoloLoom.crawl import CrawlResult, PassReport
from HoloLoom.routing.policy import Policy
from HoloLoom.weaving import (
    DEFAULT_CARDS, RouteDecision, Stage, ToolChooser, ToolRegistry, WeaveContext, WeaveRequest, WeaveServices,
)
from HoloLoom.weaving.stages import (
    RECOVERY, STAGES, assemble, choose_route, choose_tool, crawl_memory, detect_pattern, embed_features, execute_tool,
    fail_over, fuse_context, resolve_time,
)


@dataclass
class Store:
    name: str = "stub"
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    async def get_vectors(self, ids, *, namespace):
        return {i: self.vectors[i] for i in ids if i in self.vectors}


class Embedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0


@dataclass
class Router:
    store: Any = field(default_factory=Store)
    selected: list[tuple[str, str | None]] = field(default_factory=list)
    recorded: list[bool] = field(default_factory=list)
    spare: Any = None

    def select(self, query, plan, *, query_type=None):
        self.selected.append((query, query_type))
        return RouteDecision(arm="hybrid", strategy="learned", store=self.store, info={"query_type": query_type})

    def fallback(self, failed, plan):
        if self.spare is None:
            return None
        return RouteDecision(arm="backend:spare", strategy="fallback", store=self.spare,
                             info={**failed.info, "fallback_from": failed.arm})

    def record(self, decision, *, success):
        self.recorded.append(success)

    def feedback(self, routing, reward, *, replaces=None):
        return None


def _item(n: int, sim: float = 0.5, text: str | None = None) -> ScoredShard:
    shard = MemoryShard(id=f"s{n}", namespace="default", text=text or f"memory number {n} about topic {n}")
    return ScoredShard(shard=shard, score=1.0 - n / 100, score_parts={"sim": sim})


class Crawler:
    def __init__(self, store: Any, items: list[ScoredShard] | None = None, *, stopped_early: bool = False) -> None:
        self.store = store
        self.items = items if items is not None else [_item(n) for n in range(5)]
        self.stopped_early = stopped_early
        self.calls: list[dict[str, Any]] = []

    async def crawl(self, query, flt, **options):
        self.calls.append({"query": query, "flt": flt, **options})
        passes = [PassReport(number=1, new=len(self.items), kept=len(self.items), dropped_by_threshold=0,
                             elapsed_ms=1.0, paths={"vector": len(self.items)})]
        return CrawlResult(items=list(self.items), passes=passes, stopped_early=self.stopped_early)


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def services(*, router: Router | None = None, crawler: Crawler | None = None, clock: Clock | None = None,
             tools: ToolRegistry | None = None) -> WeaveServices:
    router = router or Router()
    crawlers = {id(router.store): crawler or Crawler(router.store)}
    return WeaveServices(
        cards=DEFAULT_CARDS, router=router, embedder=Embedder(), extractor=RuleBasedExtractor(),
        tools=tools or ToolRegistry(), chooser=ToolChooser(Policy(seed=1)),
        crawler_for=lambda store: crawlers.setdefault(id(store), Crawler(store)), clock=clock or Clock(),
    )


def context(query: str = "Who directed the film that was shot in Leland, North Carolina?", **options: Any) -> WeaveContext:
    return WeaveContext(request=WeaveRequest(query=query, namespace="default", **options), weave_id="w" * 32,
                        started=100.0, started_wall=1_700_000_000.0)


async def through(stage: Stage, w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Run the stages before ``stage`` (to fill the context), then ``stage``; returns its data."""
    for name, run in STAGES:
        data = await run(w, s)
        if name is stage:
            return data
    raise AssertionError(stage)


def test_the_pipeline_is_the_nine_stages_in_order() -> None:
    assert [stage for stage, _ in STAGES] == list(Stage)
    assert set(RECOVERY) == {Stage.CRAWL}


async def test_detect_pattern_reads_the_query_once_and_picks_the_card() -> None:
    s, w = services(), context()
    data = await detect_pattern(w, s)
    f = w.features
    assert f.query_type == "multi_hop" and f.intent == "answer" and f.vector is None
    assert "Leland" in " ".join(f.entities) and "directed" in f.keywords
    assert w.card is DEFAULT_CARDS[Complexity.FULL] and data["complexity"] == "FULL" and data["detected"]
    assert w.budget.deadline == pytest.approx(100.0 + w.card.budget_ms / 1000.0)
    w = context("hi there")
    assert (await detect_pattern(w, s))["complexity"] == "LITE" and w.features.query_type == "conversational"
    w = context("hi there", complexity=Complexity.RESEARCH, budget_ms=5.0)
    data = await detect_pattern(w, s)
    assert data["complexity"] == "RESEARCH" and not data["detected"] and w.card.budget_ms == 5.0


async def test_resolve_time_builds_the_search_filter() -> None:
    s = services()
    w = context("launch review in 2024", where={"speaker": "Ana"})
    data = await through(Stage.TEMPORAL, w, s)
    assert data["source"] == "query" and data["phrase"] == "2024"
    assert w.search_filter.since == w.window.since and w.search_filter.where == {"speaker": "Ana"}
    w = context("launch review", since=10.0, until=20.0)
    data = await through(Stage.TEMPORAL, w, s)
    assert data["source"] == "options" and (w.search_filter.since, w.search_filter.until) == (10.0, 20.0)


async def test_choose_route_hands_the_router_the_query_type_stage_1_read() -> None:
    router = Router()
    s, w = services(router=router), context()
    data = await through(Stage.ROUTE, w, s)
    assert router.selected == [(w.request.query, "multi_hop")]
    assert w.route.arm == "hybrid" and data == {"arm": "hybrid", "strategy": "learned", "backend": "stub",
                                                "query_type": "multi_hop"}


async def test_embed_features_embeds_the_query_exactly_once() -> None:
    s, w = services(), context()
    data = await through(Stage.FEATURES, w, s)
    assert s.embedder.calls == [[w.request.query]] and w.features.vector.shape == (4,)
    assert data["query_type"] == "multi_hop" and data["intent"] == "answer" and "entities" in data


async def test_crawl_memory_reuses_the_query_vector_and_the_budget() -> None:
    router = Router()
    crawler = Crawler(router.store, stopped_early=True)
    s, w = services(router=router, crawler=crawler), context()
    data = await through(Stage.CRAWL, w, s)
    (call,) = crawler.calls
    assert call["query_vector"] is w.features.vector and call["deadline"] == w.budget.deadline
    assert call["entities"] == w.features.entities  # read once, at stage 1
    assert call["plan"] is w.card.plan and call["flt"] is w.search_filter
    assert data["found"] == 5 and data["passes"][0]["paths"] == {"vector": 5} and w.budget.cut == ["crawl"]
    assert len(s.embedder.calls) == 1  # the crawl did not embed again


async def test_a_time_phrase_crawls_inside_and_outside_its_window() -> None:
    router = Router()
    crawler = Crawler(router.store, items=[])
    s, w = services(router=router, crawler=crawler), context("what happened in 1999")
    data = await through(Stage.CRAWL, w, s)
    assert len(crawler.calls) == 2 and crawler.calls[1]["flt"].since is None
    assert data["window_relaxed"] and any("searched all dates" in x for x in w.warnings)


async def test_fail_over_moves_to_another_store_once_or_gives_up() -> None:
    router = Router(spare=Store("spare"))
    s, w = services(router=router), context()
    await through(Stage.ROUTE, w, s)
    retry = await fail_over(w, s, StoreError("disk gone"))
    assert retry == {"retry_of": "hybrid"} and router.recorded == [False]
    assert w.route.store.name == "spare" and "answered from arm backend:spare" in w.warnings[0]
    router.spare = None
    assert await fail_over(w, s, StoreError("disk gone")) is None


async def test_fuse_context_reranks_or_is_skipped_when_the_budget_is_spent() -> None:
    clock = Clock()
    items = [_item(1), _item(2, text="memory number 1 about topic 1"), _item(3)]
    s = services(clock=clock, crawler=Crawler(Store(), items))
    s = replace(s, crawler_for=lambda store: Crawler(store, items))
    w = context(limit=2)
    data = await through(Stage.FUSE, w, s)
    assert data["duplicates"] == 1 and [i.id for i in w.context] == ["s1", "s3"]
    w = context(limit=2)
    for _, run in STAGES[:5]:
        await run(w, s)
    clock.now = w.budget.deadline
    data = await fuse_context(w, s)
    assert data == {"skipped": True, "out": 2} and [i.id for i in w.context] == ["s1", "s2"] and "fuse" in w.budget.cut


async def test_choose_tool_forced_learned_or_the_cards_first() -> None:
    clock = Clock()
    s = services(clock=clock)
    w = context("find notes about Leland")
    data = await through(Stage.CONVERGE, w, s)
    assert w.tool == "search" and w.tool_learned and data["intent"] == "search" and data["learned"]
    w = context(tool="summarize")
    assert (await through(Stage.CONVERGE, w, s)) == {"tool": "summarize", "forced": True} and not w.tool_learned
    w = context()
    for _, run in STAGES[:6]:
        await run(w, s)
    clock.now = w.budget.deadline
    assert (await choose_tool(w, s)) == {"tool": "answer", "skipped": True} and not w.tool_learned


async def test_execute_tool_reports_a_failing_tool_instead_of_raising() -> None:
    tools = ToolRegistry()
    seen: list[ToolContext] = []

    async def echo(ctx: ToolContext) -> ToolResult:
        seen.append(ctx)
        return ToolResult("ok", 0.9, (ctx.items[0].id,))

    async def broken(ctx: ToolContext) -> ToolResult:
        raise RuntimeError("quota")

    async def wrong(ctx: ToolContext) -> str:
        return "not a ToolResult"

    for name, fn in (("echo", echo), ("broken", broken), ("wrong", wrong)):
        tools.register(name, fn)
    s = services(tools=tools)
    w = context(tool="echo")
    data = await through(Stage.EXECUTE, w, s)
    assert data == {"tool": "echo", "confidence": 0.9, "citations": 1}
    assert seen[0].extras["query_vector"] is w.features.vector and seen[0].entities == w.features.entities
    assert seen[0].extras["item_vectors"] == {}  # the stub store keeps no vectors
    for name, message in (("broken", "RuntimeError: quota"), ("wrong", "TypeError")):
        w = context(tool=name)
        data = await through(Stage.EXECUTE, w, s)
        assert data["failed"] and message in data["error"] and w.degraded and w.tool_result.response == ""


async def test_assemble_scales_confidence_by_retrieval_and_names_what_the_budget_cut() -> None:
    s = services()
    s = replace(s, crawler_for=lambda store: Crawler(store, [_item(1, sim=0.3)]))
    w = context(tool="search")
    data = await through(Stage.SPACETIME, w, s)
    assert data["context"] == 1 and not data["degraded"]
    assert w.confidence == pytest.approx(round(min(1.0, w.tool_result.confidence) * 0.5, 4))
    w = context(tool="search")
    for _, run in STAGES[:8]:
        await run(w, s)
    w.budget.cut.append("crawl")
    data = await assemble(w, s)
    assert data["degraded"] and w.warnings[-1].startswith("time budget of 300 ms spent: cut crawl")


async def test_every_stage_returns_plain_trace_data() -> None:
    counter = itertools.count()
    s, w = services(), context()
    for stage, run in STAGES:
        data = await run(w, s)
        assert isinstance(data, dict), stage
        next(counter)
    assert next(counter) == 9


async def test_the_answer_tool_reuses_the_stored_vectors_of_one_sentence_memories() -> None:
    router = Router(store=Store(vectors={f"s{n}": np.full(4, 0.5, dtype=np.float32) for n in range(5)}))
    items = [_item(n, text=f"Ada Lovelace wrote note {n}.") for n in range(3)]
    s = services(router=router)
    s = replace(s, crawler_for=lambda store: Crawler(store, items))
    w = context("Who wrote note 1?", tool="answer")
    await through(Stage.EXECUTE, w, s)
    assert set(w.tool_result.data) and len(w.stages) == 0  # stages are recorded by the orchestrator, not here
    sentence_batches = [c for c in s.embedder.calls if any(t.startswith("Ada Lovelace") for t in c)]
    assert sentence_batches == []  # every sentence was a whole memory with a stored vector
