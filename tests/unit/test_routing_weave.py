"""LearnedWeaveRouter behind weave's stage-3 seam: arms really drive retrieval, outcomes flow back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from HoloLoom import DEFAULT_PLANS, Complexity, HoloLoom, StoreUnavailableError
from HoloLoom.routing import STRATEGY_ARMS, LearnedWeaveRouter, RoutingOrchestrator, plan_for_arm
from HoloLoom.weaving import WeavingOrchestrator

QUESTIONS = [
    "Who directed the film that was shot in Leland, North Carolina in 1986?",
    "Where did Haymo of Faversham lecture?",
    "Define the demon algorithm",
    "Why did the Recovery of Aristotle matter?",
]


def test_strategy_plans() -> None:
    full = DEFAULT_PLANS[Complexity.FULL]
    vector = plan_for_arm("vector", full)
    assert len(vector.passes) == 1 and not vector.lexical and not vector.query_entities
    graph = plan_for_arm("graph", full)
    assert graph.passes == full.passes and not graph.lexical and graph.vector_expansion == 0 and graph.query_entities
    assert plan_for_arm("hybrid", full) is full and plan_for_arm("backend:neo4j", full) is full
    assert STRATEGY_ARMS == ("vector", "graph", "hybrid")


def test_every_arm_needs_a_target() -> None:
    with pytest.raises(ValueError):
        LearnedWeaveRouter(RoutingOrchestrator(["vector", "graph"]), {"vector": (object(), lambda p: None)})


class _FlakyStore:
    """Delegates to a real store, but can be switched to fail like an unreachable server."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.down = False
        self.name = "flaky"

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        async def call(*args, **kwargs):
            if self.down:
                raise StoreUnavailableError("flaky backend is down")
            return await attr(*args, **kwargs)

        return call


async def test_weave_routes_through_the_learned_router(small_loom: HoloLoom, tmp_path: Path) -> None:
    flaky = _FlakyStore(small_loom.store)
    router = LearnedWeaveRouter.for_store(small_loom.store, backends={"flaky": flaky}, store_dir=tmp_path / "routing", seed=0)
    assert router.orchestrator.arms == ("vector", "graph", "hybrid", "backend:flaky")
    weaver = WeavingOrchestrator(small_loom.store, small_loom.embedder, small_loom.extractor, router=router,
                                 state_dir=tmp_path / "state", seed=0)
    seen = []
    for i in range(8):
        st = await weaver.weave(QUESTIONS[i % len(QUESTIONS)], namespace="default", tool="search")
        seen.append(st)
        assert st.routing["arm"] in router.orchestrator.arms
        assert st.routing["strategy"] == "learned"
        assert set(st.routing["posterior"]) == set(router.orchestrator.arms)
        assert st.routing["query_type"] in ("factual", "analytical")
    await weaver.feedback(seen[0].id, 1.0)
    router.close()
    lines = [json.loads(x) for x in (tmp_path / "routing" / "routing_metrics.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines].count("outcome") == 8
    assert lines[-1]["kind"] == "feedback" and lines[-1]["spacetime_id"] == seen[0].id
    assert {x["spacetime_id"] for x in lines} == {st.id for st in seen}
    state = json.loads((tmp_path / "routing" / "routing_state.json").read_text())
    assert sum(a["pulls"] for a in state["availability"]["arms"].values()) == 8

    # The extra backend has been the best so far; then it goes down: weaves that pick it
    # are recorded as failures and answered from another store (a fallback arm), and the
    # router stops picking it.
    for qt in router.orchestrator.router.query_types:
        for _ in range(30):
            router.orchestrator.router.add_evidence(qt, "backend:flaky", 1.0)
    flaky.down = True
    picks = []
    for i in range(24):
        st = await weaver.weave(QUESTIONS[i % len(QUESTIONS)], namespace="default", tool="search")
        assert st.context, "the weave is still answered"
        if st.routing.get("fallback_from"):
            assert st.routing["fallback_from"] == "backend:flaky" and st.strategy == "fallback"
            assert any("failed" in w for w in st.warnings)
            picks.append("backend:flaky")
        else:
            picks.append(st.routing["arm"])
    failures = picks.count("backend:flaky")
    assert failures >= 1 and picks[0] == "backend:flaky"
    assert router.orchestrator.stats()["counts"]["failures"] == failures
    assert picks[-12:].count("backend:flaky") <= 1
