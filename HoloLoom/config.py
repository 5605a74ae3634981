"""Settings from ``HOLOLOOM_*`` environment variables, read only when asked.

Nothing reads the environment at import time: ``Settings.from_env()`` is an explicit
call, so an application can build ``Settings(...)`` itself and tests stay hermetic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from platformdirs import user_data_dir

from .errors import ConfigurationError
from .types import validate_namespace

__all__ = ["BACKENDS", "ROUTINGS", "Settings", "default_home"]

BACKENDS = ("embedded", "neo4j", "qdrant", "hybrid")
#: "learned": stage 3 asks the Thompson-sampling RoutingOrchestrator; "fixed": the one
#: configured store with each level's own plan (reproducible; the quality benchmark uses it).
ROUTINGS = ("learned", "fixed")


def default_home() -> Path:
    """The per-user data directory (``~/.local/share/hololoom`` on Linux)."""
    return Path(user_data_dir("hololoom", appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything HoloLoom can be configured with.

    Each field maps to an environment variable ``HOLOLOOM_<FIELD NAME IN CAPITALS>``.
    """

    home: Path = None  # type: ignore[assignment]  # filled in __post_init__
    backend: str = "embedded"
    namespace: str = "default"
    model_path: str | None = None
    embed_batch_size: int = 64
    chunk_chars: int = 1200
    max_text_chars: int = 2_000_000
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = None
    neo4j_database: str | None = None
    qdrant_url: str | None = None
    qdrant_path: str | None = None
    qdrant_api_key: str | None = None
    qdrant_collection: str = "hololoom_shards"
    seed: int | None = None
    routing: str = "learned"

    def __post_init__(self) -> None:
        home = self.home if self.home is not None else default_home()
        object.__setattr__(self, "home", Path(home).expanduser())
        if self.backend not in BACKENDS:
            raise ConfigurationError(
                f"unknown backend {self.backend!r}: use one of {', '.join(BACKENDS)}"
            )
        validate_namespace(self.namespace)
        if self.routing not in ROUTINGS:
            raise ConfigurationError(f"unknown routing {self.routing!r}: use one of {', '.join(ROUTINGS)}")
        for name in ("embed_batch_size", "chunk_chars", "max_text_chars"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``HOLOLOOM_*`` variables; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"HOLOLOOM_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            if f.name in ("embed_batch_size", "chunk_chars", "max_text_chars", "seed"):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise ConfigurationError(
                        f"HOLOLOOM_{f.name.upper()} must be an integer, got {raw!r}"
                    ) from exc
            elif f.name == "home":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def embedded_path(self) -> Path:
        """Where the embedded store keeps its files."""
        return self.home / "embedded"
