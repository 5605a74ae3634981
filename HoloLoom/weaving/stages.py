"""The nine stages of a weave, each a small function over one :class:`~.context.WeaveContext`.

Each stage reads what earlier stages wrote, writes its own fields, and returns its
trace data (what it decided, how much it found; plain JSON values)::

    1 pattern    detect_pattern      read the query once (type, intent, entities, keywords) -> level -> card, budget
    2 temporal   resolve_time        the time window, from options or the query's own words -> search filter
    3 route      choose_route        the router picks arm, store and plan for the query type
    4 features   embed_features      the query's one embedding
    5 crawl      crawl_memory        MultipassCrawler over the route's store, within the budget
    6 fuse       fuse_context        dedup + diversity rerank + supersession -> the context
    7 converge   choose_tool         the policy's tool for the intent (or the caller's)
    8 execute    execute_tool        run it; a failing tool is reported, not raised
    9 spacetime  assemble            the confidence and the budget's warning

:data:`STAGES` lists them in order; :data:`RECOVERY` names what a stage does when its
store fails (the crawl fails over to another store once, when the router has one).
When the time budget is spent, the crawl starts no further pass, the rerank and the
tool choice take their cheap fallbacks, and the budget names what it cut.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from ..crawl import PassReport
from ..errors import HoloLoomError, StoreError
from ..types import SearchFilter
from .context import Budget, WeaveContext, WeaveServices
from .events import Stage
from .features import embed_query, read_query
from .fusion import fuse
from .patterns import detect_complexity
from .supersession import apply_supersession
from .temporal import prefer_window, resolve_window
from .tools import ToolContext, ToolResult

__all__ = [
    "RECOVERY", "STAGES", "assemble", "choose_route", "choose_tool", "crawl_memory", "detect_pattern",
    "embed_features", "execute_tool", "fail_over", "fuse_context", "resolve_time",
]

StageFn = Callable[[WeaveContext, WeaveServices], Awaitable[dict[str, Any]]]
BUILTIN_TOOLS = ("answer", "search", "summarize")


async def detect_pattern(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 1: the query's text features (computed once for the whole weave), its level and card."""
    req = w.request
    w.features = read_query(req.query, s.extractor, s.classifier)
    level = req.complexity or detect_complexity(req.query, query_type=w.features.query_type)
    card = s.cards[level]
    if req.budget_ms is not None:
        card = card.with_budget(float(req.budget_ms))
    w.card = card
    w.budget = Budget(s.clock, w.started + card.budget_ms / 1000.0)
    return {"complexity": level.value, "detected": req.complexity is None, "budget_ms": card.budget_ms,
            "passes": len(card.plan.passes), "tools": list(card.tools)}


async def resolve_time(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 2: the time window, and the search filter the crawl reads through."""
    req = w.request
    window = resolve_window(req.query, since=req.since, until=req.until,
                            now=req.now if req.now is not None else time.time())
    w.window = window
    w.search_filter = SearchFilter(namespace=req.namespace, since=window.since, until=window.until,
                                   where=dict(req.where))
    return {"since": window.since, "until": window.until, "source": window.source, "phrase": window.phrase}


async def choose_route(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 3: the arm (store and plan) for the query type stage 1 found."""
    decision = s.router.select(w.request.query, w.card.plan, query_type=w.features.query_type)
    w.route = decision
    return {"arm": decision.arm, "strategy": decision.strategy, "backend": decision.store.name,
            **{k: v for k, v in decision.info.items() if k in ("query_type", "explored", "posterior")}}


async def embed_features(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 4: the query's one embedding (the crawl and the tools reuse it)."""
    w.features = await embed_query(w.features, w.request.query, s.embedder)
    return w.features.summary()


async def crawl_memory(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 5: crawl the route's store within the budget.

    A time phrase in the query ("from April") may date the question's subject rather
    than the notes, so the best memories outside its window join at a discount (see
    :mod:`.temporal`): a second, unbounded crawl runs beside the windowed one.
    """
    req, route = w.request, w.route
    crawler = s.crawler_for(route.store)
    options: dict[str, Any] = {"plan": route.plan or w.card.plan, "query_vector": w.features.vector,
                               "entities": w.features.entities, "deadline": w.budget.deadline}
    windowed = crawler.crawl(req.query, w.search_filter, **options)
    everywhere = None
    if w.window.source == "query":
        unbounded = crawler.crawl(req.query, SearchFilter(namespace=req.namespace, where=dict(req.where)), **options)
        result, everywhere = await asyncio.gather(windowed, unbounded)
    else:
        result = await windowed
    data: dict[str, Any] = {"passes": [_pass_dict(p) for p in result.passes], "found": len(result.items),
                            "stopped_early": result.stopped_early}
    if everywhere is not None:
        if not result.items:
            w.warnings.append(f"no memories dated {w.window.phrase!r}; searched all dates")
        result = replace(result, items=prefer_window(result.items, everywhere.items, window=w.window),
                         stopped_early=result.stopped_early or everywhere.stopped_early)
        data.update(found=len(result.items), window_relaxed=not data["found"],
                    outside_window=sum("outside-window" in i.paths for i in result.items))
    if result.stopped_early:
        w.budget.cut.append("crawl")
    w.crawl = result
    return data


async def fail_over(w: WeaveContext, s: WeaveServices, exc: StoreError) -> dict[str, Any] | None:
    """The route's store failed: tell the router (traffic moves away) and pick another store, if any.

    Returns the retry's start data, or None when there is nothing to fail over to.
    """
    failed = w.route
    await asyncio.to_thread(s.router.record, failed, success=False)
    alternative = s.router.fallback(failed, w.card.plan)
    if alternative is None:
        return None
    w.warnings.append(f"backend {failed.store.name!r} (arm {failed.arm}) failed: {exc}; "
                      f"answered from arm {alternative.arm}")
    w.route = alternative
    return {"retry_of": alternative.info.get("fallback_from")}


async def fuse_context(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 6: dedup and rerank (skipped when the budget is spent), then supersession (never skipped)."""
    items = w.crawl.items
    limit = w.request.limit or w.card.context_limit
    if w.budget.spent:
        w.budget.cut.append("fuse")
        fused, info = list(items[:limit]), {"skipped": True, "out": min(len(items), limit)}
    else:
        fused, info = fuse(items, limit=limit)
    fused, updates = apply_supersession(fused)  # cheap, and an outdated fact must not lead
    if updates:
        info["superseded"] = [u.to_dict() for u in updates]
    w.context = fused
    return info


async def choose_tool(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 7: the caller's tool, or the policy's for the query's intent (the card's first when out of time)."""
    card, forced = w.card, w.request.tool
    if forced is not None:
        w.tool = forced
        return {"tool": forced, "forced": True}
    if w.budget.spent:
        w.budget.cut.append("converge")
        w.tool = card.tools[0]
        return {"tool": w.tool, "skipped": True}
    candidates = [t for t in card.tools if t in s.tools]
    candidates += [t for t in s.tools.names() if t not in card.tools and t not in BUILTIN_TOOLS]
    chosen, info = s.chooser.choose(w.features.intent, candidates)
    w.tool, w.tool_learned = chosen, True
    return {"tool": chosen, "learned": True, **info}


async def execute_tool(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 8: run the tool on the context; a tool that raises is reported in the Spacetime's errors."""
    f = w.features
    ctx = ToolContext(query=w.request.query, complexity=w.card.complexity, items=tuple(w.context),
                      keywords=f.keywords, entities=f.entities, namespace=w.request.namespace,
                      extras={"embedder": s.embedder, "query_vector": f.vector,
                              "item_vectors": await _context_vectors(w)})
    try:
        result = await s.tools.get(w.tool)(ctx)
        if not isinstance(result, ToolResult):
            raise TypeError(f"tool {w.tool!r} returned {type(result).__name__}, not ToolResult")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a tool's failure is reported, not raised
        if w.tool_learned:
            await asyncio.to_thread(s.chooser.outcome, w.tool, ok=False)
        message = f"{type(exc).__name__}: {exc}"
        w.errors.append(f"tool {w.tool!r} failed: {message}")
        w.tool_result = ToolResult("", 0.0)
        return {"tool": w.tool, "failed": True, "error": message}
    w.tool_result = result
    return {"tool": w.tool, "confidence": result.confidence, "citations": len(result.citations)}


async def _context_vectors(w: WeaveContext) -> Mapping[str, Any]:
    """The stored vectors of the context's memories (tools reuse them instead of encoding again)."""
    if not w.context:
        return {}
    try:
        return await w.route.store.get_vectors([i.id for i in w.context], namespace=w.request.namespace)
    except HoloLoomError:  # only an optimisation: the tool encodes what it needs
        return {}


async def assemble(w: WeaveContext, s: WeaveServices) -> dict[str, Any]:
    """Stage 9: the weave's confidence (see :mod:`.spacetime`) and the budget's warning."""
    context, result = w.context, w.tool_result
    retrieval = max(0.0, min(1.0, context[0].score_parts.get("sim", 0.0) / 0.6)) if context else 0.0
    if result.data.get("calibrated"):  # already P(right), retrieval included (see weaving/answer.py)
        retrieval = 1.0
    w.confidence = round(max(0.0, min(1.0, result.confidence)) * retrieval, 4)
    if w.budget.cut:
        w.warnings.append(f"time budget of {w.card.budget_ms:.0f} ms spent: cut {', '.join(w.budget.cut)}")
    return {"confidence": w.confidence, "context": len(context), "degraded": w.degraded}


#: The pipeline, in order.
STAGES: tuple[tuple[Stage, StageFn], ...] = (
    (Stage.PATTERN, detect_pattern),
    (Stage.TEMPORAL, resolve_time),
    (Stage.ROUTE, choose_route),
    (Stage.FEATURES, embed_features),
    (Stage.CRAWL, crawl_memory),
    (Stage.FUSE, fuse_context),
    (Stage.CONVERGE, choose_tool),
    (Stage.EXECUTE, execute_tool),
    (Stage.SPACETIME, assemble),
)

#: What a stage does when its store fails: returns the retry's start data, or None to give up.
RECOVERY: Mapping[Stage, Callable[[WeaveContext, WeaveServices, StoreError], Awaitable[dict[str, Any] | None]]] = {
    Stage.CRAWL: fail_over,
}


def _pass_dict(p: PassReport) -> dict[str, Any]:
    return {"number": p.number, "new": p.new, "kept": p.kept, "dropped_by_threshold": p.dropped_by_threshold,
            "elapsed_ms": round(p.elapsed_ms, 3), "paths": dict(p.paths)}
