"""Which HNSW library the embedded store uses, by measurement: ``python -m benchmarks.ann_candidates``.

    pip install usearch hnswlib faiss-cpu      # candidates that are not HoloLoom dependencies
    python -m benchmarks.ann_candidates --memories 100000 [--json FILE]

Every candidate indexes the same real all-MiniLM-L6-v2 vectors (the scale benchmark's
cached corpus, ``hololoom bench scale`` fills the cache) with the same HNSW shape (M=16,
efConstruction=128, ef=64) and answers 200 held-out corpus vectors; each runs in its own
process so its memory is its own. Reported: build seconds (both cores), single-query p50,
recall@10 against an exact scan (after the exact float32 rerank of its top 26, which is
what the store does), RSS growth, save and load seconds, file size. A candidate that is
not installed is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CANDIDATES = ("usearch-i8", "usearch-f16", "hnswlib-f32", "faiss-sq8")
M, EF_ADD, EF, K, RERANK = 16, 128, 64, 10, 26


def _vectors(memories: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    from HoloLoom import SentenceTransformerEmbedder
    from HoloLoom.bench._vector_cache import CHUNK, cached_vectors
    from HoloLoom.bench.latency import make_corpus

    total = -(-(memories + queries) // CHUNK) * CHUNK
    vectors = cached_vectors(SentenceTransformerEmbedder.shared(), make_corpus(total))
    return np.ascontiguousarray(vectors[:memories]), np.ascontiguousarray(vectors[-queries:])


def _build(name: str, data: np.ndarray):
    keys = np.arange(len(data))
    if name.startswith("usearch"):
        from usearch.index import Index

        index = Index(ndim=data.shape[1], metric="cos", dtype=name.split("-")[1], connectivity=M,
                      expansion_add=EF_ADD, expansion_search=EF)
        index.add(keys, data, threads=0)
        return index
    if name == "hnswlib-f32":
        import hnswlib

        index = hnswlib.Index(space="ip", dim=data.shape[1])
        index.init_index(max_elements=len(data), M=M, ef_construction=EF_ADD)
        index.add_items(data, keys, num_threads=os.cpu_count() or 1)
        index.set_ef(EF)
        return index
    import faiss

    index = faiss.IndexHNSWSQ(data.shape[1], faiss.ScalarQuantizer.QT_8bit, M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_ADD
    index.train(data)
    index.add(data)
    index.hnsw.efSearch = EF
    return index


def _search(name: str, index, query: np.ndarray, count: int) -> np.ndarray:
    if name.startswith("usearch"):
        index.expansion_search = max(EF, 2 * count)
        return np.asarray(index.search(query, count, threads=1).keys, dtype=np.int64)
    if name == "hnswlib-f32":
        index.set_ef(max(EF, 2 * count))
        return index.knn_query(query[None, :], k=count, num_threads=1)[0][0].astype(np.int64)
    index.hnsw.efSearch = max(EF, 2 * count)
    return index.search(query[None, :], count)[1][0].astype(np.int64)


def _save_load(name: str, index, folder: Path) -> tuple[float, float, float]:
    path = folder / "index.bin"
    started = time.perf_counter()
    if name.startswith("usearch"):
        index.save(str(path))
    elif name == "hnswlib-f32":
        index.save_index(str(path))
    else:
        import faiss

        faiss.write_index(index, str(path))
    saved = time.perf_counter() - started
    started = time.perf_counter()
    if name.startswith("usearch"):
        index.load(str(path))
    elif name == "hnswlib-f32":
        index.load_index(str(path))
    else:
        import faiss

        faiss.read_index(str(path))
    return saved, time.perf_counter() - started, path.stat().st_size / 2**20


def _one(name: str, memories: int, queries: int) -> dict[str, float]:
    import psutil

    data, held_out = _vectors(memories, queries)
    rss = psutil.Process().memory_info().rss
    started = time.perf_counter()
    index = _build(name, data)
    build_s = time.perf_counter() - started
    grew = (psutil.Process().memory_info().rss - rss) / 2**20
    times, overlaps = [], []
    for q in held_out:
        t0 = time.perf_counter()
        found = _search(name, index, q, RERANK)
        found = found[found >= 0]
        top = found[np.argsort(-(data[found] @ q))[:K]]  # the store's exact rerank
        times.append((time.perf_counter() - t0) * 1000)
        truth = np.argpartition(-(data @ q), K)[:K]
        overlaps.append(len(set(top.tolist()) & set(truth.tolist())) / K)
    with tempfile.TemporaryDirectory() as tmp:
        save_s, load_s, size_mb = _save_load(name, index, Path(tmp))
    return {"build_s": round(build_s, 1), "query_p50_ms": round(float(np.median(times)), 3),
            "recall@10": round(float(np.mean(overlaps)), 4), "rss_growth_mb": round(grew, 1),
            "save_s": round(save_s, 2), "load_s": round(load_s, 2), "file_mb": round(size_mb, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--candidate", action="append", choices=CANDIDATES)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.memories, args.queries)), flush=True)
        return 0
    results: dict[str, object] = {"memories": args.memories, "load_avg": os.getloadavg()[0]}
    for name in args.candidate or CANDIDATES:
        done = subprocess.run([sys.executable, "-m", "benchmarks.ann_candidates", "--one", name, "--memories",
                               str(args.memories), "--queries", str(args.queries)], capture_output=True, text=True)
        results[name] = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                         else {"skipped": (done.stderr.strip().splitlines() or ["failed"])[-1]})
        print(name, results[name], flush=True)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
