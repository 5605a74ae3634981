"""RoutingOrchestrator: classification, rules, decisions, outcomes, feedback, failing backends, persistence."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from HoloLoom.bench.routing import SIM_RATES, _world
from HoloLoom.errors import InvalidComplexityError, InvalidFeedbackError, InvalidQueryError, NotFoundError, ValidationError
from HoloLoom.routing import (
    DEFAULT_RULES,
    QueryClassifier,
    RoutingDecision,
    RoutingOrchestrator,
    classify_query_type,
    implicit_reward,
    rule_based_routing,
)

ARMS = ["vector", "graph", "hybrid"]


# -- classification and rules ---------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Define machine learning", "factual"),
    ("define machine learning.", "factual"),
    ("What is the capital of France?", "factual"),
    ("Where was Maximum Overdrive filmed?", "factual"),
    ("How many films were shot in Leland?", "factual"),
    ("Hi, who directed Maximum Overdrive?", "factual"),
    ("Maximum Overdrive filming location", "factual"),
    ("Why did the Recovery of Aristotle matter?", "analytical"),
    ("Compare Neo4j and Qdrant", "analytical"),
    ("How does Thompson sampling work?", "analytical"),
    ("What are the pros and cons of hybrid search?", "analytical"),
    ("Write a poem about Wilmington", "creative"),
    ("Brainstorm names for a memory library", "creative"),
    ("Hello!", "conversational"),
    ("thanks so much", "conversational"),
    ("How are you today?", "conversational"),
    ("I think the graph results were better", "conversational"),
    ("I wonder, who directed Maximum Overdrive?", "factual"),
])
def test_classify_query_type(text: str, expected: str) -> None:
    assert classify_query_type(text) == expected


def test_rules_match_whole_words_only() -> None:
    # "hi" inside "machine"/"this", "why" inside "whyte", "story" inside "history".
    assert classify_query_type("machine this") == "factual"
    assert classify_query_type("Whyte notation of locomotives") == "factual"
    assert classify_query_type("history of Leland") == "factual"


def test_classifier_is_extensible() -> None:
    c = QueryClassifier()
    c.register("code", r"\b(?:python|traceback)\b", priority=35)
    assert c.classify("Why does this Python traceback appear?") == "code"
    assert c.classify("Why is the sky blue?") == "analytical"
    assert "code" in c.query_types
    assert classify_query_type("Why does this Python traceback appear?") == "analytical"  # default untouched
    assert classify_query_type("python", classifier=c) == "code"
    with pytest.raises(ValidationError):
        c.register("bad", r"(unclosed")
    with pytest.raises(ValidationError):
        c.classify(42)  # type: ignore[arg-type]
    bare = QueryClassifier(builtin=False, default="other")
    assert bare.classify("Define machine learning") == "other"


def test_rule_based_routing() -> None:
    assert rule_based_routing("factual", "LITE") == "vector"
    assert rule_based_routing("factual", "full") == "hybrid"
    assert rule_based_routing("analytical", "FAST") == "graph"
    assert rule_based_routing("creative", "RESEARCH") == "vector"
    assert rule_based_routing("unknown", "FAST") == "vector"
    assert rule_based_routing("factual", "LITE", rules={"factual": "backend:neo4j"}) == "backend:neo4j"
    assert rule_based_routing("factual", "LITE", rules={("factual", "LITE"): "graph"}) == "graph"
    assert rule_based_routing("analytical", "FAST", arms=["vector", "hybrid"]) == "vector"
    assert set(DEFAULT_RULES.values()) <= set(ARMS)
    with pytest.raises(InvalidComplexityError):
        rule_based_routing("factual", "HARD")


# -- the implicit reward ----------------------------------------------------------------------------


def test_implicit_reward() -> None:
    assert implicit_reward(0.8, 50.0, 200.0, True) == pytest.approx(0.7 * 0.8 + 0.3 * 0.75)
    assert implicit_reward(1.0, 0.0, 100.0, True) == 1.0
    assert implicit_reward(0.5, 500.0, 100.0, True) == pytest.approx(0.35)  # over budget: no speed credit
    assert implicit_reward(1.0, 1.0, 100.0, False) == 0.0
    with pytest.raises(ValidationError):
        implicit_reward(1.2, 1.0, 100.0, True)
    with pytest.raises(ValidationError):
        implicit_reward(0.5, 1.0, 0.0, True)
    with pytest.raises(ValidationError):
        implicit_reward(0.5, -1.0, 10.0, True)


# -- decisions --------------------------------------------------------------------------------------


def test_decision_unpacks_and_explains_itself() -> None:
    orch = RoutingOrchestrator(ARMS + ["backend:neo4j"], seed=0)
    decision = orch.select_backend("Where was Maximum Overdrive filmed?", "FAST")
    arm, strategy = decision
    assert arm == decision.arm and strategy == "learned" and decision.query_type == "factual"
    assert decision.complexity == "FAST" and len(decision.decision_id) == 16
    assert set(decision.posterior) == set(ARMS + ["backend:neo4j"]) == set(decision.scores)
    assert decision.posterior_means["vector"] == 0.5
    assert decision.fallbacks and decision.arm not in decision.fallbacks
    assert len(decision.fallbacks) == 3
    with pytest.raises(FrozenInstanceError):
        decision.arm = "graph"  # type: ignore[misc]
    data = json.loads(json.dumps(decision.to_dict()))
    back = RoutingDecision.from_dict(data)
    assert (back.arm, back.strategy, back.query_type, back.decision_id) == tuple(data[k] for k in ("arm", "strategy", "query_type", "decision_id"))
    assert back.posterior["vector"] == (1.0, 1.0)
    with pytest.raises(ValidationError):
        RoutingDecision.from_dict({"arm": "x"})


def test_select_backend_validates_and_accepts_a_known_type() -> None:
    orch = RoutingOrchestrator(ARMS, seed=0)
    with pytest.raises(InvalidQueryError):
        orch.select_backend(None, "FAST")  # type: ignore[arg-type]
    with pytest.raises(InvalidComplexityError):
        orch.select_backend("hello", "HARD")
    assert orch.select_backend("anything", "LITE", query_type="analytical").query_type == "analytical"
    c = QueryClassifier()
    c.register("code", r"\bpython\b", priority=50)
    custom = RoutingOrchestrator(ARMS, seed=0, classifier=c)
    d = custom.select_backend("python question", "FAST")
    assert d.query_type == "code" and "code" in custom.router.query_types


def test_same_seed_same_routing() -> None:
    def run(seed: int) -> list[str]:
        orch = RoutingOrchestrator(ARMS, seed=seed)
        out = []
        for i in range(100):
            d = orch.select_backend(f"What is item {i}?", "FAST")
            orch.record_outcome(d, latency_ms=10.0, confidence=0.9 if d.arm == "graph" else 0.2, budget_ms=100.0)
            out.append(d.arm)
        return out

    assert run(1) == run(1)


# -- outcomes and feedback --------------------------------------------------------------------------


def test_outcome_uses_the_implicit_reward_and_records_metrics(tmp_path: Path) -> None:
    orch = RoutingOrchestrator(ARMS, seed=0, store_dir=tmp_path, discount=None)
    d = orch.select_backend("Where was Maximum Overdrive filmed?", "FAST")
    reward = orch.record_outcome(d, latency_ms=50.0, confidence=0.8, relevance=0.6, budget_ms=200.0, memory_size=8,
                                 spacetime_id="st-1")
    assert reward == pytest.approx(0.7 * 0.8 + 0.3 * 0.75)
    assert orch.router.bandit("factual").params()[d.arm] == pytest.approx((1 + reward, 2 - reward))
    rec = json.loads((tmp_path / "routing_metrics.jsonl").read_text())
    assert rec["arm"] == d.arm and rec["reward"] == reward and rec["spacetime_id"] == "st-1" and rec["memory_size"] == 8
    assert rec["query_hash"] == d.query_hash and "Maximum" not in json.dumps(rec)
    with pytest.raises(InvalidFeedbackError, match="already recorded"):
        orch.record_outcome(d, latency_ms=1.0, confidence=0.1)
    with pytest.raises(ValidationError):
        orch.record_outcome(orch.select_backend("x", "LITE"), confidence=0.5)  # no latency
    with pytest.raises(ValidationError):
        orch.record_outcome(orch.select_backend("x", "LITE"), latency_ms=1.0, relevance=2.0)


def test_explicit_feedback_replaces_the_implicit_reward() -> None:
    orch = RoutingOrchestrator(ARMS, seed=0, discount=None)
    d = orch.select_backend("Define machine learning", "FAST", query_type="factual")
    orch.record_outcome(d, latency_ms=10.0, confidence=1.0, budget_ms=100.0)  # implicit 0.97
    assert orch.record_outcome(d, reward=0.1, explicit=True) == 0.1
    assert orch.router.bandit("factual").params()[d.arm] == pytest.approx((1.1, 1.9))
    orch.record_feedback(d.decision_id, 0.4)  # later feedback replaces earlier feedback
    assert orch.router.bandit("factual").params()[d.arm] == pytest.approx((1.4, 1.6))
    assert orch.stats()["counts"] == {"decisions": 1, "outcomes": 1, "failures": 0, "explicit_feedback": 2}
    with pytest.raises(ValidationError):
        orch.record_outcome(d, explicit=True)
    with pytest.raises(NotFoundError):
        orch.record_feedback("0123456789abcdef", 1.0)


def test_explicit_feedback_with_discount_replaces_what_is_left() -> None:
    orch = RoutingOrchestrator(ARMS, seed=0, discount=0.9, health_discount=None)
    d = orch.select_backend("q", "FAST", query_type="factual")
    orch.record_outcome(d, latency_ms=0.0, reward=1.0)
    other = orch.select_backend("q", "FAST", query_type="factual")
    orch.record_outcome(other, latency_ms=0.0, reward=0.5)
    orch.record_feedback(d, 0.0)
    params = orch.router.bandit("factual").params()
    if other.arm == d.arm:
        assert params[d.arm] == pytest.approx((1.0 + 0.5, 1.0 + 0.5 + 1.0))
    else:
        assert params[d.arm] == pytest.approx((1.0, 2.0))


def test_feedback_for_a_forgotten_decision_is_applied_once(tmp_path: Path) -> None:
    orch = RoutingOrchestrator(ARMS, seed=0, store_dir=tmp_path, discount=None)
    d = orch.select_backend("q", "FAST", query_type="factual")
    orch.record_outcome(d, latency_ms=1.0, reward=0.5)
    orch.close()
    restarted = RoutingOrchestrator(ARMS, seed=0, store_dir=tmp_path, discount=None)
    restarted.record_feedback(RoutingDecision.from_dict(d.to_dict()), 1.0)
    assert restarted.router.bandit("factual").params()[d.arm] == pytest.approx((1.0 + 0.5 + 1.0, 1.0 + 0.5))
    lines = [json.loads(x) for x in (tmp_path / "routing_metrics.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["outcome", "feedback"]
    assert restarted.metrics.aggregates()[d.arm]["mean_reward"] == 1.0


def test_failure_scores_zero_and_moves_availability() -> None:
    orch = RoutingOrchestrator(ARMS, seed=0)
    d = orch.select_backend("q", "FAST", query_type="factual")
    assert orch.record_outcome(d, latency_ms=5.0, confidence=0.9, success=False, reward=1.0) == 0.0
    assert orch.router.bandit("factual").params()[d.arm] == (1.0, 1.0)
    assert orch.router.availability()[d.arm] == 0.5
    assert orch.stats()["counts"]["failures"] == 1


# -- learning: a stationary world, and a backend that fails and recovers ----------------------------------


def _play(orch: RoutingOrchestrator, seed: int, queries: int, failing: tuple[int, int, str] | None = None) -> list[str]:
    qtypes, levels, dice = _world(SIM_RATES, queries, seed)
    picks = []
    for t in range(queries):
        d = orch.select_backend("simulated", levels[t], query_type=qtypes[t])
        broken = failing is not None and failing[0] <= t < failing[1] and d.arm == failing[2]
        orch.record_outcome(d, latency_ms=1.0, success=not broken,
                            reward=1.0 if dice[t] < SIM_RATES[qtypes[t]][d.arm] else 0.0)
        picks.append(d.arm)
    return picks


def test_learns_the_best_arm_per_query_type() -> None:
    orch = RoutingOrchestrator(ARMS, seed=0)
    picks = _play(orch, 0, 500)
    qtypes = _world(SIM_RATES, 500, 0)[0]
    best = {t: max(r, key=r.get) for t, r in SIM_RATES.items()}
    share = np.mean([p == best[t] for p, t in zip(picks[-100:], qtypes[-100:])])
    assert share >= 0.9
    stats = orch.stats()["router"]["query_types"]
    for qt, arm in best.items():
        assert max(stats[qt], key=lambda a: stats[qt][a]["p_best"]) == arm


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_moves_off_a_failing_backend_within_50_queries_and_back_after_recovery(seed: int) -> None:
    # "vector" is the best arm for three of the four query types; it errors on queries 300..599.
    orch = RoutingOrchestrator(ARMS, seed=seed)
    picks = np.array([p == "vector" for p in _play(orch, seed, 900, failing=(300, 600, "vector"))])
    assert picks[200:300].mean() >= 0.6
    moved = next(t for t in range(300, 600) if picks[t:t + 25].sum() <= 2) - 300
    assert moved <= 50, f"still sending traffic to the failing arm {moved} queries later"
    assert picks[350:600].mean() <= 0.12  # only occasional probes while it is down
    back = next(t for t in range(600, 900) if picks[t:t + 25].mean() >= 0.5) - 600
    assert back <= 50, f"took {back} queries to return after recovery"
    assert picks[650:900].mean() >= 0.6


# -- persistence, A/B, stats ---------------------------------------------------------------------


def test_state_and_metrics_survive_a_restart(tmp_path: Path) -> None:
    orch = RoutingOrchestrator(ARMS, seed=0, store_dir=tmp_path, autosave_every=10)
    _play(orch, 0, 95)
    assert (tmp_path / "routing_state.json").exists()  # autosaved
    orch.close()
    again = RoutingOrchestrator(ARMS, seed=0, store_dir=tmp_path)
    for qt in SIM_RATES:
        assert again.router.bandit(qt).stats() == orch.router.bandit(qt).stats()
    assert len(list(again.metrics.records())) == 95
    assert sum(a["count"] for a in again.stats()["metrics"].values()) == 95
    again.reset()
    assert RoutingOrchestrator(ARMS, store_dir=tmp_path).router.bandit("factual").params()["vector"] == (1.0, 1.0)


def test_ab_test_splits_traffic_and_reports(tmp_path: Path) -> None:
    # Rules that send everything to "graph", the best arm only for analytical questions.
    rules = {qt: "graph" for qt in SIM_RATES}
    orch = RoutingOrchestrator(ARMS, enable_ab_test=True, store_dir=tmp_path, seed=3, rules=rules)
    _play(orch, 3, 600)
    stats = orch.stats()
    assert set(stats["strategies"]) == {"learned", "rule_based"}
    variants = stats["ab_test"]["variants"]
    assert variants["learned"]["outcomes"] + variants["rule_based"]["outcomes"] == 600
    assert variants["learned"]["mean_reward"] > variants["rule_based"]["mean_reward"] + 0.15
    assert stats["ab_test"]["winner"] == "learned"
    orch.close()
    # Tallies persist and add up across processes/restarts.
    again = RoutingOrchestrator(ARMS, enable_ab_test=True, store_dir=tmp_path, seed=4, rules=rules)
    assert again.ab.results()["learned"].outcomes == variants["learned"]["outcomes"]
    _play(again, 5, 50)
    again.close()
    third = RoutingOrchestrator(ARMS, enable_ab_test=True, store_dir=tmp_path, seed=5)
    assert sum(r.outcomes for r in third.ab.results().values()) == 650


def test_rule_based_variant_decisions_still_teach_the_bandit() -> None:
    orch = RoutingOrchestrator(ARMS, ab_variants={"rule_based": (1.0, lambda qt, c: "graph"),
                                                  "other": (0.0, lambda qt, c: "vector")}, seed=0, discount=None)
    d = orch.select_backend("q", "FAST", query_type="factual")
    assert tuple(d) == ("graph", "rule_based") and d.ab_variant == "rule_based"
    orch.record_outcome(d, latency_ms=1.0, reward=1.0)
    assert orch.router.bandit("factual").params()["graph"] == (2.0, 1.0)
