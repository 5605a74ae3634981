"""The routing benchmark: simulation, JSON shape, query-type accuracy, the HotpotQA runner on a tiny corpus."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from HoloLoom import HoloLoom, Settings
from HoloLoom.bench.routing import SIM_RATES, classifier_accuracy, run_and_report, run_hotpotqa, run_simulation, simulate

from tests.conftest import CORPUS


def test_simulation_is_seeded_and_learns_only_from_feedback() -> None:
    assert simulate("learned, feedback on all", seed=2)["choices"] == simulate("learned, feedback on all", seed=2)["choices"]
    sim = run_simulation(seeds=3)
    assert sim["learned, feedback on all"]["best_arm_share_last100"] >= 0.95
    assert sim["learned, no feedback"]["full_plan_share"] == 1.0  # never rated: the full plan, always
    assert sim["learned, feedback on all"]["regret"] < sim["random"]["regret"] < sim["baseline only"]["regret"]
    assert sim["random"]["best_arm_share_last100"] < 0.5
    assert set(next(iter(SIM_RATES.values()))) == {"vector", "graph", "hybrid"}


def test_report_json_has_exactly_the_agreed_shape(tmp_path: Path) -> None:
    out = tmp_path / "routing.json"
    payload = run_and_report(out, seeds=2, skip_hotpotqa=True, overhead_iterations=100)
    assert json.loads(out.read_text()) == payload
    assert set(payload) == {"simulation", "hotpotqa", "query_types", "overhead_p50_ms"}
    for row in payload["simulation"].values():
        assert set(row) == {"best_arm_share_last100", "full_plan_share", "regret"}
    assert payload["hotpotqa"] is None and payload["overhead_p50_ms"] > 0


def test_the_classifier_on_the_labelled_queries() -> None:
    accuracy = classifier_accuracy()
    assert set(accuracy) == {"dev", "test"}
    assert accuracy["dev"]["queries"] + accuracy["test"]["queries"] >= 40
    assert accuracy["dev"]["accuracy"] >= 0.95 and accuracy["test"]["accuracy"] >= 0.85


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
    for row in [*result["fixed"].values(), result["learned"], result["no_feedback"]]:
        assert set(row) == {"recall@5", "p50_ms"} and 0.0 <= row["recall@5"] <= 1.0 and row["p50_ms"] > 0
    assert result["fixed"]["hybrid"]["recall@5"] >= 0.5
    assert result["no_feedback"]["recall@5"] == result["fixed"]["hybrid"]["recall@5"]  # it serves the full plan
    rounds = result["details"]["rounds"]
    assert len(rounds) == 2 and sum(rounds[0]["learned"]["picks"].values()) == 3
    assert rounds[1]["no_feedback"]["picks"] == {"hybrid": 3, "graph": 0, "vector": 0}
