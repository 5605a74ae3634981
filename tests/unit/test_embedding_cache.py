"""The embedder's text cache: small batches are served text by text, corpus batches skip it.

The model is a counting stand-in (no weights load in unit tests); what is tested is
which texts reach it and that every row comes back in the caller's order.
"""

from __future__ import annotations

import numpy as np

from HoloLoom import SentenceTransformerEmbedder
from HoloLoom import embedding as embedding_module


class CountingModel:
    """Encodes a text as a fixed pseudo-random unit vector and remembers every text it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts, **_kwargs):
        self.seen.extend(texts)
        rows = [np.random.default_rng(sum(map(ord, t)) + len(t)).standard_normal(8) for t in texts]
        return np.asarray([r / np.linalg.norm(r) for r in rows], dtype=np.float32)


def _embedder(cache_size: int = 16) -> tuple[SentenceTransformerEmbedder, CountingModel]:
    model = CountingModel()
    emb = SentenceTransformerEmbedder(cache_size=cache_size)
    emb._dimension = 8
    emb._load = lambda: model  # the stand-in instead of the weights (the unit conftest forbids loading them)
    return emb, model


def test_small_batches_encode_only_the_texts_not_seen_before() -> None:
    emb, model = _embedder()
    first = emb.embed_sync(["travel", "trip", "travel"])
    second = emb.embed_sync(["trip", "journey", "travel"])
    assert model.seen == ["travel", "trip", "journey"]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(second[0], first[1])
    np.testing.assert_array_equal(second[2], first[0])
    assert second.dtype == np.float32 and second.shape == (3, 8)


def test_cached_rows_equal_fresh_encodings_and_callers_cannot_corrupt_them() -> None:
    emb, _ = _embedder()
    fresh = emb.embed_sync(["alpha", "beta"]).copy()
    emb.embed_sync(["alpha"])[0][:] = 0.0  # a caller scribbles on its result
    again = emb.embed_sync(["beta", "alpha"])
    np.testing.assert_array_equal(again, fresh[::-1])


def test_the_cache_is_bounded_and_forgets_the_least_recent() -> None:
    emb, model = _embedder(cache_size=2)
    emb.embed_sync(["a1"])
    emb.embed_sync(["b2"])
    emb.embed_sync(["a1"])  # a1 is now the most recent
    emb.embed_sync(["c3"])  # evicts b2
    model.seen.clear()
    emb.embed_sync(["a1", "c3", "b2"])
    assert model.seen == ["b2"]


def test_corpus_batches_skip_the_cache_and_keep_duplicates() -> None:
    emb, model = _embedder()
    texts = [f"note {i % 100}" for i in range(embedding_module._CACHED_BATCH + 1)]
    vectors = emb.embed_sync(texts)
    assert len(model.seen) == len(texts) and vectors.shape == (len(texts), 8)
    model.seen.clear()
    emb.embed_sync(["note 1"])
    assert model.seen == ["note 1"]  # nothing from the big batch was kept


def test_a_zero_cache_encodes_every_call() -> None:
    emb, model = _embedder(cache_size=0)
    emb.embed_sync(["same"])
    emb.embed_sync(["same"])
    assert model.seen == ["same", "same"]
