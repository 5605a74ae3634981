"""HoloLoom's data model: what is stored, what is asked, what is found.

Everything here is a frozen dataclass or an enum, so records can be shared
between coroutines and cached without defensive copies.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .errors import InvalidComplexityError, InvalidNamespaceError, ValidationError

__all__ = [
    "Complexity",
    "Document",
    "MemoryShard",
    "ScoredShard",
    "SearchFilter",
    "to_timestamp",
    "validate_namespace",
]

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def validate_namespace(namespace: object) -> str:
    """Return ``namespace`` if it is a usable tenant name, else raise InvalidNamespaceError.

    Namespaces end up in file names, Cypher parameters and Qdrant payloads, so they
    are kept to a conservative alphabet rather than escaped differently everywhere.
    """
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise InvalidNamespaceError(
            f"invalid namespace {namespace!r}: use 1-128 characters from [A-Za-z0-9_.:@-], "
            "starting with a letter or digit"
        )
    return namespace


def to_timestamp(value: object, *, name: str = "time") -> float | None:
    """Convert a datetime, an ISO-8601 string or epoch seconds to epoch seconds (UTC).

    Naive datetimes are taken as UTC, so the same input means the same instant on
    every machine.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a datetime, an ISO-8601 string or epoch seconds")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValidationError(f"{name} must be finite, got {value!r}")
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValidationError(f"{name} {value!r} is not an ISO-8601 date or datetime") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    raise ValidationError(
        f"{name} must be a datetime, an ISO-8601 string or epoch seconds, not {type(value).__name__}"
    )


class Complexity(str, enum.Enum):
    """How hard a question is, which decides how much retrieval work it gets."""

    LITE = "LITE"
    FAST = "FAST"
    FULL = "FULL"
    RESEARCH = "RESEARCH"

    @classmethod
    def parse(cls, value: "Complexity | str") -> "Complexity":
        """Accept a Complexity or its name in any case; raise InvalidComplexityError otherwise."""
        if isinstance(value, Complexity):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        names = ", ".join(c.value for c in cls)
        raise InvalidComplexityError(f"unknown complexity {value!r}: use one of {names}")

    @property
    def rank(self) -> int:
        return list(Complexity).index(self)


@dataclass(frozen=True, slots=True)
class Document:
    """One piece of user text to remember, with what is known about it.

    Attributes:
        text: the content, stored byte-for-byte.
        metadata: JSON-serialisable key/values, filterable at search time.
        id: an explicit id; by default one is derived from namespace and content.
        title: what the text is about (a page title, a file name); becomes an "about" entity.
        entities: entities the caller already knows; added to the extracted ones.
        occurred_at: when the remembered event happened (defaults to ingestion time).
    """

    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    title: str | None = None
    entities: tuple[str, ...] | None = None
    occurred_at: float | datetime | str | None = None


@dataclass(frozen=True, slots=True)
class MemoryShard:
    """One stored memory: a chunk of text with its entities and timestamps.

    Attributes:
        id: stable id; derived from namespace + content unless the caller gave one.
        namespace: the tenant it belongs to; every read is scoped to one namespace.
        text: the stored text, exactly as given.
        metadata: caller metadata (plus ``title``/``document_id``/``chunk_index`` when known).
        entities: entity names mentioned in the text (display form).
        about: entity names the shard is *about* (its title), used for graph hops.
        motifs: salient keywords of the text.
        created_at: when it was stored (epoch seconds, UTC).
        occurred_at: when the remembered event happened (epoch seconds, UTC).
    """

    id: str
    namespace: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    entities: tuple[str, ...] = ()
    about: tuple[str, ...] = ()
    motifs: tuple[str, ...] = ()
    created_at: float = 0.0
    occurred_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "text": self.text,
            "metadata": dict(self.metadata),
            "entities": list(self.entities),
            "about": list(self.about),
            "motifs": list(self.motifs),
            "created_at": self.created_at,
            "occurred_at": self.occurred_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MemoryShard":
        return cls(
            id=data["id"],
            namespace=data["namespace"],
            text=data["text"],
            metadata=dict(data.get("metadata") or {}),
            entities=tuple(data.get("entities") or ()),
            about=tuple(data.get("about") or ()),
            motifs=tuple(data.get("motifs") or ()),
            created_at=float(data.get("created_at") or 0.0),
            occurred_at=float(data.get("occurred_at") or 0.0),
        )

    @property
    def title(self) -> str | None:
        title = self.metadata.get("title")
        return title if isinstance(title, str) else None


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a read may see: one namespace, an optional time window, metadata equalities.

    ``since``/``until`` bound ``occurred_at`` (inclusive). ``where`` maps metadata keys to
    a required value (or a list of allowed values).
    """

    namespace: str
    since: float | None = None
    until: float | None = None
    where: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValidationError("since must not be later than until")
        for key in self.where:
            if not isinstance(key, str) or not key:
                raise ValidationError("metadata filter keys must be non-empty strings")

    def matches(self, shard: MemoryShard) -> bool:
        """The reference semantics every backend must reproduce."""
        if shard.namespace != self.namespace:
            return False
        if self.since is not None and shard.occurred_at < self.since:
            return False
        if self.until is not None and shard.occurred_at > self.until:
            return False
        for key, wanted in self.where.items():
            value = shard.metadata.get(key)
            if isinstance(wanted, (list, tuple, set, frozenset)):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class ScoredShard:
    """A retrieved memory and how it was found.

    Attributes:
        shard: the memory.
        score: the composite score it was ranked by (higher is better).
        found_in_pass: the crawl pass (1-based) that first reached it.
        paths: every route that reached it, e.g. ``"vector"``, ``"lexical"``,
            ``"entity:Stephen King"``, ``"about:Maximum Overdrive<-<id>"``, ``"vector-neighbour<-<id>"``.
        score_parts: the terms of the composite score (similarity, lexical, graph, paths, recency).
    """

    shard: MemoryShard
    score: float
    found_in_pass: int = 1
    paths: tuple[str, ...] = ()
    score_parts: Mapping[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.shard.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "shard": self.shard.to_dict(),
            "score": self.score,
            "found_in_pass": self.found_in_pass,
            "paths": list(self.paths),
            "score_parts": dict(self.score_parts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ScoredShard":
        return cls(
            shard=MemoryShard.from_dict(data["shard"]),
            score=float(data["score"]),
            found_in_pass=int(data.get("found_in_pass", 1)),
            paths=tuple(data.get("paths") or ()),
            score_parts={k: float(v) for k, v in (data.get("score_parts") or {}).items()},
        )
