"""HoloLoom.testing: the doubles users' tests (and ours) stand on, and the loom built from them.

FakeStore's semantics are checked by the contract suite (tests/contract), beside the real
backends; here: HashEmbedder's promises, and the documented ``HoloLoom(store=FakeStore(),
embedder=HashEmbedder())`` path end to end, with no model and no files but the home.
"""

from __future__ import annotations

import numpy as np
import pytest

from HoloLoom import ConfigurationError, Document, Embedder, HoloLoom, SearchFilter, Settings, StoreClosedError
from HoloLoom.memory import BaseStore, MemoryStore
from HoloLoom.testing import FakeStore, HashEmbedder

from tests.conftest import CORPUS


async def test_hash_embedder_is_a_deterministic_unit_length_embedder() -> None:
    emb = HashEmbedder()
    assert isinstance(emb, Embedder) and emb.dimension == 384 and emb.name == "hash-trigram-384"
    texts = ["Maximum Overdrive was filmed in Leland", "", "the of and", "Ünïcödé Café 漢字"]
    vectors = await emb.embed(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(vectors, HashEmbedder().embed_sync(texts))  # same in every instance
    np.testing.assert_array_equal(vectors[1], vectors[2])  # no words: one fixed vector
    many = await emb.embed(texts * 40)  # a large batch is embedded off the event loop, alike
    np.testing.assert_array_equal(many, np.tile(vectors, (40, 1)))
    assert HashEmbedder(96).embed_sync(["x"]).shape == (1, 96)
    with pytest.raises(ValueError):
        HashEmbedder(0)


def test_hash_embedder_puts_texts_sharing_words_near() -> None:
    film, refilm, tax = HashEmbedder().embed_sync([
        "Maximum Overdrive is a horror film directed by Stephen King",
        "Which horror film did Stephen King direct?",
        "Belgian tax law and its exemptions",
    ])
    assert film @ refilm > 0.3 > abs(film @ tax)
    plural, singular = HashEmbedder().embed_sync(["films", "film"])  # shared trigrams: near, not equal
    assert 0.5 < plural @ singular < 1.0


async def test_a_loom_over_the_doubles_adds_recalls_and_weaves(tmp_path) -> None:
    store = FakeStore()
    assert isinstance(store, BaseStore) and isinstance(store, MemoryStore)
    settings = Settings(home=tmp_path, routing="fixed")
    async with HoloLoom(settings=settings, store=store, embedder=HashEmbedder()) as loom:
        added = await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS])
        assert len(added.ids) == len(CORPUS) and await store.count("default") == len(CORPUS)
        hits = await loom.recall("Where was Maximum Overdrive filmed?", complexity="FULL", limit=3)
        assert hits[0].shard.metadata["title"] == "Maximum Overdrive"
        # the graph pass reaches Leland through the entity the film's text names
        bridge = await loom.recall("Which county is Leland, North Carolina in?", complexity="FULL", limit=5)
        assert "Leland, North Carolina" in [h.shard.metadata["title"] for h in bridge]
        spacetime = await loom.weave("Who directed Maximum Overdrive?", complexity="FAST")
        assert len(spacetime.stages) == 9 and not spacetime.errors
        assert "Maximum Overdrive" in [item.shard.metadata["title"] for item in spacetime.context]
    with pytest.raises(StoreClosedError):  # the loom closed the store it was given
        await store.vector_search(np.ones(384, dtype=np.float32) / np.sqrt(384), SearchFilter("default"), limit=1)


def test_a_store_outside_the_seam_is_refused(tmp_path) -> None:
    class Duck:  # quacks like a store but does not derive from BaseStore
        name = "duck"

    with pytest.raises(ConfigurationError, match="BaseStore"):
        HoloLoom(tmp_path, store=Duck(), embedder=HashEmbedder())  # type: ignore[arg-type]
