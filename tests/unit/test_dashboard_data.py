"""The dashboard's data shaping, on weave records written by real weaves on a small store."""

from __future__ import annotations

import copy
import json
import statistics
import time
from pathlib import Path

import pytest

from HoloLoom.dashboard import (
    GRAPHS,
    RecordCache,
    build_figures,
    load_feedback,
    load_records,
    load_tool_state,
    refresh,
    summarize,
    trace_view,
    weave_log_path,
)
from HoloLoom.jsonl import JsonlLog
from HoloLoom.weaving import Spacetime
from HoloLoom.weaving.events import Stage

LOOM_NAMES = [s.loom_name for s in Stage]


def _texts(component) -> list[str]:
    """Every string in a Dash component tree."""
    if component is None:
        return []
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in _texts(c)]
    out = _texts(getattr(component, "children", None))
    figure = getattr(component, "figure", None)
    if isinstance(figure, dict):
        out += [str(y) for trace in figure.get("data", []) for y in trace.get("y", [])]
    return out


@pytest.fixture
async def woven(small_loom, home: Path) -> list[dict]:
    # A generous budget: whether a 50 ms LITE weave is cut must not depend on what ran before
    # (an earlier test that embedded the same question leaves it in the embedder's cache).
    for query, level in [("Who directed Maximum Overdrive?", "LITE"),
                         ("Where was the film directed by Stephen King shot?", "FAST"),
                         ("summarize the Recovery of Aristotle", "FULL"),
                         ("Which scholar lectured in the capital of France during the Recovery of Aristotle?", "RESEARCH")]:
        await small_loom.weave(query, complexity=level, budget_ms=60_000)
    small_loom.orchestrator.flush()  # the logs are written on the loom's writer thread
    records = load_records(home)
    await small_loom.feedback(records[0]["id"], useful=True)
    small_loom.orchestrator.flush()
    return records


def test_an_empty_home_gives_empty_states_with_a_hint(tmp_path: Path) -> None:
    home = tmp_path / "nothing-here"
    assert load_records(home) == [] and load_tool_state(home) == {} and load_feedback(home) == []
    summary, figs = refresh(home)
    assert summary["count"] == 0 and summary["table"] == [] and summary["kpis"]["success_rate"] is None
    assert set(figs) == set(GRAPHS)
    for fig in figs.values():
        assert fig["data"] == []
        assert fig["layout"]["annotations"][0]["text"]
    assert "No weaves yet" in figs["latency"]["layout"]["annotations"][0]["text"]
    assert RecordCache(weave_log_path(home)).rows() == []


async def test_summary_of_real_weaves(woven: list[dict], home: Path) -> None:
    assert len(woven) == 4
    summary = summarize(woven, tool_state=load_tool_state(home), feedback=load_feedback(home))
    assert summary["count"] == 4
    assert summary["levels"] == ["LITE", "FAST", "FULL", "RESEARCH"]
    assert summary["complexity"] == {"LITE": 1, "FAST": 1, "FULL": 1, "RESEARCH": 1}
    assert summary["stage_order"] == LOOM_NAMES
    assert [len(v) for v in summary["latency"].values()] == [1, 1, 1, 1]
    assert summary["arms_type"] and sum(sum(c.values()) for c in summary["arms_type"].values()) == 4
    assert sum(sum(v) for v in summary["arms_time"]["arms"].values()) == 4
    assert sum(summary["outcomes"]["ok"]) + sum(summary["outcomes"]["degraded"]) + sum(summary["outcomes"]["error"]) == 4
    assert summary["process"]["memory"] == {"default": {"x": summary["confidence"]["x"], "y": [8, 8, 8, 8]}}
    assert summary["kpis"]["memory_count"] == 8 and summary["kpis"]["processes"] == 1
    # Feedback went to the policy's tool posteriors: a weave nobody rated uses the intent's tool.
    assert summary["kpis"]["bandit_feedback"] == 1.0 and summary["kpis"]["bandit_mean_reward"] == 1.0
    assert woven[0]["tool"] == "answer"
    assert summary["tool_posteriors"] == {"answer": {"answer": {"alpha": 2.0, "beta": 1.0, "mean": 0.6667, "sd": 0.2357}}}
    # Newest first in the table, with ids for the click-through.
    assert [row["id"] for row in summary["table"]] == [r["id"] for r in reversed(woven)]
    figs = build_figures(summary)
    for gid in GRAPHS:
        if gid != "routing-posterior":
            assert figs[gid]["data"], gid
    json.dumps(figs)  # what Dash sends must be JSON


async def test_feedback_events_and_routing_posteriors_when_present(woven: list[dict], tmp_path: Path) -> None:
    home = tmp_path / "other"
    log = JsonlLog(weave_log_path(home))
    for i, rec in enumerate(woven):
        rec = copy.deepcopy(rec)
        rec["routing"] = {"arm": ["vector", "graph"][i % 2], "strategy": "learned", "query_type": "multi_hop",
                          "posterior": {"vector": [4.0, 2.0], "graph": [2.0, 3.0 + i]}}
        log.append(rec)
    log.append({"id": "f" * 32, "query": "not a Spacetime: skipped", "created_at": time.time()})  # fields absent
    feedback = home / "state" / "feedback.jsonl"
    feedback.write_text(json.dumps({"spacetime_id": woven[1]["id"], "reward": 0.5, "timestamp": time.time()}) + "\n")
    summary, figs = refresh(home)
    assert summary["count"] == 4
    assert summary["arms_type"]["multi_hop"] == {"graph": 2, "vector": 2}
    post = summary["routing_posteriors"]["multi_hop"]
    assert post["graph"]["alpha"] == 2.0 and post["graph"]["beta"] == 6.0  # the latest decision's view
    assert figs["routing-posterior"]["data"]
    assert summary["kpis"]["feedback_weaves"] == 1 and summary["kpis"]["feedback_rate"] == 0.25
    assert summary["kpis"]["feedback_mean_reward"] == 0.5
    assert summary["table"][0]["id"] == woven[-1]["id"] and summary["table"][0]["status"] == "ok"


async def test_record_cache_reads_only_appended_lines_and_follows_rotation(woven: list[dict], tmp_path: Path) -> None:
    path = tmp_path / "state" / "weaves.jsonl"
    log = JsonlLog(path)
    cache = RecordCache(path, n=3)
    log.append(woven[0])
    assert [r.id for r in cache.rows()] == [woven[0]["id"]]
    with path.open("ab") as fh:
        fh.write(b'{"id": "partial')  # a line still being written is not read yet
    assert len(cache.rows()) == 1
    with path.open("ab") as fh:
        fh.write(b'-line", "query": "x"}\n')  # complete now, but not a Spacetime: skipped
    assert [r.id for r in cache.rows()] == [woven[0]["id"]]
    with path.open("ab") as fh:
        fh.write(b'not json at all\n[1, 2]\n{"no": "id"}\n')  # skipped, never fatal
    assert [r.id for r in cache.rows()] == [woven[0]["id"]]
    log.append(woven[1])
    log.max_bytes = path.stat().st_size + 10  # the next append rotates the log, as a full one does
    log.append(woven[2])
    assert path.with_suffix(".1.jsonl").exists()
    log.max_bytes = 2**30
    log.append(woven[3])
    # Read again from the new file, topped up from the rotated one.
    assert [r.id for r in cache.rows()] == [r["id"] for r in woven[1:]]


async def test_trace_view_shows_stages_passes_and_context(woven: list[dict]) -> None:
    research = woven[-1]
    texts = " ".join(_texts(trace_view(Spacetime.from_dict(research))))
    for name in LOOM_NAMES:
        assert name in texts
    assert research["query"] in texts
    assert "sim=" in texts  # score parts
    first = research["context"][0]
    assert "; ".join(first["paths"]) in texts
    assert "Click a query" in " ".join(_texts(trace_view(None)))


async def test_refresh_time_over_1000_records(woven: list[dict], tmp_path: Path) -> None:
    """Times a refresh over 1,000 records shaped by real weaves; reported, not asserted (machines vary)."""
    home = tmp_path / "big"
    log = JsonlLog(weave_log_path(home))
    t0 = time.time() - 3600
    for i in range(1000):
        rec = copy.deepcopy(woven[i % len(woven)])
        rec["id"] = f"{i:032x}"
        rec["created_at"] = t0 + 3.6 * i
        rec["routing"] = dict(rec["routing"], arm=["vector", "graph", "hybrid"][i % 3])
        log.append(rec)

    def median_ms(fn, k: int) -> float:
        times = []
        for _ in range(k):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000.0)
        return statistics.median(times)

    cache = RecordCache(weave_log_path(home))
    summary, figs = refresh(home, cache=cache)
    assert summary["count"] == 1000 and len(summary["table"]) == 100
    assert sum(sum(v) for v in summary["arms_time"]["arms"].values()) == 1000
    assert all(figs[g]["data"] for g in GRAPHS if g not in ("routing-posterior", "tool-posterior"))
    cold = median_ms(lambda: refresh(home), 3)
    warm = median_ms(lambda: refresh(home, cache=cache), 11)
    print(f"\ndashboard refresh over 1,000 records: median {warm:.1f} ms from the cache (only new lines parsed), "
          f"{cold:.1f} ms cold (every line parsed)")


async def test_learned_routing_feeds_posteriors_and_feedback_rate(home: Path, embedder) -> None:
    """With learned routing, decisions carry arm posteriors and feedback is logged naming the weave."""
    from HoloLoom import Document, HoloLoom, Settings
    from tests.conftest import CORPUS

    async with HoloLoom(settings=Settings(home=home, routing="learned", seed=3), embedder=embedder) as loom:
        await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS[:4]])
        first = await loom.weave("Who directed Maximum Overdrive?")
        await loom.weave("Where is Leland?")
        await loom.feedback(first.id, reward=0.75)
    assert any(e["spacetime_id"] == first.id and e["reward"] == 0.75 for e in load_feedback(home))
    summary, figs = refresh(home)
    assert summary["kpis"]["feedback_rate"] == 0.5 and summary["kpis"]["feedback_mean_reward"] == 0.75
    assert summary["routing_posteriors"] and figs["routing-posterior"]["data"]
    qtype = dict(first.routing)["query_type"]
    assert set(summary["routing_posteriors"][qtype]) == set(dict(first.routing)["posterior"])
    assert next(r for r in summary["table"] if r["id"] == first.id)["feedback"] == 0.75
