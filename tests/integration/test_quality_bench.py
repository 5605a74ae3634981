"""``bench quality`` end to end on a tiny data set: every method scored, and the default weave's answers."""

from __future__ import annotations

import json
from pathlib import Path

from HoloLoom.bench.quality import run_quality
from tests.conftest import CORPUS


def _dataset(root: Path) -> Path:
    root.mkdir()
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(p) for p in CORPUS) + "\n", encoding="utf-8")
    questions = [
        {"question": "Who directed the film that was shot in Leland, North Carolina?", "answer": "Stephen King",
         "supporting_titles": ["Maximum Overdrive", "Leland, North Carolina"]},
        {"question": "Where did Haymo of Faversham lecture?", "answer": "University of Paris",
         "supporting_titles": ["Haymo of Faversham"]},
        {"question": "Is Paris the capital of France?", "answer": "yes", "supporting_titles": ["Paris"]},
    ]
    (root / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n", encoding="utf-8")
    return root


async def test_quality_bench_scores_every_method_and_the_default_answers(tmp_path: Path, embedder) -> None:
    payload = await run_quality(_dataset(tmp_path / "data"), levels=("LITE", "FULL"))
    assert set(payload["methods"]) == {"dense", "bm25", "LITE", "FULL", "default"}
    assert payload["methods"]["FULL"]["recall@10"] == 1.0
    answers = payload["answers"]
    assert answers["questions"] == 2  # the yes/no question is left out
    assert answers["contains_answer"] == 1.0 and answers["not_found"] == 0.0 and answers["sentences"] >= 1
