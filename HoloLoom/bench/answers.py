"""Answers a person can trust: ``hololoom bench answers --data DIR [--json FILE]``.

``DIR`` holds ``notes/`` (files and folders of ``.md``/``.txt``/``.jsonl`` notes, dated
by front matter, file name or a ``date`` field), ``questions.jsonl`` (one ``{"id",
"question", "answers": [acceptable strings] | null, "supporting": [note paths],
"type"}`` per line; ``null`` means memory holds no answer) and optionally ``meta.json``
(``{"now": ISO time}``: what "last March" is counted from; a question's own ``"now"``
wins). ``benchmarks/data/answers`` is one such set.

The notes go in with ``hololoom add DIR/notes`` and every question is asked with
``hololoom ask QUESTION --json --now NOW``: subprocesses with default settings, as a user
runs them. Reported:

- answer accuracy: an expected string appears in the answer (answerable questions);
- citation accuracy: each cited row holds the sentence it is cited for;
- not-found precision and recall ("I found nothing in memory ..."), and how often
  not-found is said on answerable questions;
- calibration: a reliability table of the answer confidence against whether the answer
  (for a not-found, the answer it held back) contains an expected string, and the ECE.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..plaintext import plain_lines
from ._common import median, print_table, write_json

__all__ = ["load_questions", "run_and_report", "score_answer", "summarise"]

NOT_FOUND_PREFIX = "I found nothing in memory"
_CITED = re.compile(r"(.+?)\s*\[(\d+)\](?=\s|$)", re.S)
_DATE_NOTE = re.compile(r"\s*\(on [^()]*\)\s*$")
_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def load_questions(data: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The questions and the dataset's ``now`` (None: the clock)."""
    path = data / "questions.jsonl"
    try:
        if not path.is_file() or not (data / "notes").is_dir():
            raise ValidationError(f"{ascii(str(data))} needs notes/ and questions.jsonl (see HoloLoom/bench/answers.py)")
        questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        meta = data / "meta.json"
        now = json.loads(meta.read_text(encoding="utf-8")).get("now") if meta.is_file() else None
    except (OSError, ValueError) as exc:  # a NUL in the path, unreadable or not JSON
        raise ValidationError(f"cannot read the answers data at {ascii(str(data))}: {exc}") from None
    return questions, now


def _words(text: str) -> list[str]:
    return re.findall(r"[\w$€£%:'\-]+", text.lower())


def _holds(memory_text: str, sentence: str) -> bool:
    """The memory says the sentence: its words appear there in order (markdown aside)."""
    plain = " ".join(_words(" ".join(plain_lines(memory_text))))
    return " ".join(_words(sentence)) in plain


def score_answer(question: Mapping[str, Any], spacetime: Mapping[str, Any]) -> dict[str, Any]:
    """How one ``hololoom ask --json`` result fares against its question."""
    response = spacetime.get("response") or ""
    expected = question.get("answers")
    said_not_found = response.startswith(NOT_FOUND_PREFIX)
    output = spacetime.get("tool_output") or {}
    candidate = output.get("candidate", "") if said_not_found else response

    def contains(text: str) -> bool:
        return bool(expected) and any(e.lower() in text.lower() for e in expected)

    context = spacetime.get("context") or []
    citations = []
    if not said_not_found:
        for sentence, row in _CITED.findall(response):
            n = int(row)
            ok = 1 <= n <= len(context) and _holds(context[n - 1]["shard"]["text"], _DATE_NOTE.sub("", sentence).strip())
            citations.append(ok)
    return {
        "id": question.get("id"), "type": question.get("type"), "question": question["question"],
        "expected": expected, "response": response, "confidence": float(spacetime.get("confidence") or 0.0),
        "answerable": expected is not None, "not_found": said_not_found,
        "correct": (not said_not_found and contains(response)) if expected is not None else said_not_found,
        "candidate_correct": contains(candidate), "citations": citations,
        "complexity": spacetime.get("complexity"), "features": output.get("features"),
    }


def _reliability(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, dict[str, Any]], float]:
    table: dict[str, dict[str, Any]] = {}
    ece = 0.0
    for lo, hi in zip(_BINS, _BINS[1:]):
        members = [r for r in rows if lo <= r["confidence"] < hi]
        if not members:
            continue
        mean_conf = sum(r["confidence"] for r in members) / len(members)
        accuracy = sum(r["candidate_correct"] for r in members) / len(members)
        ece += len(members) / len(rows) * abs(mean_conf - accuracy)
        table[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {"questions": len(members), "mean confidence": mean_conf, "accuracy": accuracy}
    return table, ece


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The headline figures of scored rows."""
    answerable = [r for r in rows if r["answerable"]]
    absent = [r for r in rows if not r["answerable"]]
    cites = [ok for r in rows for ok in r["citations"]]
    said = [r for r in rows if r["not_found"]]
    reliability, ece = _reliability(rows)
    by_type: dict[str, dict[str, Any]] = {}
    for kind in sorted({r["type"] for r in rows if r.get("type")}):
        members = [r for r in rows if r.get("type") == kind]
        by_type[kind] = {"questions": len(members), "correct": sum(r["correct"] for r in members) / len(members)}
    return {
        "questions": len(rows), "answerable": len(answerable), "without_answer": len(absent),
        "answer_accuracy": sum(r["correct"] for r in answerable) / max(1, len(answerable)),
        "citation_accuracy": sum(cites) / max(1, len(cites)), "citations": len(cites),
        "not_found_precision": sum(not r["answerable"] for r in said) / max(1, len(said)),
        "not_found_recall": sum(r["not_found"] for r in absent) / max(1, len(absent)),
        "not_found_on_answerable": sum(r["not_found"] for r in answerable) / max(1, len(answerable)),
        "ece": ece, "reliability": reliability, "by_type": by_type,
    }


def _hololoom(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOLOLOOM_HOME": str(home)}
    command = [sys.executable, "-m", "HoloLoom.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def run(data: Path, *, home: Path | None = None) -> dict[str, Any]:
    """Add the notes and ask every question through the ``hololoom`` command."""
    questions, now = load_questions(data)
    with tempfile.TemporaryDirectory(prefix="hololoom-answers-") as tmp:
        home = home or Path(tmp) / "home"
        started = time.perf_counter()
        added = _hololoom("add", str(data / "notes"), home=home)
        if added.returncode != 0:
            raise RuntimeError(f"hololoom add failed: {added.stderr.strip()[-400:]}")
        add_seconds = time.perf_counter() - started
        rows, seconds = [], []
        for q in questions:
            args = ["ask", q["question"], "--json"] + (["--now", q.get("now") or now] if (q.get("now") or now) else [])
            started = time.perf_counter()
            result = _hololoom(*args, home=home)
            seconds.append(time.perf_counter() - started)
            if result.returncode != 0:
                raise RuntimeError(f"hololoom ask {q['question']!r} failed: {result.stderr.strip()[-400:]}")
            rows.append(score_answer(q, json.loads(result.stdout)))
            print(f"[{len(rows)}/{len(questions)}] {q.get('id')} {'ok' if rows[-1]['correct'] else 'MISS'} "
                  f"({seconds[-1]:.1f} s)", file=sys.stderr, flush=True)
    summary = summarise(rows)
    summary.update(add_seconds=round(add_seconds, 2), ask_seconds_median=round(median(seconds), 2),
                   added=added.stdout.strip())
    return {"data": str(data), "now": now, "summary": summary, "questions": rows}


def report(result: Mapping[str, Any]) -> None:
    s = result["summary"]
    print_table(f"answers on {result['data']} ({s['questions']} questions, {s['without_answer']} without an answer)", {
        "hololoom ask (default settings)": {
            "answer acc": s["answer_accuracy"], "citation acc": s["citation_accuracy"],
            "NF precision": s["not_found_precision"], "NF recall": s["not_found_recall"],
            "NF on answerable": s["not_found_on_answerable"], "ECE": s["ece"]}},
        ["answer acc", "citation acc", "NF precision", "NF recall", "NF on answerable", "ECE"])
    print_table("by question type", s["by_type"], ["questions", "correct"])
    print_table("reliability (confidence vs the answer containing an expected string)", s["reliability"],
                ["questions", "mean confidence", "accuracy"])
    for r in result["questions"]:
        if not r["correct"]:
            print(f"MISS {r['id']} [{r['type']}] {r['question']} -> {r['response'][:160]!r}")


def run_and_report(data: Path, *, json_path: Path | None = None) -> dict[str, Any]:
    result = run(data)
    report(result)
    write_json(json_path, result)
    return result
