"""``hololoom bench scale`` end to end on a small corpus: the issue's JSON shape, the plot, the vector cache."""

from __future__ import annotations

import json

from HoloLoom.bench import _vector_cache, scale

RUN_KEYS = {"memories", "backend", "ingest_per_s", "embed_p50_ms", "levels", "ann_recall@10", "rss_mb", "reopen_s",
            "disk_mb"}


def test_scale_benchmark_json_plot_and_cache(tmp_path, monkeypatch, embedder) -> None:
    monkeypatch.setenv("HOLOLOOM_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_vector_cache, "CHUNK", 200)  # cache chunks of 200 texts: 2 for this corpus
    monkeypatch.setattr(scale, "RECALL_QUERIES", 20)
    out, plot = tmp_path / "scale.json", tmp_path / "plot" / "scale"
    payload = scale.run_and_report([300], backends=["embedded", "qdrant-server"], json_path=out,
                                   plot_path=plot, repeats=1)
    written = json.loads(out.read_text())
    assert written == payload
    assert [(r["backend"], r["memories"]) for r in written["runs"]] == [("embedded", 300), ("qdrant-server", 300)]
    for run in written["runs"]:
        assert RUN_KEYS <= set(run)
        assert set(run["levels"]) == {"LITE", "FAST", "FULL"}
        assert all(v["p50_ms"] > 0 and v["p95_ms"] >= v["p50_ms"] for v in run["levels"].values())
        assert run["ingest_per_s"] > 0 and run["rss_mb"] > 0 and run["disk_mb"] > 0 and run["reopen_s"] > 0
        assert 0.9 <= run["ann_recall@10"] <= 1.0  # tiny stores are searched exactly; Qdrant's HNSW too
    assert plot.with_suffix(".html").stat().st_size > 1000 and plot.with_suffix(".png").stat().st_size > 1000
    cached = sorted((tmp_path / "cache").glob("vectors-*.npy"))
    assert len(cached) == 2
    # A second run reads the cache instead of encoding.
    monkeypatch.setattr(embedder, "embed_sync", lambda texts: (_ for _ in ()).throw(AssertionError("encoded")))
    again = _vector_cache.cached_vectors(embedder, scale.make_corpus(400))
    assert again.shape == (400, 384)
