"""The API's endpoints: thin translations between HTTP bodies and the ``HoloLoom`` facade."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from ..errors import InvalidQueryError, NotFoundError, ValidationError
from .auth import Principal
from .errors import ApiError, error_body
from .settings import METRICS_GRANT
from .schemas import (
    AddRequest, AddResponse, DeleteResponse, FeedbackRequest, FeedbackResponse, Health, MemoryOut, Namespace,
    Readiness, RecallRequest, RecallResponse, ShardId, SpacetimeOut, Stats, WeaveRequest,
)

__all__ = ["router", "ERROR_RESPONSES"]


def _error_doc(description: str) -> dict[str, Any]:
    example = error_body(0, "ErrorType", "what went wrong")
    return {"description": description, "content": {"application/json": {"example": example}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error_doc("The body could not be parsed (not UTF-8 JSON)."),
    401: _error_doc("No token, or an unknown one."),
    403: _error_doc("The token does not grant this namespace."),
    413: _error_doc("The request body is too large."),
    422: _error_doc("Bad input (a ValidationError); nothing was written."),
    429: _error_doc("Too many requests for this token; see Retry-After."),
    503: _error_doc("A backend cannot be reached."),
}

router = APIRouter(responses=ERROR_RESPONSES)


async def principal(request: Request) -> Principal:
    """Authenticate the caller and count the request against its rate limit."""
    state = request.app.state
    who = state.tokens.principal_for(request.headers.get("authorization"))
    await state.rate_limiter.check(who.label)
    request.state.principal = who.label  # a fingerprint, safe to log
    return who


Caller = Annotated[Principal, Depends(principal)]
NamespaceQuery = Annotated[Optional[Namespace], Query(description="Defaults to the token's only namespace.")]


def _loom(request: Request) -> Any:
    return request.app.state.loom


def _check_query(request: Request, query: str) -> None:
    limit = request.app.state.settings.max_query_chars
    if len(query) > limit:
        raise InvalidQueryError(f"query has {len(query):,} characters; this server's limit is {limit:,}")


@router.get("/healthz", response_model=Health, tags=["health"], responses={})
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, tags=["health"],
            responses={503: {"model": Readiness, "description": "A configured backend does not answer."}})
async def readyz(request: Request) -> Response:
    """Readiness: every configured backend answers."""
    loom = _loom(request)
    health = await loom.store.health()
    ready = bool(health.get("ok"))
    body = {"status": "ready" if ready else "unavailable", "backend": str(health.get("backend", loom.store.name))}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.post("/v1/memories", response_model=AddResponse, tags=["memories"])
async def add_memories(body: AddRequest, request: Request, caller: Caller) -> dict[str, Any]:
    """Remember one or many texts; ids are derived from namespace and content (adding twice stores once)."""
    namespace = caller.namespace(body.namespace)
    limit = request.app.state.settings.max_texts
    if len(body.memories) > limit:
        raise ValidationError(f"{len(body.memories)} memories in one request; this server's limit is {limit}")
    docs = [m.model_dump(exclude_none=True) for m in body.memories]
    if body.metadata:
        for doc in docs:
            doc["metadata"] = {**body.metadata, **doc.get("metadata", {})}
    result = await _loom(request).add(docs, namespace=namespace)
    return {"namespace": namespace, "ids": result.ids, "added": result.added, "unchanged": result.unchanged}


@router.get("/v1/memories/{memory_id}", response_model=MemoryOut, tags=["memories"],
            responses={404: _error_doc("No such memory in this namespace.")})
async def get_memory(memory_id: Annotated[ShardId, Path()], request: Request, caller: Caller,
                     namespace: NamespaceQuery = None) -> dict[str, Any]:
    """One memory by id."""
    ns = caller.namespace(namespace)
    shard = await _loom(request).get(memory_id, namespace=ns)
    if shard is None:
        raise NotFoundError(f"no memory {memory_id!r} in namespace {ns!r}")
    return shard.to_dict()


@router.delete("/v1/memories/{memory_id}", response_model=DeleteResponse, tags=["memories"])
async def delete_memory(memory_id: Annotated[ShardId, Path()], request: Request, caller: Caller,
                        namespace: NamespaceQuery = None) -> dict[str, Any]:
    """Forget one memory; ``deleted`` is 0 when it did not exist."""
    ns = caller.namespace(namespace)
    return {"namespace": ns, "deleted": await _loom(request).delete([memory_id], namespace=ns)}


@router.delete("/v1/namespaces/{namespace}", response_model=DeleteResponse, tags=["memories"])
async def forget_namespace(namespace: Annotated[Namespace, Path()], request: Request, caller: Caller) -> dict[str, Any]:
    """Forget every memory of a namespace."""
    ns = caller.namespace(namespace)
    return {"namespace": ns, "deleted": await _loom(request).forget_namespace(ns)}


@router.post("/v1/recall", response_model=RecallResponse, tags=["retrieval"])
async def recall(body: RecallRequest, request: Request, caller: Caller) -> dict[str, Any]:
    """The memories that best answer a question, each saying which pass found it and why."""
    ns = caller.namespace(body.namespace)
    _check_query(request, body.query)
    items = await _loom(request).recall(
        body.query, namespace=ns, complexity=body.complexity or "FAST", limit=body.limit or 10,
        since=body.since, until=body.until, where=body.where,
    )
    return {"namespace": ns, "items": [item.to_dict() for item in items]}


@router.post("/v1/weave", response_model=SpacetimeOut, tags=["retrieval"])
async def weave(body: WeaveRequest, request: Request, caller: Caller) -> dict[str, Any]:
    """Run the nine-stage weave; returns the Spacetime (answer, context with provenance, stage timings)."""
    ns = caller.namespace(body.namespace)
    _check_query(request, body.query)
    spacetime = await _loom(request).weave(
        body.query, namespace=ns, complexity=body.complexity, tool=body.tool, since=body.since, until=body.until,
        where=body.where, limit=body.limit, budget_ms=body.budget_ms,
    )
    return spacetime.to_dict()


@router.post("/v1/feedback", response_model=FeedbackResponse, tags=["learning"],
             responses={404: _error_doc("No recent weave with this id in this namespace.")})
async def feedback(body: FeedbackRequest, request: Request, caller: Caller) -> dict[str, Any]:
    """Credit a weave (``reward`` 0..1 or ``useful``); teaches the tool chooser and the router."""
    ns = caller.namespace(body.namespace)
    return await _loom(request).feedback(body.spacetime_id, body.reward, useful=body.useful, namespace=ns)


@router.get("/v1/stats", response_model=Stats, tags=["health"])
async def stats(request: Request, caller: Caller) -> dict[str, Any]:
    """Memory counts of the namespaces this token may see, and backend health."""
    if caller.namespaces <= {METRICS_GRANT}:
        raise ApiError(403, "Forbidden", "this token may only read /metrics")
    loom = _loom(request)
    full = await loom.stats()
    visible = {ns: n for ns, n in full["namespaces"].items() if ns in caller.visible(list(full["namespaces"]))}
    health = {k: v for k, v in full["health"].items() if k not in ("path", "home")}
    return {"backend": full["backend"], "embedder": full["embedder"], "namespaces": visible,
            "shards": sum(visible.values()), "health": health}
