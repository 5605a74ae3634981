"""The answers benchmark's scoring: accuracy, citation checks, not-found and the reliability table."""

from __future__ import annotations

from pathlib import Path

import pytest

from HoloLoom.bench.answers import load_questions, score_answer, summarise
from HoloLoom.errors import ValidationError

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "answers"


def _st(response: str, texts: list[str], confidence: float = 0.9, **output: object) -> dict:
    return {"response": response, "confidence": confidence, "tool_output": output,
            "context": [{"shard": {"text": t}} for t in texts]}


def test_a_right_answer_with_a_right_citation() -> None:
    q = {"id": "q1", "question": "When did we sign?", "answers": ["March 4"], "type": "temporal"}
    st = _st("Signed the **Kestrel** contract today. (on March 4, 2026; 2026-03-04) [2]",
             ["Other note.", "# Kestrel\nSigned the **Kestrel** contract today."])
    row = score_answer(q, st)
    assert row["correct"] and row["citations"] == [True] and not row["not_found"]


def test_a_citation_to_the_wrong_row_is_counted_wrong() -> None:
    q = {"id": "q1", "question": "Who?", "answers": ["Sofia"]}
    row = score_answer(q, _st("Sofia Alvarez is the VP. [1]", ["Lena is the VP.", "Sofia Alvarez is the VP."]))
    assert row["correct"] and row["citations"] == [False]


def test_not_found_rows_and_the_summary() -> None:
    absent = {"id": "a", "question": "Phone?", "answers": None}
    present = {"id": "b", "question": "Where?", "answers": ["Lisbon"]}
    rows = [
        score_answer(absent, _st("I found nothing in memory that answers this. Related: x [1].", ["x"], 0.1, candidate="x")),
        score_answer(present, _st("I found nothing in memory that answers this.", [], 0.3, candidate="Priya moved to Lisbon.")),
    ]
    assert rows[0]["correct"] and not rows[1]["correct"] and rows[1]["candidate_correct"]
    s = summarise(rows)
    assert s["not_found_recall"] == 1.0 and s["not_found_precision"] == 0.5 and s["not_found_on_answerable"] == 1.0
    assert sum(b["questions"] for b in s["reliability"].values()) == 2


def test_the_shipped_data_is_what_the_issue_asks_for() -> None:
    questions, now = load_questions(DATA)
    assert now and len(questions) >= 40 and sum(q["answers"] is None for q in questions) >= 10
    assert {"one-hop", "two-hop", "temporal", "updated"} <= {q["type"] for q in questions}
    notes = [p for p in (DATA / "notes").rglob("*") if p.suffix in (".md", ".txt")]
    journal = (DATA / "notes" / "journal.jsonl").read_text().splitlines()
    assert len(notes) + len(journal) >= 80
    with pytest.raises(ValidationError):
        load_questions(DATA / "notes")
