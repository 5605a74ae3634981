import threading

import numpy as np
import pytest

from HoloLoom import Embedder, SentenceTransformerEmbedder, ValidationError
from HoloLoom.embedding import MATRYOSHKA_SCALES, matryoshka


def test_default_model_loads_offline_and_is_384d(embedder: SentenceTransformerEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 384
    vecs = embedder.embed_sync(["a cat sat on the mat", "quantum chromodynamics"])
    assert vecs.shape == (2, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_embeddings_are_semantic(embedder: SentenceTransformerEmbedder) -> None:
    a, b, c = embedder.embed_sync(["a dog runs in the park", "a puppy plays on the grass", "tax law of Belgium"])
    assert a @ b > a @ c + 0.2


def test_shared_instance_is_loaded_once(embedder: SentenceTransformerEmbedder) -> None:
    assert SentenceTransformerEmbedder.shared() is embedder


async def test_embed_runs_off_the_event_loop(embedder: SentenceTransformerEmbedder) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = embedder.embed_sync

    def spy(texts):
        seen.append(threading.get_ident())
        return original(texts)

    embedder.embed_sync = spy  # type: ignore[method-assign]
    try:
        vec = await embedder.embed(["off the loop please"])
    finally:
        del embedder.embed_sync
    assert vec.shape == (1, 384)
    assert seen and seen[0] != loop_thread


@pytest.mark.parametrize("scale", MATRYOSHKA_SCALES)
def test_matryoshka_truncates_and_renormalises(embedder: SentenceTransformerEmbedder, scale: int) -> None:
    full = embedder.embed_sync(["Matryoshka dolls nest inside each other"])
    cut = matryoshka(full, scale)
    assert cut.shape == (1, scale)
    assert np.allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-5)
    expected = full[0, :scale] / np.linalg.norm(full[0, :scale])
    assert np.allclose(cut[0], expected, atol=1e-6)


def test_matryoshka_rejects_bad_scale() -> None:
    with pytest.raises(ValidationError):
        matryoshka(np.ones(384, dtype=np.float32), 500)
    with pytest.raises(ValidationError):
        matryoshka(np.ones(384, dtype=np.float32), 0)


def test_embed_rejects_a_bare_string(embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(ValidationError):
        embedder.embed_sync("not a list")  # type: ignore[arg-type]


def test_empty_batch(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.embed_sync([]).shape == (0, 384)
