"""The one exception hierarchy HoloLoom raises.

Every failure a caller can meet is a :class:`HoloLoomError`; backend and
library errors (SQLite, Neo4j, Qdrant, torch) are mapped to the most specific
subclass and chained with ``raise ... from exc`` so the original stays visible. Bad
input is refused by ``HoloLoom.validation`` (one layer for the facade, the CLI and the
HTTP API), whose messages name the argument and the rule.

    HoloLoomError
    ├── ConfigurationError          settings that cannot work (bad backend name, bad path)
    │   └── MissingDependencyError  an optional extra is not installed; names the pip command
    ├── ValidationError             bad input, refused before anything is written (also a ValueError)
    │   ├── InvalidNamespaceError
    │   ├── InvalidComplexityError
    │   ├── InvalidQueryError
    │   └── InvalidFeedbackError
    ├── NotFoundError               an id that does not exist (also a KeyError)
    ├── EmbeddingError              the model could not be loaded or failed to encode
    ├── StoreError                  a memory backend failed
    │   ├── StoreClosedError        used after close()
    │   ├── StoreUnavailableError   cannot reach the engine (names the URI, never the password)
    │   └── PartialWriteError       a write reached some stores but not all, after retries
    └── ToolError                   a weaving tool failed (reported in the Spacetime, not raised by weave)
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "EmbeddingError",
    "HoloLoomError",
    "InvalidComplexityError",
    "InvalidFeedbackError",
    "InvalidNamespaceError",
    "InvalidQueryError",
    "MissingDependencyError",
    "NotFoundError",
    "PartialWriteError",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailableError",
    "ToolError",
    "ValidationError",
]


class HoloLoomError(Exception):
    """Base class of every error HoloLoom raises on purpose."""


class ConfigurationError(HoloLoomError):
    """Settings that cannot work: an unknown backend, an unusable directory."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional extra is needed; the message names what to install."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs the optional '{extra}' extra: pip install 'HoloLoom[{extra}]'"
        )
        self.extra = extra


class ValidationError(HoloLoomError, ValueError):
    """Bad input, refused before anything was written."""


class InvalidNamespaceError(ValidationError):
    """A namespace that is empty, too long, or holds characters outside [A-Za-z0-9_.:@-]."""


class InvalidComplexityError(ValidationError):
    """A complexity level other than LITE, FAST, FULL or RESEARCH."""


class InvalidQueryError(ValidationError):
    """An empty, non-string or oversized query."""


class InvalidFeedbackError(ValidationError):
    """Feedback with a malformed id or a reward outside [0, 1]."""


class NotFoundError(HoloLoomError, KeyError):
    """An id (shard, spacetime) that does not exist in this namespace."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "not found"


class EmbeddingError(HoloLoomError):
    """The embedding model could not be loaded or failed to encode."""


class StoreError(HoloLoomError):
    """A memory backend failed."""


class StoreClosedError(StoreError):
    """The store was used after close()."""


class StoreUnavailableError(StoreError):
    """The engine cannot be reached; the message names where, never the credentials."""


class PartialWriteError(StoreError):
    """A write reached some stores but not all, even after retries.

    ``written`` and ``failed`` name the stores on each side so nothing is silently lost.
    """

    def __init__(self, message: str, *, written: list[str], failed: list[str]) -> None:
        super().__init__(message)
        self.written = written
        self.failed = failed


class ToolError(HoloLoomError):
    """A weaving tool failed; weave() reports it in the Spacetime instead of raising."""
