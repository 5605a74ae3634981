"""The routing benchmark: simulation ordering, JSON shape, the HotpotQA runner on a tiny corpus."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from HoloLoom import HoloLoom, Settings
from HoloLoom.bench.routing import SIM_RATES, run_and_report, run_hotpotqa, run_simulation, simulate

from tests.conftest import CORPUS


def test_simulation_is_seeded_and_learned_beats_the_baselines() -> None:
    assert simulate("learned", seed=2)["choices"] == simulate("learned", seed=2)["choices"]
    sim = run_simulation(seeds=3)
    assert sim["learned"]["best_arm_share_last100"] >= 0.9
    assert sim["learned"]["regret"] < sim["rule_based"]["regret"] < sim["random"]["regret"]
    assert sim["random"]["best_arm_share_last100"] < 0.5
    assert set(next(iter(SIM_RATES.values()))) == {"vector", "graph", "hybrid"}


def test_report_json_has_exactly_the_agreed_shape(tmp_path: Path) -> None:
    out = tmp_path / "routing.json"
    payload = run_and_report(out, seeds=2, skip_hotpotqa=True, overhead_iterations=100)
    assert json.loads(out.read_text()) == payload
    assert set(payload) == {"simulation", "hotpotqa", "overhead_p50_ms"}
    assert set(payload["simulation"]) == {"learned", "rule_based", "random"}
    for row in payload["simulation"].values():
        assert set(row) == {"best_arm_share_last100", "regret"}
    assert payload["hotpotqa"] is None and payload["overhead_p50_ms"] > 0


def test_hotpotqa_runner_on_a_tiny_corpus(tmp_path: Path, embedder) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "corpus.jsonl").write_text("".join(json.dumps(p) + "\n" for p in CORPUS))
    questions = [
        {"question": "Who directed the film that was shot in Leland, North Carolina?",
         "supporting_titles": ["Maximum Overdrive", "Stephen King"]},
        {"question": "What language were books translated into in the era of Haymo of Faversham?",
         "supporting_titles": ["Haymo of Faversham", "Recovery of Aristotle"]},
        {"question": "Which city is home of the University of Paris?", "supporting_titles": ["Paris"]},
    ]
    (data / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    result = asyncio.run(run_hotpotqa(lambda home: HoloLoom(settings=Settings(home=home), embedder=embedder),
                                      data, rounds=2, seed=0))
    assert set(result["fixed"]) == {"vector", "graph", "hybrid"}
    for row in [*result["fixed"].values(), result["learned"]]:
        assert set(row) == {"recall@5", "p50_ms"} and 0.0 <= row["recall@5"] <= 1.0 and row["p50_ms"] > 0
    assert result["fixed"]["hybrid"]["recall@5"] >= 0.5
    assert len(result["details"]["rounds"]) == 2 and sum(result["details"]["rounds"][0]["picks"].values()) == 3
