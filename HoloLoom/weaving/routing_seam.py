"""Stage 3's seam: who decides which backend and strategy serve a query.

The orchestrator asks a :class:`Router` for a :class:`RouteDecision` and reports the
outcome back. The default, :class:`FixedRouter`, always answers with the one configured
store and the card's own crawl plan; the learned ``RoutingOrchestrator`` plugs in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..crawl import CrawlPlan
from ..memory.base import MemoryStore
from ..types import Complexity

__all__ = ["FixedRouter", "RouteDecision", "Router"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which arm serves the query: the store to read, an optional plan override, and why."""

    arm: str
    strategy: str
    store: MemoryStore
    plan: CrawlPlan | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


class Router(Protocol):
    def select(self, query: str, complexity: Complexity) -> RouteDecision: ...

    def record(self, decision: RouteDecision, *, weave_id: str, latency_ms: float, confidence: float,
               relevance: float, success: bool, budget_ms: float) -> None: ...

    def feedback(self, weave_id: str, reward: float, routing: Mapping[str, Any] | None = None) -> None:
        """Explicit feedback; ``routing`` is the Spacetime's routing record (for weaves from before a restart)."""
        ...


class FixedRouter:
    """One backend, the card's plan: the router before anything is learned."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def select(self, query: str, complexity: Complexity) -> RouteDecision:
        return RouteDecision(arm=self.store.name, strategy="fixed", store=self.store)

    def record(self, decision: RouteDecision, **outcome: Any) -> None:
        return None

    def feedback(self, weave_id: str, reward: float, routing: Mapping[str, Any] | None = None) -> None:
        return None
