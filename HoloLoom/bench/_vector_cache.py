"""Benchmark vectors computed once and kept on disk, so a million memories are encoded once.

Encoding a million short texts with MiniLM takes the better part of an hour on two
cores, so the scale and backend benchmarks keep the vectors of their (deterministic)
corpora under ``$HOLOLOOM_BENCH_CACHE``, or the user cache directory
(``~/.cache/hololoom/bench`` on Linux). The texts are cut into chunks of
:data:`CHUNK` and each chunk is stored as ``vectors-<model>-<digest>.npy``, where the
digest hashes the model name and the chunk's texts (``HOLOLOOM_BENCH_CHUNK`` sets the
chunk size): a changed corpus or model never
reuses a stale file, and a corpus that is a prefix of a bigger one (the scale corpus at
10k and 100k is the start of the one at 1M) reuses the bigger one's chunks. Delete the
directory to start over.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CHUNK", "CachedEmbedder", "RecordingEmbedder", "cache_dir", "cached_vectors", "store_vectors"]

#: Texts per cached file; ``HOLOLOOM_BENCH_CHUNK`` overrides it (a different size keys new
#: files, so runs that must share vectors use the same one).
CHUNK = int(os.environ.get("HOLOLOOM_BENCH_CHUNK") or 50_000)


def cache_dir() -> Path:
    """Where benchmark vectors are cached (``HOLOLOOM_BENCH_CACHE`` overrides)."""
    override = os.environ.get("HOLOLOOM_BENCH_CACHE")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("hololoom", appauthor=False)) / "bench"


def _chunk_path(model: str, texts: Sequence[str]) -> Path:
    digest = hashlib.sha256("\x1e".join([model, *texts]).encode("utf-8")).hexdigest()[:20]
    safe_model = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model)
    return cache_dir() / f"vectors-{safe_model}-{digest}.npy"


def cached_vectors(embedder: Any, texts: Sequence[str], *, say: Callable[[str], None] = lambda _m: None,
                   chunk: int | None = None) -> np.ndarray:
    """The embeddings of ``texts`` (float32, one row per text), from the cache where present.

    Missing chunks are encoded with ``embedder.embed_sync`` and written before the next
    one starts, so an interrupted run resumes where it stopped. Cached chunks are opened
    memory-mapped; the result is one array in memory.
    """
    chunk = chunk or CHUNK
    parts: list[np.ndarray] = []
    for start in range(0, len(texts), chunk):
        part = list(texts[start : start + chunk])
        path = _chunk_path(embedder.name, part)
        if path.exists():
            parts.append(np.load(path, mmap_mode="r"))
            continue
        say(f"encoding texts {start:,}-{start + len(part):,} of {len(texts):,} (cached in {path.parent})")
        vectors = np.ascontiguousarray(embedder.embed_sync(part), dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        parts.append(vectors)
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def store_vectors(model: str, texts: Sequence[str], vectors: np.ndarray, *, chunk: int | None = None) -> int:
    """Cache the whole chunks of vectors computed elsewhere (the latency benchmark's ingest);
    returns how many chunks were written."""
    chunk = chunk or CHUNK
    written = 0
    for start in range(0, len(texts) - chunk + 1, chunk):
        path = _chunk_path(model, texts[start : start + chunk])
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, np.ascontiguousarray(vectors[start : start + chunk], dtype=np.float32))
            tmp.replace(path)
            written += 1
    return written


class RecordingEmbedder:
    """The real model, remembering what it encoded, so a benchmark that must encode anyway
    (the latency benchmark measures real ingest) leaves its vectors in the cache."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.seen: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def dimension(self) -> int:
        return self._model.dimension

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.embed_sync(texts)
        if len(texts) > 1:  # corpus batches, not single queries
            self.seen.update(zip(texts, vectors))
        return vectors

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import asyncio

        return await asyncio.to_thread(self.embed_sync, texts)


class CachedEmbedder:
    """An Embedder that answers known texts from precomputed vectors, the rest from the model.

    Used by the scale benchmark so ``add()`` runs the whole write path (validation,
    chunking, entity extraction, id derivation, store writes) without re-encoding a corpus
    whose vectors are cached; queries are still encoded by the real model.
    """

    def __init__(self, model: Any, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._model = model
        self._row = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors
        self.misses = 0

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self._row.get(t) for t in texts]
        if any(r is None for r in rows):
            self.misses += sum(r is None for r in rows)
            return self._model.embed_sync(texts)
        return self._vectors[np.asarray(rows, dtype=np.int64)]

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import asyncio

        return await asyncio.to_thread(self.embed_sync, texts)
