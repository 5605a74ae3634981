"""LearnedWeaveRouter behind weave's stage-3 seam: the full plan by default, failover between real stores."""

from __future__ import annotations

import json
from pathlib import Path

from HoloLoom import DEFAULT_PLANS, Complexity, Document, HoloLoom, Settings
from HoloLoom.routing import STRATEGY_ARMS, LearnedWeaveRouter, Policy, plan_for_arm
from HoloLoom.weaving import WeavingOrchestrator

from tests.conftest import CORPUS

LABELLED = Path(__file__).resolve().parents[2] / "HoloLoom" / "bench" / "data" / "query_types.jsonl"


def test_strategy_plans() -> None:
    full = DEFAULT_PLANS[Complexity.FULL]
    vector = plan_for_arm("vector", full)
    assert len(vector.passes) == 1 and not vector.lexical and not vector.query_entities
    graph = plan_for_arm("graph", full)
    assert graph.passes == full.passes and not graph.lexical and graph.vector_expansion == 0 and graph.query_entities
    assert plan_for_arm("hybrid", full) is full and plan_for_arm("backend:neo4j", full) is full
    assert STRATEGY_ARMS == ("hybrid", "graph", "vector")


def test_a_router_with_no_feedback_serves_the_full_plan_on_500_weaves(tmp_path: Path) -> None:
    queries = [json.loads(line)["query"] for line in LABELLED.read_text().splitlines()]
    router = LearnedWeaveRouter(object(), Policy(tmp_path / "policy.json", seed=9), backends={"replica": object()})  # type: ignore[arg-type]
    full = 0
    for i in range(500):
        plan = DEFAULT_PLANS[list(Complexity)[i % 4]]
        decision = router.select(queries[i % len(queries)], plan)
        router.record(decision, success=True)
        full += decision.arm == "hybrid" and decision.plan is plan
    assert full / 500 >= 0.95
    router.policy.close()
    assert router.stats()["availability"]["hybrid"]["outcomes"] == full


async def _loom_with_corpus(home: Path, embedder) -> HoloLoom:
    loom = HoloLoom(settings=Settings(home=home, routing="fixed"), embedder=embedder)
    await loom.open()
    await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS])
    return loom


async def test_failover_to_another_real_store_when_the_first_fails(tmp_path: Path, embedder) -> None:
    primary = await _loom_with_corpus(tmp_path / "primary", embedder)
    replica = await _loom_with_corpus(tmp_path / "replica", embedder)
    policy = Policy(tmp_path / "policy.json", seed=0)
    router = LearnedWeaveRouter(primary.store, policy, backends={"replica": replica.store})
    weaver = WeavingOrchestrator(primary.store, embedder, primary.extractor, router=router, policy=policy,
                                 home=tmp_path)
    question = "Who directed the film that was shot in Leland, North Carolina?"
    st = await weaver.weave(question, namespace="default", tool="search", budget_ms=60_000)
    assert st.routing["arm"] == "hybrid" and st.backend == "embedded" and not st.warnings
    expected = [c.shard.id for c in st.context]

    await primary.store.close()  # the primary store is gone: every read raises StoreClosedError
    served = []
    for _ in range(12):
        st = await weaver.weave(question, namespace="default", tool="search", budget_ms=60_000)
        assert [c.shard.id for c in st.context] == expected, "answered from the replica, same memories"
        served.append(st.routing["arm"] if st.strategy == "learned" else f"fallback from {st.routing['fallback_from']}")
    # the dead store fails a few times (a fallback answers each time), then the replica is chosen directly
    assert served[0] == "fallback from hybrid", served
    assert all(served.count(f"fallback from {arm}") <= 3 for arm in STRATEGY_ARMS), served
    assert served[-3:] == ["backend:replica"] * 3
    availability = router.stats()["availability"]
    assert availability["hybrid"]["errors"] > 0 and availability["backend:replica"]["errors"] == 0
    policy.close()
    await replica.close()
    await primary.close()
