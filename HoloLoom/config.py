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

from .credentials import SecretStr, as_secret, redact_uri
from .errors import ConfigurationError, HoloLoomError
from .home import HomeLayout
from .types import validate_namespace
from .validation import Count, Seed, SettingText, check

__all__ = ["BACKENDS", "ROUTINGS", "Settings", "VECTOR_SEARCHES", "default_home"]

BACKENDS = ("embedded", "neo4j", "qdrant", "hybrid")
#: "learned": stage 3 asks the learning policy (the level's own plan until explicit
#: feedback shows another arm clearly better); "fixed": the one configured store with each
#: level's own plan, never learning an arm (the quality benchmark's level rows use it).
ROUTINGS = ("learned", "fixed")
#: How the embedded store searches vectors: "auto" (exact below 20,000 memories, HNSW with an
#: exact rerank above), "exact" (never build the graph), "ann" (always use it).
VECTOR_SEARCHES = ("auto", "exact", "ann")


_FIELD_KINDS = {
    "backend": SettingText, "model_path": SettingText, "embed_batch_size": Count, "chunk_chars": Count,
    "max_text_chars": Count, "neo4j_uri": SettingText, "neo4j_user": SettingText, "neo4j_database": SettingText,
    "qdrant_url": SettingText, "qdrant_path": SettingText, "qdrant_collection": SettingText, "seed": Seed,
    "routing": SettingText, "qdrant_shards": Count, "qdrant_replication": Count,
}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def default_home() -> Path:
    """The per-user data directory (``~/.local/share/hololoom`` on Linux)."""
    return Path(user_data_dir("hololoom", appauthor=False))


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Everything HoloLoom can be configured with.

    Each field maps to an environment variable ``HOLOLOOM_<FIELD NAME IN CAPITALS>``.
    ``neo4j_password`` and ``qdrant_api_key`` are held as ``SecretStr`` (give a plain
    string; read it with ``get_secret_value()``), and ``repr``/``str`` show the URIs
    without their userinfo, so printing or logging settings never shows a credential.
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
    neo4j_password: SecretStr | None = None
    neo4j_database: str | None = None
    qdrant_url: str | None = None
    qdrant_path: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "hololoom_shards"
    qdrant_shards: int | None = None
    qdrant_replication: int | None = None
    seed: int | None = None
    routing: str = "learned"
    vector_search: str = "auto"
    #: Metadata keys whose values are entities a memory is about (who said it).
    entity_keys: tuple[str, ...] = ("speaker",)
    #: Metadata keys that together name a conversation thread (see HoloLoom.threads).
    thread_keys: tuple[str, ...] = ("conversation", "session")

    def __post_init__(self) -> None:
        if isinstance(self.home, str) and not self.home.strip():
            raise ConfigurationError("home is empty: give a data directory, or leave it unset for the default")
        home = self.home if self.home is not None else default_home()
        if not isinstance(home, (str, Path)) or "\x00" in str(home) or not _encodable(str(home)):
            raise ConfigurationError("home must be a path without NUL characters or lone surrogates")
        object.__setattr__(self, "home", Path(home).expanduser())
        for name in ("neo4j_password", "qdrant_api_key"):
            try:
                object.__setattr__(self, name, as_secret(getattr(self, name)))
            except TypeError as exc:
                raise ConfigurationError(f"{name}: {exc}") from None
        for name, kind in _FIELD_KINDS.items():
            value = getattr(self, name)
            if value is not None:
                try:
                    check(name, value, kind, show_value=False)  # never echoed: a URI may carry a password
                except HoloLoomError as exc:
                    raise ConfigurationError(str(exc)) from None
        if self.backend not in BACKENDS:
            raise ConfigurationError(
                f"unknown backend {self.backend!r}: use one of {', '.join(BACKENDS)}"
            )
        validate_namespace(self.namespace)
        if self.routing not in ROUTINGS:
            raise ConfigurationError(f"unknown routing {self.routing!r}: use one of {', '.join(ROUTINGS)}")
        if self.vector_search not in VECTOR_SEARCHES:
            raise ConfigurationError(
                f"unknown vector_search {self.vector_search!r}: use one of {', '.join(VECTOR_SEARCHES)}"
            )
        for name in ("entity_keys", "thread_keys"):
            keys = getattr(self, name)
            if isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys):
                raise ConfigurationError(f"{name} must be a tuple of metadata key names")
            object.__setattr__(self, name, tuple(keys))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``HOLOLOOM_*`` variables; keyword overrides (not None) win.

        An empty variable counts as unset (compose files pass ``${VAR}`` through empty),
        except ``HOLOLOOM_HOME``: an empty data directory is a mistake, never the default.

        Raises:
            ConfigurationError: a value of the wrong kind, or ``HOLOLOOM_HOME=""``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("HOLOLOOM_HOME") is not None and not env["HOLOLOOM_HOME"].strip() and overrides.get("home") is None:
            raise ConfigurationError("HOLOLOOM_HOME is set but empty: set it to a data directory, or unset it "
                                     "for the default (~/.local/share/hololoom on Linux)")
        for f in fields(cls):
            raw = env.get(f"HOLOLOOM_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            if f.name in ("embed_batch_size", "chunk_chars", "max_text_chars", "seed", "qdrant_shards",
                          "qdrant_replication"):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise ConfigurationError(
                        f"HOLOLOOM_{f.name.upper()} must be an integer, got {raw!r}"
                    ) from exc
            elif f.name == "home":
                values[f.name] = Path(raw)
            elif f.name in ("entity_keys", "thread_keys"):
                values[f.name] = tuple(part.strip() for part in raw.split(",") if part.strip())
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("neo4j_uri", "qdrant_url") and isinstance(value, str):
                value = redact_uri(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def layout(self) -> "HomeLayout":
        """Every path under :attr:`home` (one place names them: :class:`~HoloLoom.home.HomeLayout`)."""
        return HomeLayout(self.home)

    @property
    def embedded_path(self) -> Path:
        """Where the embedded store keeps its files."""
        return self.layout.embedded
