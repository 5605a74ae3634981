"""Routing benchmark: does the learned router find the best arm, on simulated and real data, cheaply?

    python -m benchmarks.routing [--json FILE] [--data DIR] [--rounds N] [--no-hotpotqa]
    hololoom bench routing [--json FILE]

1. **Simulation.** Known success rates per (query type, arm) (:data:`SIM_RATES`); 500
   queries of uniformly drawn type and complexity; Bernoulli rewards; 20 seeds with common
   random numbers (every policy sees the same queries and the same reward dice). Reported
   per policy (learned = :class:`~HoloLoom.routing.RoutingOrchestrator` with its defaults,
   rule-based = :func:`~HoloLoom.routing.rule_based_routing`, uniform random), averaged over
   seeds: ``best_arm_share_last100`` (the share of the last 100 choices that went to the
   query type's best arm) and ``regret`` (sum over queries of best rate minus chosen rate).
2. **HotpotQA** (:func:`run_hotpotqa`). The corpus goes into a fresh store; every arm is a
   retrieval strategy (:func:`arm_plans`: ``vector`` = one dense pass, ``graph`` = dense +
   entity seeds then entity-graph hops, ``hybrid`` = the FULL multipass crawl). In each of
   ``rounds`` shuffled rounds every question is answered by the learned router (feedback =
   the share of gold passages in its top 5) and by every fixed arm, in rotating order so
   machine load falls on all alike. Reported: recall@5 and p50 latency per fixed arm, and
   for the learned router over its *last* round (after ``rounds - 1`` rounds of learning;
   it still explores), latency including routing.
3. **Overhead.** p50 of ``select_backend`` + ``record_outcome`` with state and metrics on disk.

JSON: ``{"simulation": {"learned": {"best_arm_share_last100", "regret"}, "rule_based": {...},
"random": {...}}, "hotpotqa": {"learned": {"recall@5", "p50_ms"}, "fixed": {ARM: {...}}} | null,
"overhead_p50_ms"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import median, percentile, print_table, write_json
from .quality import DEFAULT_DATA, load_dataset

__all__ = [
    "SIM_RATES",
    "arm_plans",
    "measure_overhead",
    "run_and_report",
    "run_hotpotqa",
    "run_simulation",
    "simulate",
]

COMPLEXITIES = ("LITE", "FAST", "FULL", "RESEARCH")

#: Success rate of each arm per query type in the simulation. Each type has one best arm,
#: 0.30 ahead of the runner-up; the rule table (DEFAULT_RULES) is right for creative and
#: conversational queries and for LITE/FAST factual and analytical ones, wrong otherwise.
SIM_RATES: Mapping[str, Mapping[str, float]] = {
    "factual": {"vector": 0.85, "graph": 0.45, "hybrid": 0.55},
    "analytical": {"vector": 0.40, "graph": 0.85, "hybrid": 0.55},
    "creative": {"vector": 0.80, "graph": 0.30, "hybrid": 0.50},
    "conversational": {"vector": 0.75, "graph": 0.25, "hybrid": 0.45},
}


# -- 1. simulation ---------------------------------------------------------------------------


def _world(rates: Mapping[str, Mapping[str, float]], queries: int, seed: int) -> tuple[list[str], list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    types = list(rates)
    qtypes = [types[i] for i in rng.integers(len(types), size=queries)]
    levels = [COMPLEXITIES[i] for i in rng.integers(len(COMPLEXITIES), size=queries)]
    dice = rng.random(queries)  # the same reward dice for every policy (common random numbers)
    return qtypes, levels, dice


def simulate(
    policy: str,
    rates: Mapping[str, Mapping[str, float]] = SIM_RATES,
    *,
    queries: int = 500,
    seed: int = 0,
    orchestrator_factory: Callable[[Sequence[str], int], Any] | None = None,
) -> dict[str, Any]:
    """Run one policy (``learned``, ``rule_based`` or ``random``) against the simulated world.

    Returns:
        ``{"best_arm_share_last100", "regret", "choices"}``.
    """
    from HoloLoom.routing import RoutingOrchestrator, rule_based_routing

    arms = list(next(iter(rates.values())))
    qtypes, levels, dice = _world(rates, queries, seed)
    best = {t: max(r, key=r.__getitem__) for t, r in rates.items()}
    choose_rng = random.Random(seed + 1_000_003)
    orch = None
    if policy == "learned":
        orch = (orchestrator_factory(arms, seed) if orchestrator_factory
                else RoutingOrchestrator(arms, query_types=list(rates), seed=seed))
    elif policy not in ("rule_based", "random"):
        raise ValueError(f"unknown policy {policy!r}")
    choices: list[str] = []
    regret = 0.0
    for qt, level, u in zip(qtypes, levels, dice):
        if orch is not None:
            decision = orch.select_backend("simulated query", level, query_type=qt)
            arm = decision.arm
        elif policy == "rule_based":
            arm = rule_based_routing(qt, level, arms=arms)
        else:
            arm = choose_rng.choice(arms)
        rate = rates[qt][arm]
        if orch is not None:
            orch.record_outcome(decision, latency_ms=0.0, success=True, reward=1.0 if u < rate else 0.0)
        choices.append(arm)
        regret += rates[qt][best[qt]] - rate
    last = list(zip(qtypes, choices))[-100:]
    share = sum(1 for qt, arm in last if arm == best[qt]) / len(last)
    return {"best_arm_share_last100": share, "regret": regret, "choices": choices}


def run_simulation(
    rates: Mapping[str, Mapping[str, float]] = SIM_RATES,
    *,
    queries: int = 500,
    seeds: int = 20,
    orchestrator_factory: Callable[[Sequence[str], int], Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Every policy over ``seeds`` seeds: mean share and regret (plus their spread)."""
    out: dict[str, dict[str, float]] = {}
    for policy in ("learned", "rule_based", "random"):
        runs = [simulate(policy, rates, queries=queries, seed=s, orchestrator_factory=orchestrator_factory)
                for s in range(seeds)]
        shares = [r["best_arm_share_last100"] for r in runs]
        regrets = [r["regret"] for r in runs]
        out[policy] = {
            "best_arm_share_last100": round(statistics.fmean(shares), 4),
            "regret": round(statistics.fmean(regrets), 3),
            "share_min": round(min(shares), 4),
            "regret_sd": round(statistics.pstdev(regrets), 3),
        }
    return out


# -- 2. HotpotQA -----------------------------------------------------------------------------


def arm_plans() -> dict[str, Any]:
    """The retrieval strategies the arms stand for, at the FULL level, as weave uses them.

    ``vector``: one dense pass (no lexical or entity seeds); ``graph``: dense and
    query-entity seeds, then hops through the entity graph only (no lexical seeds, no
    vector expansion); ``hybrid``: the FULL plan (dense + lexical + entity seeds, graph and
    vector expansion over three passes). See :func:`HoloLoom.routing.weave_router.plan_for_arm`.
    """
    from HoloLoom.crawl import DEFAULT_PLANS
    from HoloLoom.routing.weave_router import STRATEGY_ARMS, plan_for_arm
    from HoloLoom.types import Complexity

    return {arm: plan_for_arm(arm, DEFAULT_PLANS[Complexity.FULL]) for arm in STRATEGY_ARMS}


RankFn = Callable[[Any, str, str], Awaitable[Sequence[str]]]


async def run_hotpotqa(
    loom_factory: Callable[[Path], Any] | None = None,
    data_dir: str | Path = DEFAULT_DATA,
    rounds: int = 5,
    seed: int = 0,
    *,
    rank: RankFn | None = None,
    arms: Sequence[str] | None = None,
    namespace: str = "bench",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fixed arms vs the learned router on a corpus.jsonl/questions.jsonl directory.

    Args:
        loom_factory: ``home -> HoloLoom`` (default: an embedded HoloLoom in ``home``).
        data_dir: the dataset (default ``../shared/data/hotpotqa-100``).
        rounds: shuffled passes of the learned router over the questions.
        seed: seeds the router and the shuffles.
        rank: ``async rank(loom, arm, question) -> shard ids, best first`` (default:
            ``loom.crawl`` with :func:`arm_plans`); plug weave in here once it routes.
        arms: the arms to compare (default: the keys of :func:`arm_plans`).

    Returns:
        ``{"learned": {"recall@5", "p50_ms"}, "fixed": {arm: {"recall@5", "p50_ms"}},
        "details": {...}}`` (``details`` is not part of the benchmark JSON).
    """
    from HoloLoom import Document, HoloLoom, Settings
    from HoloLoom.routing import RoutingOrchestrator

    say = progress or (lambda _m: None)
    corpus, questions = load_dataset(data_dir)
    questions = [q for q in questions if q.get("supporting_titles")]
    plans = arm_plans()
    arms = list(arms or plans)
    if rank is None:
        async def rank(loom: Any, arm: str, question: str) -> Sequence[str]:
            result = await loom.crawl(question, plan=plans[arm], limit=10, namespace=namespace)
            return [item.shard.id for item in result.items]

    def recall5(ids: Sequence[str], gold: Sequence[str], title_of: Mapping[str, str]) -> float:
        top = list(dict.fromkeys(title_of.get(i, i) for i in ids))[:5]  # chunks of one passage count once
        return len(set(top) & set(gold)) / len(set(gold))

    with tempfile.TemporaryDirectory(prefix="hololoom-routing-") as tmp:
        home = Path(tmp)
        loom = loom_factory(home) if loom_factory else HoloLoom(settings=Settings.from_env(home=home / "loom"))
        async with loom:
            say(f"ingesting {len(corpus)} passages")
            result = await loom.add([Document(text=p["text"], title=p["title"]) for p in corpus], namespace=namespace)
            title_of = {s.id: s.metadata["title"] for s in await loom.store.get(result.ids, namespace=namespace)}
            for arm in arms:  # warm caches and lazy loads so no arm pays for them
                await rank(loom, arm, questions[0]["question"])
            # Every question is answered by the learned router and by each fixed arm in turn,
            # in a rotating order, so load on a shared machine falls on all methods alike.
            orch = RoutingOrchestrator(arms, seed=seed, store_dir=home / "routing")
            shuffler = random.Random(seed)
            fixed_recalls: dict[str, list[float]] = {a: [] for a in arms}
            fixed_times: dict[str, list[float]] = {a: [] for a in arms}
            per_round: list[dict[str, Any]] = []
            methods = ["learned", *arms]
            for r in range(rounds):
                say(f"round {r + 1}/{rounds}: learned router and {len(arms)} fixed arms")
                order = list(questions)
                shuffler.shuffle(order)
                recalls, times, picks = [], [], {a: 0 for a in arms}
                for n, q in enumerate(order):
                    gold = q["supporting_titles"]
                    for method in methods[n % len(methods):] + methods[: n % len(methods)]:
                        started = time.perf_counter()
                        if method != "learned":
                            ids = await rank(loom, method, q["question"])
                            fixed_times[method].append((time.perf_counter() - started) * 1000.0)
                            fixed_recalls[method].append(recall5(ids, gold, title_of))
                            continue
                        decision = orch.select_backend(q["question"], "FULL")
                        ids = await rank(loom, decision.arm, q["question"])
                        elapsed = (time.perf_counter() - started) * 1000.0
                        value = recall5(ids, gold, title_of)
                        orch.record_outcome(decision, latency_ms=elapsed, relevance=value, success=True, reward=value)
                        times.append((time.perf_counter() - started) * 1000.0)  # routing included
                        recalls.append(value)
                        picks[decision.arm] += 1
                per_round.append({"recall@5": round(statistics.fmean(recalls), 4), "p50_ms": round(median(times), 3),
                                  "picks": picks})
            fixed = {a: {"recall@5": round(statistics.fmean(fixed_recalls[a]), 4), "p50_ms": round(median(fixed_times[a]), 3)}
                     for a in arms}
            orch.close()
            last = per_round[-1]
            return {
                "learned": {"recall@5": last["recall@5"], "p50_ms": last["p50_ms"]},
                "fixed": fixed,
                "details": {
                    "rounds": per_round,
                    "recall@5_all_rounds": round(statistics.fmean(r["recall@5"] for r in per_round), 4),
                    "questions": len(questions), "passages": len(corpus),
                    "router": orch.stats(metrics_window=None)["router"]["query_types"],
                },
            }


# -- 3. overhead -----------------------------------------------------------------------------

_QUERIES = (
    "Where was Maximum Overdrive filmed?", "Define machine learning", "Why did the Recovery of Aristotle matter?",
    "Compare Neo4j and Qdrant for graph workloads", "Write a short poem about Leland", "hello there",
    "Which university did Haymo of Faversham lecture at?", "How many films were shot in Wilmington?",
    "How does the demon algorithm sample a microcanonical ensemble?", "I think I prefer the hybrid results",
)


def measure_overhead(iterations: int = 3000, *, seed: int = 0, arms: Sequence[str] = ("vector", "graph", "hybrid", "backend:neo4j")) -> dict[str, float]:
    """Per-query cost of ``select_backend`` + ``record_outcome`` (state and metrics on disk, autosave on)."""
    from HoloLoom.routing import RoutingOrchestrator

    with tempfile.TemporaryDirectory(prefix="hololoom-routing-overhead-") as tmp:
        orch = RoutingOrchestrator(list(arms), seed=seed, store_dir=Path(tmp))
        rng = random.Random(seed)
        times: list[float] = []
        for i in range(iterations + 200):
            query = _QUERIES[i % len(_QUERIES)]
            level = COMPLEXITIES[i % 4]
            conf = rng.random()
            started = time.perf_counter()
            decision = orch.select_backend(query, level)
            orch.record_outcome(decision, latency_ms=20.0, confidence=conf, relevance=conf, success=True, budget_ms=500.0)
            if i >= 200:  # warm-up excluded
                times.append((time.perf_counter() - started) * 1000.0)
        orch.close()
    return {"p50_ms": round(median(times), 4), "p95_ms": round(percentile(times, 95), 4),
            "mean_ms": round(statistics.fmean(times), 4)}


# -- report ----------------------------------------------------------------------------------


def run_and_report(
    json_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    hotpotqa_runner: Callable[[Path], Mapping[str, Any]] | None = None,
    *,
    seeds: int = 20,
    queries: int = 500,
    rounds: int = 5,
    skip_hotpotqa: bool = False,
    overhead_iterations: int = 3000,
) -> dict[str, Any]:
    """Run all three parts, print tables, write the JSON; returns the JSON payload.

    Args:
        data_dir: the HotpotQA directory (default ``../shared/data/hotpotqa-100``); when it
            does not exist the real-data part is skipped (``"hotpotqa": null``).
        hotpotqa_runner: ``data_dir -> {"learned": ..., "fixed": ...}`` to replace the
            default :func:`run_hotpotqa` (e.g. one that ranks through weave).
    """
    say = lambda m: print(f"... {m}", flush=True)  # noqa: E731
    say(f"simulation: {queries} queries x {seeds} seeds")
    sim = run_simulation(queries=queries, seeds=seeds)
    print_table(f"Routing simulation ({queries} queries, {seeds} seeds; mean over seeds)", sim,
                ["best_arm_share_last100", "share_min", "regret", "regret_sd"])

    hotpot: dict[str, Any] | None = None
    data = Path(data_dir) if data_dir is not None else Path(DEFAULT_DATA)
    if skip_hotpotqa:
        say("hotpotqa: skipped")
    elif not (data / "corpus.jsonl").exists():
        say(f"hotpotqa: no corpus.jsonl in {data}; skipped")
    else:
        full = (dict(hotpotqa_runner(data)) if hotpotqa_runner is not None
                else asyncio.run(run_hotpotqa(None, data, rounds, 0, progress=say)))
        hotpot = {"learned": dict(full["learned"]), "fixed": {a: dict(v) for a, v in full["fixed"].items()}}
        rows = {f"fixed: {a}": v for a, v in hotpot["fixed"].items()}
        rows["learned (last round)"] = hotpot["learned"]
        details = full.get("details") or {}
        for i, r in enumerate(details.get("rounds", []), start=1):
            rows[f"  round {i} {r['picks']}"] = {"recall@5": r["recall@5"], "p50_ms": r["p50_ms"]}
        print_table("Routing on HotpotQA (recall@5 of gold passages; p50 latency per question)", rows, ["recall@5", "p50_ms"])

    say("overhead")
    overhead = measure_overhead(overhead_iterations)
    print_table("Routing overhead per query (select_backend + record_outcome)", {"orchestrator": overhead},
                ["p50_ms", "p95_ms", "mean_ms"])
    payload = {
        "simulation": {p: {"best_arm_share_last100": v["best_arm_share_last100"], "regret": v["regret"]}
                       for p, v in sim.items()},
        "hotpotqa": hotpot,
        "overhead_p50_ms": overhead["p50_ms"],
    }
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", default=None, help="Write the results here.")
    parser.add_argument("--data", default=DEFAULT_DATA, help="HotpotQA-style directory (corpus.jsonl, questions.jsonl).")
    parser.add_argument("--rounds", type=int, default=5, help="Shuffled rounds of the learned router over the questions.")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-hotpotqa", action="store_true", help="Only the simulation and the overhead.")
    args = parser.parse_args(argv)
    run_and_report(args.json_path, args.data, seeds=args.seeds, queries=args.queries, rounds=args.rounds,
                   skip_hotpotqa=args.no_hotpotqa)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
