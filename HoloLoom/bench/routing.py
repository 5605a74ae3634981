"""Routing benchmark: does the learning policy find the best arm with feedback, and keep the full plan without?

    python -m benchmarks.routing [--json FILE] [--data DIR] [--rounds N] [--no-hotpotqa]
    hololoom bench routing [--json FILE]

1. **Simulation.** Known success rates per (query type, arm) (:data:`SIM_RATES`, where the
   full plan ``hybrid`` is never the best arm); 500 queries of uniformly drawn type;
   Bernoulli rewards; 20 seeds with common random numbers. Policies: the learning
   :class:`~HoloLoom.routing.Policy` with feedback on every query, on 10% of queries, and
   on none; the baseline alone; uniform random. Reported per policy, averaged over seeds:
   ``best_arm_share_last100`` (share of the last 100 choices that went to the query
   type's best arm), ``full_plan_share`` (share of all choices that served the baseline)
   and ``regret`` (sum of best rate minus chosen rate).
2. **HotpotQA** (:func:`run_hotpotqa`). The corpus goes into a fresh store; the arms are
   the strategies of :func:`arm_plans` at the FULL level. In each of ``rounds`` shuffled
   rounds every question is answered by the policy (feedback = recall@5), by the policy
   without feedback, and by every fixed arm, in rotating order so machine load falls on
   all alike. Reported: recall@5 and p50 latency; the policies over their last round.
3. **Query types.** Accuracy of the built-in classifier on the labelled queries in
   ``HoloLoom/bench/data/query_types.jsonl`` (``dev``: written before the rules, which
   were tuned on it; ``test``: written after they were frozen).
4. **Overhead.** p50 of one ``choose`` + ``outcome`` with the state file on disk.

JSON: ``{"simulation": {POLICY: {"best_arm_share_last100", "full_plan_share", "regret"}},
"hotpotqa": {"learned": {...}, "no_feedback": {...}, "fixed": {ARM: {"recall@5", "p50_ms"}}} | null,
"query_types": {"dev": {"accuracy", "queries"}, "test": {...}}, "overhead_p50_ms"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import median, percentile, print_table, write_json
from .quality import DEFAULT_DATA, load_dataset

__all__ = ["LABELLED_QUERIES", "SIM_RATES", "arm_plans", "classifier_accuracy", "measure_overhead", "run_and_report",
           "run_hotpotqa", "run_simulation", "simulate"]

#: Success rate of each arm per query type in the simulation. Each type has one best arm,
#: 0.30 ahead of the runner-up, and it is never the baseline.
SIM_RATES: Mapping[str, Mapping[str, float]] = {
    "factual": {"vector": 0.85, "graph": 0.45, "hybrid": 0.55},
    "multi_hop": {"vector": 0.40, "graph": 0.85, "hybrid": 0.55},
    "temporal": {"vector": 0.80, "graph": 0.30, "hybrid": 0.50},
    "conversational": {"vector": 0.75, "graph": 0.25, "hybrid": 0.45},
}
BASELINE = "hybrid"
#: Policies of the simulation and the share of queries each gives feedback on.
SIM_POLICIES: Mapping[str, float | None] = {"learned, feedback on all": 1.0, "learned, feedback on 10%": 0.1,
                                            "learned, no feedback": 0.0, "baseline only": None, "random": None}
LABELLED_QUERIES = Path(__file__).with_name("data") / "query_types.jsonl"


# -- 1. simulation ---------------------------------------------------------------------------


def simulate(policy: str, rates: Mapping[str, Mapping[str, float]] = SIM_RATES, *, queries: int = 500,
             seed: int = 0) -> dict[str, Any]:
    """Run one policy of :data:`SIM_POLICIES` in the simulated world.

    Returns:
        ``{"best_arm_share_last100", "full_plan_share", "regret", "choices"}``.
    """
    from HoloLoom.routing import Policy

    if policy not in SIM_POLICIES:
        raise ValueError(f"unknown policy {policy!r}: use one of {', '.join(SIM_POLICIES)}")
    arms = list(next(iter(rates.values())))
    rng = np.random.default_rng(seed)
    types = list(rates)
    qtypes = [types[i] for i in rng.integers(len(types), size=queries)]
    dice, rated = rng.random(queries), rng.random(queries)  # the same for every policy (common random numbers)
    best = {t: max(r, key=r.__getitem__) for t, r in rates.items()}
    learner = Policy(seed=seed) if SIM_POLICIES[policy] is not None else None
    pick = random.Random(seed + 1_000_003)
    choices: list[str] = []
    regret = 0.0
    for qt, u, r in zip(qtypes, dice, rated):
        if learner is not None:
            arm = learner.choose("arm", qt, arms, baseline=BASELINE).option
            if r < (SIM_POLICIES[policy] or 0.0):
                learner.observe("arm", qt, arm, 1.0 if u < rates[qt][arm] else 0.0)
        else:
            arm = BASELINE if policy == "baseline only" else pick.choice(arms)
        choices.append(arm)
        regret += rates[qt][best[qt]] - rates[qt][arm]
    last = list(zip(qtypes, choices))[-100:]
    return {"best_arm_share_last100": sum(arm == best[qt] for qt, arm in last) / len(last),
            "full_plan_share": choices.count(BASELINE) / len(choices), "regret": regret, "choices": choices}


def run_simulation(rates: Mapping[str, Mapping[str, float]] = SIM_RATES, *, queries: int = 500,
                   seeds: int = 20) -> dict[str, dict[str, float]]:
    """Every policy over ``seeds`` seeds: mean shares and regret (plus the worst seed's share)."""
    out: dict[str, dict[str, float]] = {}
    for policy in SIM_POLICIES:
        runs = [simulate(policy, rates, queries=queries, seed=s) for s in range(seeds)]
        shares = [r["best_arm_share_last100"] for r in runs]
        out[policy] = {
            "best_arm_share_last100": round(statistics.fmean(shares), 4),
            "share_min": round(min(shares), 4),
            "full_plan_share": round(statistics.fmean(r["full_plan_share"] for r in runs), 4),
            "regret": round(statistics.fmean(r["regret"] for r in runs), 3),
        }
    return out


# -- 2. HotpotQA -----------------------------------------------------------------------------


def arm_plans() -> dict[str, Any]:
    """Each strategy arm's crawl plan at the FULL level, as weave uses them (see ``plan_for_arm``)."""
    from HoloLoom.crawl import DEFAULT_PLANS
    from HoloLoom.routing import STRATEGY_ARMS, plan_for_arm
    from HoloLoom.types import Complexity

    return {arm: plan_for_arm(arm, DEFAULT_PLANS[Complexity.FULL]) for arm in STRATEGY_ARMS}


async def run_hotpotqa(
    loom_factory: Callable[[Path], Any] | None = None,
    data_dir: str | Path = DEFAULT_DATA,
    rounds: int = 5,
    seed: int = 0,
    *,
    namespace: str = "bench",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fixed arms vs the policy (with and without feedback) on a corpus/questions directory.

    Returns:
        ``{"learned": {"recall@5", "p50_ms"}, "no_feedback": {...}, "fixed": {arm: {...}},
        "details": {...}}`` (``details`` is not part of the benchmark JSON).
    """
    from HoloLoom import Document, HoloLoom, Settings
    from HoloLoom.routing import Policy, classify_query_type

    say = progress or (lambda _m: None)
    corpus, questions = load_dataset(data_dir)
    questions = [q for q in questions if q.get("supporting_titles")]
    plans = arm_plans()
    arms = list(plans)

    async def rank(loom: Any, arm: str, question: str) -> list[str]:
        return [item.shard.id for item in (await loom.crawl(question, plan=plans[arm], limit=10, namespace=namespace)).items]

    def recall5(ids: Sequence[str], gold: Sequence[str], title_of: Mapping[str, str]) -> float:
        top = list(dict.fromkeys(title_of.get(i, i) for i in ids))[:5]  # chunks of one passage count once
        return len(set(top) & set(gold)) / len(set(gold))

    with tempfile.TemporaryDirectory(prefix="hololoom-routing-") as tmp:
        home = Path(tmp)
        loom = loom_factory(home) if loom_factory else HoloLoom(settings=Settings.from_env(home=home / "loom"))
        async with loom:
            say(f"ingesting {len(corpus)} passages")
            result = await loom.add([Document(text=p["text"], title=p.get("title"), id=p.get("id")) for p in corpus],
                                    namespace=namespace)
            shards = await loom.store.get(list(dict.fromkeys(result.ids)), namespace=namespace)
            title_of = {s.id: str(s.metadata.get("title") or s.metadata.get("document_id") or s.id) for s in shards}
            for arm in arms:  # warm caches and lazy loads so no arm pays for them
                await rank(loom, arm, questions[0]["question"])
            policies = {"learned": Policy(seed=seed), "no_feedback": Policy(seed=seed)}
            shuffler = random.Random(seed)
            fixed: dict[str, tuple[list[float], list[float]]] = {a: ([], []) for a in arms}
            per_round: list[dict[str, Any]] = []
            methods = [*policies, *arms]
            for r in range(rounds):
                say(f"round {r + 1}/{rounds}: the policy with and without feedback, and {len(arms)} fixed arms")
                order = list(questions)
                shuffler.shuffle(order)
                learned: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in policies}
                picks = {p: {a: 0 for a in arms} for p in policies}
                for n, q in enumerate(order):
                    gold, qt = q["supporting_titles"], classify_query_type(q["question"])
                    for method in methods[n % len(methods):] + methods[: n % len(methods)]:
                        started = time.perf_counter()
                        policy = policies.get(method)
                        arm = policy.choose("arm", qt, arms, baseline=BASELINE).option if policy else method
                        value = recall5(await rank(loom, arm, q["question"]), gold, title_of)
                        if method == "learned":
                            policies["learned"].observe("arm", qt, arm, value)
                        recalls, times = learned[method] if policy else fixed[method]
                        times.append((time.perf_counter() - started) * 1000.0)  # choosing included
                        recalls.append(value)
                        if policy:
                            picks[method][arm] += 1
                per_round.append({p: {"recall@5": round(statistics.fmean(v[0]), 4), "p50_ms": round(median(v[1]), 3),
                                      "picks": picks[p]} for p, v in learned.items()})
            last = per_round[-1]
            return {
                **{p: {"recall@5": last[p]["recall@5"], "p50_ms": last[p]["p50_ms"]} for p in policies},
                "fixed": {a: {"recall@5": round(statistics.fmean(v[0]), 4), "p50_ms": round(median(v[1]), 3)}
                          for a, v in fixed.items()},
                "details": {"rounds": per_round, "questions": len(questions), "passages": len(corpus),
                            "posteriors": policies["learned"].stats().get("arm", {}).get("contexts", {})},
            }


# -- 3. query types --------------------------------------------------------------------------


def classifier_accuracy(path: str | Path = LABELLED_QUERIES) -> dict[str, dict[str, Any]]:
    """The built-in classifier on the labelled queries, per split: accuracy and the misses."""
    from HoloLoom.routing import classify_query_type

    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    out: dict[str, dict[str, Any]] = {}
    for split in sorted({r.get("split", "dev") for r in rows}):
        mine = [r for r in rows if r.get("split", "dev") == split]
        misses = [{"query": r["query"], "label": r["type"], "got": got} for r in mine
                  if (got := classify_query_type(r["query"])) != r["type"]]
        out[split] = {"accuracy": round(1 - len(misses) / len(mine), 4), "queries": len(mine), "misses": misses}
    return out


# -- 4. overhead -----------------------------------------------------------------------------


def measure_overhead(iterations: int = 3000, *, seed: int = 0,
                     arms: Sequence[str] = ("hybrid", "graph", "vector", "backend:neo4j")) -> dict[str, float]:
    """Per-query cost of ``choose`` + ``outcome`` (state file on disk, autosave on), feedback on 1 in 10."""
    from HoloLoom.routing import Policy

    with tempfile.TemporaryDirectory(prefix="hololoom-routing-overhead-") as tmp:
        policy = Policy(Path(tmp) / "policy.json", seed=seed)
        rng = random.Random(seed)
        times: list[float] = []
        for i in range(iterations + 200):
            qt = list(SIM_RATES)[i % len(SIM_RATES)]
            started = time.perf_counter()
            arm = policy.choose("arm", qt, arms, baseline=BASELINE).option
            policy.outcome("arm", arm, ok=True)
            if i >= 200:  # warm-up excluded
                times.append((time.perf_counter() - started) * 1000.0)
            if i % 10 == 0:
                policy.observe("arm", qt, arm, rng.random())
        policy.close()
    return {"p50_ms": round(median(times), 4), "p95_ms": round(percentile(times, 95), 4),
            "mean_ms": round(statistics.fmean(times), 4)}


# -- report ----------------------------------------------------------------------------------


def run_and_report(
    json_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    *,
    seeds: int = 20,
    queries: int = 500,
    rounds: int = 5,
    skip_hotpotqa: bool = False,
    overhead_iterations: int = 3000,
) -> dict[str, Any]:
    """Run every part, print tables, write the JSON; returns the JSON payload.

    Args:
        data_dir: the HotpotQA directory (default ``../shared/data/hotpotqa-100``); when it
            does not exist the real-data part is skipped (``"hotpotqa": null``).
    """
    say = lambda m: print(f"... {m}", flush=True)  # noqa: E731
    say(f"simulation: {queries} queries x {seeds} seeds")
    sim = run_simulation(queries=queries, seeds=seeds)
    print_table(f"Routing simulation ({queries} queries, {seeds} seeds; mean over seeds)", sim,
                ["best_arm_share_last100", "share_min", "full_plan_share", "regret"])

    hotpot: dict[str, Any] | None = None
    data = Path(data_dir) if data_dir is not None else Path(DEFAULT_DATA)
    if skip_hotpotqa:
        say("hotpotqa: skipped")
    elif not (data / "corpus.jsonl").exists():
        say(f"hotpotqa: no corpus.jsonl in {data}; skipped")
    else:
        full = asyncio.run(run_hotpotqa(None, data, rounds, 0, progress=say))
        hotpot = {k: full[k] for k in ("learned", "no_feedback", "fixed")}
        rows = {f"fixed: {a}": v for a, v in hotpot["fixed"].items()}
        rows["policy, feedback (last round)"] = hotpot["learned"]
        rows["policy, no feedback (last round)"] = hotpot["no_feedback"]
        for i, r in enumerate(full["details"]["rounds"], start=1):
            rows[f"  round {i}: feedback {r['learned']['picks']}"] = r["learned"]
        print_table("Routing on HotpotQA (recall@5 of gold passages; p50 latency per question)", rows, ["recall@5", "p50_ms"])

    types = classifier_accuracy()
    print_table("Query-type classifier on the labelled queries", types, ["accuracy", "queries"])
    say("overhead")
    overhead = measure_overhead(overhead_iterations)
    print_table("Policy overhead per query (choose + outcome)", {"policy": overhead}, ["p50_ms", "p95_ms", "mean_ms"])
    payload = {
        "simulation": {p: {k: v[k] for k in ("best_arm_share_last100", "full_plan_share", "regret")} for p, v in sim.items()},
        "hotpotqa": hotpot,
        "query_types": {s: {"accuracy": v["accuracy"], "queries": v["queries"]} for s, v in types.items()},
        "overhead_p50_ms": overhead["p50_ms"],
    }
    write_json(json_path, payload)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", default=None, help="Write the results here.")
    parser.add_argument("--data", default=DEFAULT_DATA, help="HotpotQA-style directory (corpus.jsonl, questions.jsonl).")
    parser.add_argument("--rounds", type=int, default=5, help="Shuffled rounds of the policy over the questions.")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-hotpotqa", action="store_true", help="Only the simulation, query types and overhead.")
    args = parser.parse_args(argv)
    run_and_report(args.json_path, args.data, seeds=args.seeds, queries=args.queries, rounds=args.rounds,
                   skip_hotpotqa=args.no_hotpotqa)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
