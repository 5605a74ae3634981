"""The API's request and response bodies (pydantic), which are also its OpenAPI schema.

Bounds here are the contract a client can read: integers fit in 53 bits, floats are
finite, strings are bounded, and metadata holds JSON scalars only, so whatever passes
validation every backend can store.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "AddRequest", "AddResponse", "DeleteResponse", "FeedbackRequest", "FeedbackResponse", "Health", "MemoryIn", "MemoryOut",
    "RecallItem", "RecallRequest", "RecallResponse", "Readiness", "SpacetimeOut", "Stats", "WeaveRequest",
]

NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
MAX_QUERY_CHARS = 10_000
MAX_TEXT_CHARS = 200_000

Namespace = Annotated[str, StringConstraints(pattern=NAMESPACE_PATTERN)]
SafeInt = Annotated[int, Field(ge=-(2**53), le=2**53)]
SafeFloat = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Scalar = Union[Annotated[str, StringConstraints(max_length=10_000)], bool, SafeInt, SafeFloat, None]
MetaKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Metadata = Annotated[dict[MetaKey, Scalar], Field(max_length=64)]
# Epoch seconds within years 1..9999, or an ISO-8601 date/datetime.
Instant = Union[Annotated[float, Field(allow_inf_nan=False, ge=-62135596800, le=253402300799)],
                Annotated[str, StringConstraints(min_length=4, max_length=64)]]
Complexity = Literal["LITE", "FAST", "FULL", "RESEARCH"]
Query = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS)]
ShardId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f/]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryIn(_Strict):
    """One memory to add: text plus optional title, metadata, time, entities and id."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
    title: Optional[Annotated[str, StringConstraints(max_length=500)]] = None
    metadata: Optional[Metadata] = None
    occurred_at: Optional[Instant] = None
    entities: Optional[Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=200)]],
                                 Field(max_length=100)]] = None
    id: Optional[ShardId] = None


class AddRequest(_Strict):
    namespace: Optional[Namespace] = None
    memories: Annotated[list[MemoryIn], Field(min_length=1)]
    metadata: Optional[Metadata] = Field(None, description="Metadata merged into every memory (its own keys win).")


class AddResponse(BaseModel):
    namespace: str
    ids: list[str]
    added: int
    unchanged: int


class MemoryOut(BaseModel):
    id: str
    namespace: str
    text: str
    metadata: dict[str, Any]
    entities: list[str]
    about: list[str]
    motifs: list[str]
    created_at: float
    occurred_at: float


class DeleteResponse(BaseModel):
    namespace: str
    deleted: int


class _Retrieval(_Strict):
    namespace: Optional[Namespace] = None
    query: Query
    complexity: Optional[Complexity] = None
    since: Optional[Instant] = None
    until: Optional[Instant] = None
    where: Optional[Metadata] = Field(None, description="Metadata equalities every result must meet.")
    limit: Optional[Annotated[int, Field(ge=1, le=100)]] = None


class RecallRequest(_Retrieval):
    """Retrieval only: the memories that answer ``query``, with how each was found."""


class RecallItem(BaseModel):
    shard: MemoryOut
    score: float
    found_in_pass: int
    paths: list[str]
    score_parts: dict[str, float]


class RecallResponse(BaseModel):
    namespace: str
    items: list[RecallItem]


class WeaveRequest(_Retrieval):
    """The whole nine-stage weave; the answer is a Spacetime."""

    tool: Optional[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = None
    budget_ms: Optional[Annotated[float, Field(gt=0, le=600_000, allow_inf_nan=False)]] = None


class SpacetimeOut(BaseModel):
    """A weave's result and its timed provenance (``Spacetime.to_dict()``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    query: str
    namespace: str
    complexity: str
    backend: str
    strategy: str
    tool: str
    response: str
    confidence: float
    context: list[RecallItem]
    stages: list[dict[str, Any]]
    created_at: float
    duration_ms: float
    citations: list[str]
    warnings: list[str]
    errors: list[str]
    degraded: bool
    routing: dict[str, Any]
    tool_output: dict[str, Any]


class FeedbackRequest(_Strict):
    """Exactly one of ``reward`` (0..1) or ``useful``."""

    namespace: Optional[Namespace] = None
    spacetime_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    reward: Optional[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = None
    useful: Optional[bool] = None


class FeedbackResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    tool: str
    reward: float


class Stats(BaseModel):
    backend: str
    embedder: str
    namespaces: dict[str, int]
    shards: int
    health: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    backend: str
