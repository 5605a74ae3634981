"""Memory backends behind one base class (:class:`BaseStore`); ``create_store`` picks one from settings.

The weave path reads through the small :class:`MemoryStore` protocol; every backend
(embedded, Neo4j, Qdrant, hybrid, and :class:`HoloLoom.testing.FakeStore`) derives from
:class:`BaseStore`, which adds writes, administration and a lifecycle with defaults.
"""

from __future__ import annotations

from ..config import Settings
from ..errors import ConfigurationError
from .base import BaseStore, Hit, Link, MemoryStore, ShardRecord, shard_entity_keys
from .embedded import EmbeddedStore

__all__ = [
    "BaseStore",
    "EmbeddedStore",
    "Hit",
    "HybridStore",
    "HybridWriteError",
    "Link",
    "MemoryStore",
    "Neo4jStore",
    "QdrantStore",
    "ShardRecord",
    "create_store",
    "shard_entity_keys",
]

# The server backends load their drivers (slow imports, optional extras) only when used.
_LAZY = {
    "Neo4jStore": ".neo4j_store",
    "QdrantStore": ".qdrant_store",
    "HybridStore": ".hybrid",
    "HybridWriteError": ".hybrid",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_store(settings: Settings, *, dimension: int) -> BaseStore:
    """The backend ``settings.backend`` names, configured from ``settings``.

    ``neo4j`` needs ``neo4j_uri`` (``HOLOLOOM_NEO4J_URI``); ``qdrant`` uses ``qdrant_url``,
    else ``qdrant_path``, else local mode under ``<home>/qdrant``; ``hybrid`` needs both.
    The server backends are imported only when chosen, so their extras stay optional.
    Nothing connects here: each store connects on first use (or ``await store.open()``).

    Raises:
        ConfigurationError: an unknown backend or missing settings.
        MissingDependencyError: the backend's extra is not installed.
    """
    if settings.backend == "embedded":
        return EmbeddedStore(settings.embedded_path, dimension=dimension, vector_search=settings.vector_search)
    if settings.backend == "neo4j":
        from .neo4j_store import Neo4jStore

        return Neo4jStore.from_settings(settings, dimension=dimension)
    if settings.backend == "qdrant":
        from .qdrant_store import QdrantStore

        return QdrantStore.from_settings(settings, dimension=dimension)
    if settings.backend == "hybrid":
        from .hybrid import HybridStore

        return HybridStore.from_settings(settings, dimension=dimension)
    raise ConfigurationError(f"unknown backend {settings.backend!r}")
