"""The backend benchmark runs end to end on a small N and writes the agreed JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from HoloLoom.bench import backends as bench

DATA = Path(bench.DEFAULT_DATA)


@pytest.mark.skipif(not (DATA / "corpus.jsonl").exists(), reason=f"no benchmark data at {DATA}")
def test_backend_benchmark_json(tmp_path, monkeypatch, embedder) -> None:
    monkeypatch.setenv("HOLOLOOM_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bench, "SEARCHES", 5)
    monkeypatch.setattr(bench, "NEIGHBOR_CALLS", 5)
    monkeypatch.setattr(bench, "WARMUP", 1)
    monkeypatch.setattr(bench, "WARMUP_RECORDS", 10)
    out = tmp_path / "backends.json"
    payload = bench.run_and_report(40, json_path=out, backends=["embedded", "qdrant"], data=DATA)
    written = json.loads(out.read_text())
    assert written == payload and written["memories"] == 40
    assert set(written["backends"]) == {"embedded", "qdrant"}
    for figures in written["backends"].values():
        assert set(figures) == {"add_per_s", "search_p50_ms", "neighbors_p50_ms"}
        assert all(isinstance(v, float) and v > 0 for v in figures.values())
    # The vectors were cached: a second build embeds nothing.
    records, queries = bench.build_memories(40, DATA)
    assert len(records) == 40 and len({r.shard.id for r in records}) == 40 and queries.shape[1] == 384
