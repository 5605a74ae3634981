"""ThompsonBandit and LearnedRouter: learning, discounting, persistence, concurrent writers."""

from __future__ import annotations

import json
import math
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from HoloLoom.errors import HoloLoomError, InvalidFeedbackError, ValidationError
from HoloLoom.routing import (
    InvalidRewardError,
    LearnedRouter,
    RoutingStateError,
    ThompsonBandit,
    UnknownArmError,
    UnknownQueryTypeError,
)

TYPES = ["factual", "analytical"]


def flat(params: dict[str, tuple[float, float]]) -> dict[str, float]:
    return {f"{arm}.{i}": v for arm, pair in params.items() for i, v in enumerate(pair)}


# -- ThompsonBandit ---------------------------------------------------------------------------


@pytest.mark.parametrize("arms", [[], ["a", "a"], ["a", ""], ["a", 3], "ab"])
def test_bandit_refuses_bad_arms(arms) -> None:
    with pytest.raises(ValidationError):
        ThompsonBandit(arms)


@pytest.mark.parametrize("kwargs", [{"prior": (0, 1)}, {"prior": (1, -1)}, {"prior": (1,)}, {"prior": (1, math.inf)},
                                    {"discount": 0}, {"discount": 1.5}, {"discount": -0.1}, {"discount": True}])
def test_bandit_refuses_bad_settings(kwargs) -> None:
    with pytest.raises(ValidationError):
        ThompsonBandit(["a", "b"], **kwargs)


@pytest.mark.parametrize("reward", [1.5, -0.01, math.nan, "1", None])
def test_bandit_refuses_bad_rewards(reward) -> None:
    bandit = ThompsonBandit(["a", "b"], seed=0)
    with pytest.raises(InvalidRewardError) as info:
        bandit.update("a", reward)
    assert isinstance(info.value, (InvalidFeedbackError, ValueError, HoloLoomError))
    assert bandit.updates == 0


def test_unknown_arm_is_a_clear_error() -> None:
    bandit = ThompsonBandit(["vector", "graph"], seed=0)
    with pytest.raises(UnknownArmError, match="vector, graph"):
        bandit.update("hybrid", 1.0)


def test_fractional_rewards_are_pseudo_counts() -> None:
    bandit = ThompsonBandit(["a", "b"], prior=(2.0, 3.0), seed=0)
    bandit.update("a", 0.25)
    bandit.update("a", True)
    assert bandit.params()["a"] == pytest.approx((2.0 + 1.25, 3.0 + 0.75))
    assert bandit.params()["b"] == (2.0, 3.0)
    stats = bandit.stats()["a"]
    assert stats["pulls"] == 2 and stats["mean"] == pytest.approx(3.25 / 7.0, abs=1e-6)


def test_same_seed_same_choices() -> None:
    def run(seed: int) -> list[str]:
        bandit = ThompsonBandit(["a", "b", "c"], seed=seed)
        out = []
        for i in range(200):
            arm = bandit.select()
            out.append(arm)
            bandit.update(arm, 1.0 if (arm == "b") == (i % 5 != 0) else 0.0)
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_bandit_finds_the_best_arm() -> None:
    rates = {"a": 0.2, "b": 0.8, "c": 0.5}
    bandit = ThompsonBandit(list(rates), seed=11)
    rng = np.random.default_rng(11)
    picks = []
    for _ in range(1000):
        arm = bandit.select()
        bandit.update(arm, float(rng.random() < rates[arm]))
        picks.append(arm)
    assert picks[-200:].count("b") / 200 >= 0.9
    assert max(bandit.means(), key=bandit.means().get) == "b"
    best = bandit.prob_best()
    assert best["b"] > 0.95 and sum(best.values()) == pytest.approx(1.0)
    assert bandit.prob_best() == best  # seeded Monte Carlo: same answer every time


def test_discount_pulls_counts_toward_the_prior() -> None:
    bandit = ThompsonBandit(["a", "b"], prior=(1.0, 1.0), seed=0, discount=0.5)
    bandit.update("a", 1.0)
    bandit.update("b", 0.0)
    # a: 1 success, then halved by b's update; b: one failure.
    assert bandit.params() == {"a": (1.5, 1.0), "b": (1.0, 2.0)}
    for _ in range(60):
        bandit.update("b", 0.0)
    alpha, beta = bandit.params()["a"]
    assert alpha == pytest.approx(1.0) and beta == pytest.approx(1.0)  # back to the prior, never below


def test_discounted_bandit_follows_a_change_faster() -> None:
    def switch_time(discount: float | None) -> int:
        bandit = ThompsonBandit(["a", "b"], seed=5, discount=discount)
        rng = np.random.default_rng(5)
        for t in range(1000):
            rates = {"a": 0.9, "b": 0.5} if t < 500 else {"a": 0.1, "b": 0.5}
            arm = bandit.select()
            bandit.update(arm, float(rng.random() < rates[arm]))
            if t >= 500 and bandit.means()["b"] > bandit.means()["a"]:
                return t - 500
        return 10_000

    assert switch_time(0.95) < 40
    assert switch_time(0.95) < switch_time(None)


def test_optimistic_scores_never_fall_below_the_mean() -> None:
    bandit = ThompsonBandit(["a", "b"], seed=0, optimistic=True)
    for _ in range(30):
        bandit.update("a", 0.9)
    mean = bandit.means()["a"]
    assert all(bandit.sample_posteriors()["a"] >= mean for _ in range(200))


def test_arms_removed_keep_their_evidence_and_come_back() -> None:
    bandit = ThompsonBandit(["a", "b", "c"], seed=0)
    bandit.update("b", 1.0)
    bandit.update("b", 1.0)
    bandit.remove_arm("b")
    assert bandit.arms == ("a", "c")
    assert "b" in bandit.to_dict()["arms"]  # saved even while inactive
    with pytest.raises(UnknownArmError):
        bandit.update("b", 1.0)
    bandit.add_arm("d")
    bandit.add_arm("b")
    assert bandit.arms == ("a", "c", "d", "b")
    assert bandit.params()["b"] == (3.0, 1.0) and bandit.params()["d"] == (1.0, 1.0)
    with pytest.raises(ValidationError):
        ThompsonBandit(["only"]).remove_arm("only")


def test_bandit_state_round_trips_by_arm_name() -> None:
    bandit = ThompsonBandit(["a", "b"], seed=0, discount=0.9)
    for r in (1.0, 0.3, 0.0):
        bandit.update("a", r)
    bandit.update("b", 0.7)
    data = json.loads(json.dumps(bandit.to_dict()))
    other = ThompsonBandit.from_dict(data, arms=["b", "new", "a"], discount=0.9)
    assert flat(other.params()) == pytest.approx({**flat(bandit.params()), "new.0": 1.0, "new.1": 1.0})
    assert other.params()["new"] == (1.0, 1.0)
    assert other.updates == bandit.updates


# -- LearnedRouter ------------------------------------------------------------------------------


def test_router_keeps_one_bandit_per_query_type() -> None:
    router = LearnedRouter(["vector", "graph"], TYPES, seed=1)
    router.update("factual", "vector", 1.0)
    assert router.bandit("factual").params()["vector"] == (2.0, 1.0)
    assert router.bandit("analytical").params()["vector"] == (1.0, 1.0)
    with pytest.raises(UnknownQueryTypeError, match="factual, analytical"):
        router.select("creative")
    with pytest.raises(UnknownArmError):
        router.update("factual", "hybrid", 1.0)
    with pytest.raises(ValidationError):
        LearnedRouter(["a"], "factual")
    with pytest.raises(ValidationError):
        LearnedRouter(["a"], ["x", "x"])


def test_choose_reports_the_posterior_it_sampled() -> None:
    router = LearnedRouter(["vector", "graph", "hybrid"], TYPES, seed=2)
    for _ in range(20):
        router.update("factual", "graph", 1.0)
    sel = router.choose("factual")
    assert sel.arm == "graph" and sel.ranking[0] == "graph" and set(sel.ranking) == {"vector", "graph", "hybrid"}
    assert sel.posterior["graph"] == pytest.approx((1.0 + sum(0.999 ** k for k in range(20)), 1.0))
    assert sel.availability == {"vector": 1.0, "graph": 1.0, "hybrid": 1.0}
    assert max(sel.scores, key=sel.scores.get) == "graph"


def test_failures_lower_availability_not_quality() -> None:
    router = LearnedRouter(["vector", "graph"], TYPES, seed=0)
    for _ in range(10):
        router.update("factual", "vector", 0.9)
    before = router.bandit("factual").params()["vector"]
    assert router.update("factual", "vector", 0.0, success=False) is None
    assert router.bandit("factual").params()["vector"] == before  # quality untouched
    avail = router.availability()
    assert avail["vector"] < 1.0 and avail["graph"] == 1.0


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "routing" / "state.json"
    router = LearnedRouter(["vector", "graph", "backend:neo4j"], TYPES, path, seed=0, discount=0.99)
    for i in range(30):
        router.update("factual", "backend:neo4j", 1.0 if i % 3 else 0.0)
    router.update("analytical", "graph", 0.4)
    router.update("analytical", "vector", 0.0, success=False)
    router.save()
    again = LearnedRouter(["vector", "graph", "backend:neo4j"], TYPES, path, seed=0, discount=0.99)
    assert flat(again.bandit("factual").params()) == pytest.approx(flat(router.bandit("factual").params()))
    assert flat(again.bandit("analytical").params()) == pytest.approx(flat(router.bandit("analytical").params()))
    assert again.availability() == pytest.approx(router.availability())
    assert again.bandit("factual").updates == 30
    assert not list(path.parent.glob("*.tmp"))  # atomic write left nothing behind


def test_close_saves_and_autosave_saves(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    router = LearnedRouter(["a", "b"], TYPES, path, seed=0, autosave_every=5)
    for _ in range(4):
        router.update("factual", "a", 1.0)
    assert not path.exists() and router.unsaved == 4
    router.update("factual", "a", 1.0)
    assert path.exists() and router.unsaved == 0
    router.update("factual", "b", 1.0)
    router.close()
    loaded = LearnedRouter(["a", "b"], TYPES, path)
    assert loaded.bandit("factual").stats()["a"]["pulls"] == 5 and loaded.bandit("factual").stats()["b"]["pulls"] == 1


def test_arms_and_query_types_added_and_removed_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = LearnedRouter(["vector", "graph"], ["factual", "creative"], path, seed=0, discount=None)
    first.update("factual", "vector", 1.0)
    first.update("factual", "graph", 0.0)
    first.update("creative", "vector", 1.0)
    first.save()
    # graph removed, hybrid added, creative dropped, analytical new.
    second = LearnedRouter(["vector", "hybrid"], ["factual", "analytical"], path, seed=0, discount=None)
    assert second.bandit("factual").params() == {"vector": (2.0, 1.0), "hybrid": (1.0, 1.0)}
    second.update("factual", "hybrid", 1.0)
    second.save()
    data = json.loads(path.read_text())
    assert data["query_types"]["factual"]["arms"]["graph"]["failures"] == 1.0  # kept while unused
    assert data["query_types"]["creative"]["arms"]["vector"]["successes"] == 1.0
    third = LearnedRouter(["vector", "graph", "hybrid"], ["factual", "creative"], path, seed=0, discount=None)
    assert third.bandit("factual").params() == {"vector": (2.0, 1.0), "graph": (1.0, 2.0), "hybrid": (2.0, 1.0)}
    assert third.bandit("creative").params()["vector"] == (2.0, 1.0)
    third.add_query_type("analytical")
    assert third.query_types == ("factual", "creative", "analytical")


@pytest.mark.parametrize("content", ["{not json", "[]", json.dumps({"format": "something else"}),
                                     json.dumps({"format": "hololoom.routing.learned", "version": 99})])
def test_unreadable_state_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(RoutingStateError, match=str(path.name)):
        LearnedRouter(["a"], TYPES, path)


def test_reset_forgets_one_type_or_everything(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    router = LearnedRouter(["a", "b"], TYPES, path, seed=0, discount=None)
    router.update("factual", "a", 1.0)
    router.update("analytical", "b", 1.0)
    router.save()
    router.update("analytical", "a", 1.0)  # unsaved: survives a reset of factual
    router.reset("factual")
    loaded = LearnedRouter(["a", "b"], TYPES, path, discount=None)
    assert loaded.bandit("factual").params()["a"] == (1.0, 1.0)
    assert loaded.bandit("analytical").params() == {"a": (2.0, 1.0), "b": (2.0, 1.0)}
    router.reset()
    loaded = LearnedRouter(["a", "b"], TYPES, path, discount=None)
    assert loaded.bandit("analytical").params() == {"a": (1.0, 1.0), "b": (1.0, 1.0)}


def test_retract_takes_back_exactly_what_is_left(tmp_path: Path) -> None:
    router = LearnedRouter(["a", "b"], TYPES, seed=0, discount=0.9, health_discount=None)
    receipt = router.update("factual", "a", 0.8)
    router.update("factual", "b", 1.0)
    router.update("factual", "b", 0.0)
    router.retract(receipt)
    assert router.bandit("factual").params()["a"] == pytest.approx((1.0, 1.0))
    router.add_evidence("factual", "a", 0.3)
    assert router.bandit("factual").params()["a"] == pytest.approx((1.3, 1.7))


def test_retract_stays_exact_after_merging_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    mine = LearnedRouter(["a", "b"], TYPES, path, seed=0, discount=0.9, autosave_every=0)
    theirs = LearnedRouter(["a", "b"], TYPES, path, seed=1, discount=0.9, autosave_every=0)
    receipt = mine.update("factual", "a", 1.0)
    for _ in range(3):
        theirs.update("factual", "b", 1.0)
    theirs.save()
    mine.save()  # their 3 updates go first, then mine: my evidence is the newest
    assert mine.bandit("factual").updates == 4
    mine.update("factual", "b", 0.0)  # one more update after mine
    mine.retract(receipt)
    a_alpha, a_beta = mine.bandit("factual").params()["a"]
    assert a_alpha == pytest.approx(1.0) and a_beta == pytest.approx(1.0)


# -- two processes, one state file ------------------------------------------------------------


def _writer(path: str, worker: int, n: int, barrier) -> None:
    router = LearnedRouter(["vector", "graph", "backend:neo4j"], ["factual", "analytical"], path,
                           seed=worker, discount=None, autosave_every=7)
    barrier.wait()
    for i in range(n):
        qt = "factual" if i % 2 else "analytical"
        arm = ("vector", "graph", "backend:neo4j")[(i + worker) % 3]
        router.update(qt, arm, (i % 4) / 4.0)
    router.close()


def test_two_processes_share_the_state_without_corruption_or_lost_updates(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "state.json"
    n = 150
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(path), w, n, barrier)) for w in (0, 1)]
    for p in procs:
        p.start()
    reads = 0
    while any(p.is_alive() for p in procs):
        if path.exists():
            data = json.loads(path.read_text())  # never a half-written file
            assert data["format"] == "hololoom.routing.learned"
            reads += 1
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    data = json.loads(path.read_text())
    total_pulls = sum(a["pulls"] for t in data["query_types"].values() for a in t["arms"].values())
    total_successes = sum(a["successes"] for t in data["query_types"].values() for a in t["arms"].values())
    total_failures = sum(a["failures"] for t in data["query_types"].values() for a in t["arms"].values())
    assert total_pulls == 2 * n
    expected_success = 2 * sum((i % 4) / 4.0 for i in range(n))
    assert total_successes == pytest.approx(expected_success)
    assert total_failures == pytest.approx(2 * n - expected_success)
    assert sum(t["updates"] for t in data["query_types"].values()) == 2 * n
    assert sum(a["pulls"] for a in data["availability"]["arms"].values()) == 2 * n
    # Per (type, arm) counts are exact too.
    expected: dict[tuple[str, str], int] = {}
    for w in (0, 1):
        for i in range(n):
            key = ("factual" if i % 2 else "analytical", ("vector", "graph", "backend:neo4j")[(i + w) % 3])
            expected[key] = expected.get(key, 0) + 1
    for (qt, arm), count in expected.items():
        assert data["query_types"][qt]["arms"][arm]["pulls"] == count
