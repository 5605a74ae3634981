"""Stage 3's seam: who decides which backend and strategy serve a query.

The orchestrator asks a :class:`Router` for a :class:`RouteDecision` and reports the
outcome back. :class:`FixedRouter` always answers with the one configured store and the
card's own crawl plan; :class:`~HoloLoom.routing.LearnedWeaveRouter` (the default) plugs in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..crawl import CrawlPlan
from ..memory.base import MemoryStore

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
    def select(self, query: str, plan: CrawlPlan, *, query_type: str | None = None) -> RouteDecision:
        """The arm for ``query`` at the level whose plan is ``plan`` (``query_type``: as stage 1 read it)."""
        ...

    def fallback(self, failed: RouteDecision, plan: CrawlPlan) -> RouteDecision | None:
        """Another store to retry a weave whose store raised, or None."""
        ...

    def record(self, decision: RouteDecision, *, success: bool) -> None:
        """Whether the arm could serve the weave (an error is ``success=False``): availability only."""
        ...

    def feedback(self, routing: Mapping[str, Any], reward: float, *, replaces: float | None = None) -> None:
        """Explicit feedback on the weave whose Spacetime routing record is ``routing``."""
        ...


class FixedRouter:
    """One backend, the card's plan: what ``HOLOLOOM_ROUTING=fixed`` serves."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def select(self, query: str, plan: CrawlPlan, *, query_type: str | None = None) -> RouteDecision:
        return RouteDecision(arm=self.store.name, strategy="fixed", store=self.store)

    def fallback(self, failed: RouteDecision, plan: CrawlPlan) -> RouteDecision | None:
        return None

    def record(self, decision: RouteDecision, *, success: bool) -> None:
        return None

    def feedback(self, routing: Mapping[str, Any], reward: float, *, replaces: float | None = None) -> None:
        return None
