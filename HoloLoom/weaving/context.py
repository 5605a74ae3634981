"""What one weave carries from stage to stage, and what the stages use.

A :class:`WeaveRequest` is the caller's question and options, checked and frozen before
any stage runs. A :class:`WeaveContext` starts from it and is filled in as the stages
run, each writing its own fields once (the values it writes are frozen records:
:class:`~.features.QueryFeatures`, :class:`~.patterns.PatternCard`,
:class:`~.routing_seam.RouteDecision`, ...). :class:`WeaveServices` is what the stages
call: the cards, the router, the embedder, the crawlers, the tools and the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..types import Complexity, ScoredShard, SearchFilter
from .events import Stage

if TYPE_CHECKING:
    from ..crawl import CrawlResult, MultipassCrawler
    from ..embedding import Embedder
    from ..extraction import EntityExtractor
    from ..memory.base import MemoryStore
    from .convergence import ToolChooser
    from .features import QueryFeatures
    from .patterns import PatternCard
    from .query_types import QueryClassifier
    from .routing_seam import RouteDecision, Router
    from .spacetime import StageRecord
    from .temporal import TimeWindow
    from .tools import ToolRegistry, ToolResult

__all__ = ["Budget", "WeaveContext", "WeaveRequest", "WeaveServices"]


@dataclass(frozen=True, slots=True)
class WeaveRequest:
    """The caller's question and options (already validated)."""

    query: str
    namespace: str
    complexity: Complexity | None = None  # forced level; None: detected
    since: float | None = None
    until: float | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    tool: str | None = None  # forced tool
    limit: int | None = None
    budget_ms: float | None = None
    now: float | None = None  # what "last week" counts from (None: the wall clock)


@dataclass(slots=True)
class Budget:
    """The card's time budget, counted from the start of the weave; ``cut`` names what it cut short."""

    clock: Callable[[], float]
    deadline: float
    cut: list[str] = field(default_factory=list)

    @property
    def spent(self) -> bool:
        return self.clock() >= self.deadline


@dataclass(frozen=True, slots=True)
class WeaveServices:
    """What the stages call. The orchestrator builds one; a stage's unit test builds its own."""

    cards: Mapping[Complexity, "PatternCard"]
    router: "Router"
    embedder: "Embedder"
    extractor: "EntityExtractor"
    tools: "ToolRegistry"
    chooser: "ToolChooser"
    crawler_for: Callable[["MemoryStore"], "MultipassCrawler"]
    clock: Callable[[], float]
    classifier: "QueryClassifier | None" = None


@dataclass(slots=True)
class WeaveContext:
    """One weave in flight: the request, then what each stage found, in stage order.

    Attributes:
        request: the question and options.
        weave_id: the Spacetime's id.
        started: ``clock()`` when the weave started (after the one-time warm-up).
        started_wall: UTC epoch seconds of the same moment.
        features: query type, intent, entities, keywords (stage 1), its vector (stage 4).
        card: the level's PatternCard (stage 1); ``budget``: its time budget.
        window: the time window (stage 2); ``search_filter``: the namespace, window and ``where``.
        route: the arm, store and plan (stage 3).
        crawl: the crawl's items and pass reports (stage 5).
        context: the fused items that reach the tool (stage 6).
        tool, tool_learned: the tool, and whether the policy chose it (stage 7).
        tool_result: what the tool returned (stage 8).
        confidence: the weave's confidence (stage 9).
        stages: each stage's record: its timing and data (the trace).
    """

    request: WeaveRequest
    weave_id: str
    started: float
    started_wall: float
    features: "QueryFeatures | None" = None
    card: "PatternCard | None" = None
    budget: Budget | None = None
    window: "TimeWindow | None" = None
    search_filter: SearchFilter | None = None
    route: "RouteDecision | None" = None
    crawl: "CrawlResult | None" = None
    context: list[ScoredShard] = field(default_factory=list)
    tool: str | None = None
    tool_learned: bool = False
    tool_result: "ToolResult | None" = None
    confidence: float = 0.0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stages: list["StageRecord"] = field(default_factory=list)

    @property
    def degraded(self) -> bool:
        return bool((self.budget is not None and self.budget.cut) or self.errors)

    def timing(self, stage: Stage) -> float:
        """Milliseconds the stage took (its last run), 0.0 if it has not run."""
        return next((r.duration_ms for r in reversed(self.stages) if r.stage is stage), 0.0)
