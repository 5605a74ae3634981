"""Memory backends behind one protocol; ``create_store`` picks one from settings."""

from __future__ import annotations

from ..config import Settings
from ..errors import ConfigurationError
from .base import Hit, Link, MemoryStore, ShardRecord, shard_entity_keys
from .embedded import EmbeddedStore

__all__ = ["EmbeddedStore", "Hit", "Link", "MemoryStore", "ShardRecord", "create_store", "shard_entity_keys"]


def create_store(settings: Settings, *, dimension: int) -> MemoryStore:
    """The backend ``settings.backend`` names, configured from ``settings``."""
    if settings.backend == "embedded":
        return EmbeddedStore(settings.embedded_path, dimension=dimension)
    raise ConfigurationError(f"backend {settings.backend!r} is not available in this build")
