"""MetricsCollector: one JSON line per routed query, streamed queries, tail, aggregates."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from HoloLoom.errors import InvalidComplexityError, ValidationError
from HoloLoom.routing import InvalidRewardError, MetricsCollector


def _record(m: MetricsCollector, i: int, **over) -> dict:
    kwargs = dict(
        query=f"question {i}", query_type=("factual", "analytical")[i % 2], complexity=("LITE", "FULL")[i % 2],
        arm=("vector", "graph", "hybrid")[i % 3], strategy="learned", latency_ms=float(i), relevance=(i % 10) / 10,
        confidence=0.5, success=i % 4 != 0, reward=(i % 5) / 5, memory_size=100 + i, decision_id=f"d{i}",
        timestamp=1000.0 + i,
    )
    kwargs.update(over)
    return m.record(**kwargs)


def test_one_line_per_query_with_hash_not_text(tmp_path: Path) -> None:
    m = MetricsCollector(tmp_path / "m" / "routing.jsonl")
    rec = _record(m, 1, spacetime_id="st-1", ab_variant="learned")
    lines = (tmp_path / "m" / "routing.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == rec
    expected = {"kind", "timestamp", "decision_id", "query_hash", "query_type", "complexity", "arm", "strategy",
                "latency_ms", "relevance", "confidence", "success", "reward", "memory_size", "spacetime_id", "ab_variant"}
    assert set(rec) == expected
    assert "question 1" not in lines[0] and rec["query_hash"] == m.query_hash("question 1")
    assert len(rec["query_hash"]) == 16 and rec["spacetime_id"] == "st-1"


def test_raw_queries_only_when_asked_and_keyed_hashes_differ(tmp_path: Path) -> None:
    raw = MetricsCollector(tmp_path / "raw.jsonl", store_raw_queries=True)
    assert _record(raw, 2)["query"] == "question 2"
    keyed = MetricsCollector(tmp_path / "keyed.jsonl", hash_key=b"deployment-secret")
    assert keyed.query_hash("hello") != raw.query_hash("hello")
    assert keyed.query_hash("hello") == MetricsCollector(tmp_path / "x", hash_key=b"deployment-secret").query_hash("hello")


@pytest.mark.parametrize("over, error", [({"relevance": 1.5}, InvalidRewardError), ({"reward": -0.1}, InvalidRewardError),
                                         ({"latency_ms": -1.0}, ValidationError), ({"latency_ms": float("nan")}, ValidationError),
                                         ({"complexity": "HARD"}, InvalidComplexityError)])
def test_bad_values_are_refused_before_writing(tmp_path: Path, over, error) -> None:
    m = MetricsCollector(tmp_path / "m.jsonl")
    with pytest.raises(error):
        _record(m, 0, **over)
    assert not (tmp_path / "m.jsonl").exists()


def test_queries_by_type_complexity_arm_and_time(tmp_path: Path) -> None:
    m = MetricsCollector(tmp_path / "m.jsonl")
    for i in range(60):
        _record(m, i)
    assert len(list(m.records())) == 60
    assert all(r["query_type"] == "factual" for r in m.records(query_type="factual"))
    assert len(list(m.records(query_type="factual"))) == 30
    assert len(list(m.records(complexity="full"))) == 30
    assert [r["decision_id"] for r in m.records(arm="graph", since=1010.0, until=1020.0)] == ["d10", "d13", "d16", "d19"]
    assert len(list(m.records(since="1970-01-01T00:16:40+00:00"))) == 60  # ISO-8601 works (1000 s)


def test_tail_reads_the_last_records_from_the_end(tmp_path: Path) -> None:
    m = MetricsCollector(tmp_path / "m.jsonl")
    for i in range(1500):  # more than one 64 KiB block
        _record(m, i)
        if i % 100 == 0:
            m.record_feedback(decision_id=f"d{i}", reward=1.0, timestamp=1000.0 + i)
    assert (tmp_path / "m.jsonl").stat().st_size > 3 * 64 * 1024
    last = m.tail(1000)
    assert len(last) == 1000 and last[0]["decision_id"] == "d500" and last[-1]["decision_id"] == "d1499"
    assert [r["decision_id"] for r in m.tail(3, arm="vector")] == ["d1491", "d1494", "d1497"]
    assert len(m.tail(5, kind="feedback")) == 5
    assert m.tail(0) == [] and MetricsCollector(tmp_path / "none.jsonl").tail(10) == []
    with pytest.raises(ValidationError):
        m.tail(-1)


def test_aggregates_per_arm_use_feedback_rewards(tmp_path: Path) -> None:
    m = MetricsCollector(tmp_path / "m.jsonl")
    for i in range(30):
        _record(m, i)
    m.record_feedback(decision_id="d0", reward=1.0)  # d0 is a vector outcome with reward 0
    agg = m.aggregates()
    assert set(agg) == {"vector", "graph", "hybrid"}
    ids = [i for i in range(30) if i % 3 == 0]
    vec = agg["vector"]
    assert vec["count"] == 10
    assert vec["mean_latency_ms"] == pytest.approx(np.mean(ids))
    assert vec["p95_latency_ms"] == pytest.approx(np.percentile(ids, 95))
    assert vec["mean_relevance"] == pytest.approx(np.mean([(i % 10) / 10 for i in ids]))
    assert vec["success_rate"] == pytest.approx(np.mean([i % 4 != 0 for i in ids]))
    rewards = [(i % 5) / 5 for i in ids]
    rewards[0] = 1.0
    assert vec["mean_reward"] == pytest.approx(np.mean(rewards))
    assert m.aggregates(query_type="factual", last=5)["vector"]["count"] == 1  # last 5 factual: d20..d28, vector: d24
    assert MetricsCollector(tmp_path / "empty.jsonl").aggregates() == {}


def test_a_torn_last_line_is_skipped_and_not_glued_to(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    m = MetricsCollector(path)
    _record(m, 1)
    with open(path, "ab") as fh:
        fh.write(b'{"kind": "outcome", "arm": "vec')  # a crash mid-write
    m2 = MetricsCollector(path)
    _record(m2, 2)
    assert [r["decision_id"] for r in m2.records()] == ["d1", "d2"]
    assert [r["decision_id"] for r in m2.tail(10)] == ["d1", "d2"]


def _appender(path: str, worker: int, n: int) -> None:
    m = MetricsCollector(path)
    for i in range(n):
        m.record(query=f"w{worker} q{i}", query_type="factual", complexity="FAST", arm=f"arm{worker}", strategy="learned",
                 latency_ms=1.0, relevance=0.5, confidence=0.5, success=True, reward=0.5, decision_id=f"{worker}-{i}")


def test_two_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_appender, args=(str(path), w, 300)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 600 and all(json.loads(line)["kind"] == "outcome" for line in lines)
    agg = MetricsCollector(path).aggregates()
    assert agg["arm0"]["count"] == 300 and agg["arm1"]["count"] == 300
