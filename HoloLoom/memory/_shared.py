"""What the server backends (Neo4j, Qdrant, hybrid) share, so they agree with the embedded store.

- input checks (vector shapes, metadata filter keys and values), done before any I/O;
- the metadata-filter semantics of :class:`~HoloLoom.memory.embedded.EmbeddedStore`,
  for backends that verify candidates in Python;
- the assembly of graph links (hub cap, rarest entity first), for backends that fetch
  the graph and expand it client-side;
- the tokenizer behind BM25 keyword search where the engine has none;
- a tenacity retry loop with one policy for every engine.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from ..errors import MissingDependencyError, ValidationError
from ..extraction import STOPWORDS
from ..types import SearchFilter
from .base import Link, ShardRecord

T = TypeVar("T")

#: Metadata keys that filters may name (the embedded store's rule, kept for every engine).
META_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_WORD = re.compile(r"\w+", re.UNICODE)
_INT64 = (-(2**63), 2**63 - 1)


def check_records(records: Sequence[ShardRecord], dimension: int) -> list[ShardRecord]:
    """Refuse malformed vectors before anything is written; keep the last of duplicate ids."""
    latest: dict[tuple[str, str], ShardRecord] = {}
    for rec in records:
        vec = np.asarray(rec.vector)
        if vec.shape != (dimension,):
            raise ValidationError(f"vector of shard {rec.shard.id} has shape {vec.shape}, expected ({dimension},)")
        if not np.all(np.isfinite(vec)):
            raise ValidationError(f"vector of shard {rec.shard.id} holds NaN or infinity")
        key = (rec.shard.namespace, rec.shard.id)
        latest.pop(key, None)  # re-insert so order follows the last occurrence
        latest[key] = rec
    return list(latest.values())


def check_query_vector(vector: np.ndarray, dimension: int) -> np.ndarray:
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vec.shape != (dimension,):
        raise ValidationError(f"query vector has shape {vec.shape}, expected ({dimension},)")
    return vec


def where_items(flt: SearchFilter) -> list[tuple[str, list[Any]]]:
    """The filter's metadata conditions as (key, allowed values), validated."""
    items = []
    for key, wanted in flt.where.items():
        if not META_KEY.match(key):
            raise ValidationError(f"metadata filter key {key!r} must match [A-Za-z0-9_-]+")
        values = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        for v in values:
            if v is not None and not isinstance(v, (str, int, float, bool)):
                raise ValidationError(
                    f"metadata filter values must be str, int, float, bool or None, not {type(v).__name__}"
                )
        items.append((key, values))
    return items


def _value_equals(stored: Any, wanted: Any) -> bool:
    # JSON typing as the embedded store sees it: true is not 1, 1 is 1.0, "1" is not 1.
    if wanted is None:
        return stored is None
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return isinstance(wanted, bool) and isinstance(stored, bool) and stored is wanted
    if isinstance(wanted, (int, float)):
        return isinstance(stored, (int, float)) and stored == wanted
    return isinstance(stored, str) and stored == wanted


def metadata_matches(metadata: Mapping[str, Any], items: Sequence[tuple[str, list[Any]]]) -> bool:
    """Whether stored metadata passes every condition (a missing key passes none)."""
    for key, values in items:
        if key not in metadata:
            return False
        if not any(_value_equals(metadata[key], v) for v in values):
            return False
    return True


def time_matches(occurred_at: float, flt: SearchFilter) -> bool:
    if flt.since is not None and occurred_at < flt.since:
        return False
    return flt.until is None or occurred_at <= flt.until


def flat_metadata(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Scalar metadata values that filters can match, and the keys whose value is null.

    Only keys a filter may name are kept; nested values and integers beyond 64 bits
    are never equal to a filter value, so they need not be indexed.
    """
    scalars: dict[str, Any] = {}
    nulls: list[str] = []
    for key, value in metadata.items():
        if not META_KEY.match(key):
            continue
        if value is None:
            nulls.append(key)
        elif isinstance(value, bool) or isinstance(value, (str, float)):
            scalars[key] = value
        elif isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
            scalars[key] = value
    return scalars, nulls


def assemble_links(
    sources: Iterable[tuple[str, str, str]],
    degrees: Mapping[str, int],
    targets: Mapping[str, list[tuple[str, str]]],
    *,
    max_degree: int,
    limit: int,
    exclude: set[str],
) -> list[Link]:
    """Links from (source, entity, relation) through each entity to its targets.

    Entities linked to more than ``max_degree`` shards of the namespace are skipped;
    the rarest entities come first, as in the embedded store, and ties are broken by
    source (in the order given), entity and target, so the cut at ``limit`` is the same
    on every engine.
    """
    links: list[Link] = []
    position: dict[str, int] = {}
    for source, entity, source_relation in sources:
        position.setdefault(source, len(position))
        degree = degrees.get(entity, 0)
        if not 0 < degree <= max_degree:
            continue
        for target, target_relation in targets.get(entity, ()):
            if target == source or target in exclude:
                continue
            links.append(Link(source, target, entity, source_relation, target_relation, degree))
    links.sort(key=lambda link: (link.degree, position[link.source], link.entity, link.target))
    return links[:limit]


def fold(text: str) -> str:
    """Case- and accent-folded text, as SQLite's unicode61 tokenizer compares words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Every word of ``text``, folded (document side of BM25)."""
    return _WORD.findall(fold(text))


def query_terms(text: str, *, limit: int = 64) -> list[str]:
    """The distinct non-stopword words of a query, in order (query side of BM25)."""
    out: list[str] = []
    for w in words(text):
        if w not in STOPWORDS and w not in out:
            out.append(w)
    return out[:limit]


def bm25_weights(text: str, *, avg_len: float, k1: float = 1.2, b: float = 0.75) -> dict[str, float]:
    """The BM25 term-frequency part of each non-stopword term of a document.

    An engine multiplies it by the term's IDF at query time (Qdrant's IDF modifier), so
    the sum over the query's terms is the document's BM25 score.
    """
    tokens = words(text)
    length = len(tokens)
    counts: dict[str, int] = {}
    for t in tokens:
        if t not in STOPWORDS:
            counts[t] = counts.get(t, 0) + 1
    norm = k1 * (1.0 - b + b * length / avg_len)
    return {t: tf * (k1 + 1.0) / (tf + norm) for t, tf in counts.items()}


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    retryable: Callable[[BaseException], bool],
    seconds: float,
) -> T:
    """Run ``call``, retrying errors ``retryable`` accepts with jittered exponential backoff.

    Gives up after ``seconds`` (and re-raises the last error); ``seconds=0`` tries once.
    """
    try:
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential, wait_random
    except ImportError as exc:  # pragma: no cover - both extras depend on tenacity
        raise MissingDependencyError("retrying server backends", "neo4j") from exc
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(max(0.0, seconds)),
        wait=wait_exponential(multiplier=0.05, max=max(0.05, min(2.0, seconds / 4))) + wait_random(0, 0.05),
        retry=retry_if_exception(retryable),
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
