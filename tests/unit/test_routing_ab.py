"""ABTestRouter: weighted assignment, results, and a winner only with enough data."""

from __future__ import annotations

import numpy as np
import pytest

from HoloLoom.errors import NotFoundError, ValidationError
from HoloLoom.routing import ABTestRouter


def always(arm: str):
    return lambda query_type, complexity: arm


def test_refuses_bad_variants() -> None:
    with pytest.raises(ValidationError):
        ABTestRouter({"only": (1.0, always("a"))})
    with pytest.raises(ValidationError):
        ABTestRouter({"a": (-1.0, always("a")), "b": (1.0, always("b"))})
    with pytest.raises(ValidationError):
        ABTestRouter({"a": (0.0, always("a")), "b": (0.0, always("b"))})
    with pytest.raises(ValidationError):
        ABTestRouter({"a": (1.0, "not callable"), "b": (1.0, always("b"))})
    with pytest.raises(ValidationError):
        ABTestRouter({"a": 1.0, "b": (1.0, always("b"))})
    with pytest.raises(ValidationError):
        ABTestRouter({"a": (1.0, always("a")), "b": (1.0, always("b"))}, threshold=0.4)


def test_assignment_follows_weights_and_seed() -> None:
    ab = ABTestRouter({"learned": (8, always("graph")), "rule_based": (2, always("vector"))}, seed=3)
    picks = [ab.assign() for _ in range(5000)]
    assert 0.77 <= picks.count("learned") / 5000 <= 0.83
    again = ABTestRouter({"learned": (8, always("graph")), "rule_based": (2, always("vector"))}, seed=3)
    assert [again.assign() for _ in range(5000)] == picks
    assert ab.weights == {"learned": 0.8, "rule_based": 0.2}
    assert ab.results()["learned"].assigned == picks.count("learned")


def test_sticky_keys_and_route() -> None:
    ab = ABTestRouter({"a": (1, always("graph")), "b": (1, always("vector"))}, seed=0)
    assert len({ab.assign(key="user-42") for _ in range(20)}) == 1
    keys = {ab.assign(key=f"user-{i}") for i in range(200)}
    assert keys == {"a", "b"}
    variant, arm = ab.route("factual", "FAST")
    assert arm == {"a": "graph", "b": "vector"}[variant]


def test_no_winner_without_enough_data_or_difference() -> None:
    ab = ABTestRouter({"a": (1, always("x")), "b": (1, always("y"))}, min_outcomes=100)
    rng = np.random.default_rng(0)
    for _ in range(99):
        ab.record("a", float(rng.random() < 0.9))
        ab.record("b", float(rng.random() < 0.3))
    assert ab.winner() is None  # clear difference, but fewer than 100 outcomes each
    same = ABTestRouter({"a": (1, always("x")), "b": (1, always("y"))}, min_outcomes=50)
    for i in range(300):
        same.record("a", 0.6)
        same.record("b", 0.6)
    assert same.winner() is None


def test_winner_with_enough_data() -> None:
    ab = ABTestRouter({"learned": (1, always("x")), "rule_based": (1, always("y"))}, min_outcomes=100)
    rng = np.random.default_rng(1)
    for _ in range(150):
        ab.record("learned", float(rng.random() < 0.8), latency_ms=10.0)
        ab.record("rule_based", float(rng.random() < 0.6), success=False, latency_ms=30.0)
    assert ab.winner() == "learned"
    results = ab.results()
    assert results["learned"].prob_best >= 0.95 and results["learned"].outcomes == 150
    assert results["rule_based"].success_rate == 0.0 and results["rule_based"].mean_latency_ms == 30.0
    assert sum(r.prob_best for r in results.values()) == pytest.approx(1.0)
    assert ab.prob_best() == ab.prob_best()  # seeded Monte Carlo
    r = results["learned"]
    assert (r.alpha, r.beta) == pytest.approx((1 + 150 * r.mean_reward, 1 + 150 * (1 - r.mean_reward)))


def test_three_variants_need_to_beat_all_others() -> None:
    ab = ABTestRouter({"a": (1, always("x")), "b": (1, always("y")), "c": (1, always("z"))}, min_outcomes=100)
    for i in range(200):
        ab.record("a", 0.9 if i % 10 else 0.0)
        ab.record("b", 0.85 if i % 10 else 0.0)
        ab.record("c", 0.2)
    best = ab.prob_best()
    assert best["c"] < 0.01
    assert (ab.winner() == "a") == (best["a"] >= 0.95)


def test_replacing_an_outcome_and_unknown_variant() -> None:
    ab = ABTestRouter({"a": (1, always("x")), "b": (1, always("y"))})
    ab.record("a", 0.2)
    ab.record("a", 1.0, replacing=0.2)
    assert ab.results()["a"].mean_reward == 1.0 and ab.results()["a"].outcomes == 1
    with pytest.raises(NotFoundError):
        ab.record("c", 1.0)


def test_tallies_round_trip() -> None:
    ab = ABTestRouter({"a": (1, always("x")), "b": (1, always("y"))})
    ab.record("a", 0.5, latency_ms=2.0)
    other = ABTestRouter({"a": (1, always("x")), "b": (1, always("y"))})
    other.load_dict(ab.to_dict())
    other.load_dict(ab.to_dict())
    assert other.results()["a"].outcomes == 2
    other.load_dict(ab.to_dict(), replace=True)
    assert other.results()["a"].outcomes == 1
