"""Learned routing behind weave's stage-3 seam (``HoloLoom.weaving.routing_seam.Router``).

:class:`LearnedWeaveRouter` answers ``select(query, complexity)`` with a ``RouteDecision``
whose arm is a retrieval strategy over a store (or another configured backend), and feeds
``record(...)`` and ``feedback(weave_id, reward)`` back into a :class:`RoutingOrchestrator`.

Arms built by :meth:`LearnedWeaveRouter.for_store`:

==================  ============================================================
``vector``          the default store, one dense pass (no lexical or entity seeds)
``graph``           the default store, dense + query-entity seeds, then entity-graph
                    hops only (no lexical seeds, no vector expansion)
``hybrid``          the default store, the level's own plan (dense + lexical + entity
                    seeds, graph and vector expansion)
``backend:NAME``    another configured store with the level's own plan
==================  ============================================================
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..crawl import DEFAULT_PLANS, CrawlPlan
from ..errors import ValidationError
from ..types import Complexity
from .integration import RoutingDecision, RoutingOrchestrator

if TYPE_CHECKING:
    from ..memory.base import MemoryStore
    from ..weaving.routing_seam import RouteDecision

__all__ = ["LearnedWeaveRouter", "STRATEGY_ARMS", "plan_for_arm"]

#: The retrieval strategies every store supports.
STRATEGY_ARMS: tuple[str, ...] = ("vector", "graph", "hybrid")


def plan_for_arm(arm: str, plan: CrawlPlan) -> CrawlPlan:
    """The crawl plan of strategy ``arm`` at the level of ``plan`` (see the module docstring).

    Any arm that is not ``vector`` or ``graph`` uses ``plan`` unchanged.
    """
    if arm == "vector":
        return dataclasses.replace(plan, passes=plan.passes[-1:], lexical=False, query_entities=False)
    if arm == "graph":
        return dataclasses.replace(plan, lexical=False, vector_expansion=0)
    return plan


class LearnedWeaveRouter:
    """Implements weave's Router protocol with a :class:`RoutingOrchestrator`.

    Args:
        orchestrator: the learning router; its arms must be the keys of ``targets``.
        targets: ``{arm: (store, plan_fn)}``; ``plan_fn(level_plan)`` returns the plan to
            crawl with, or None for the level's own plan.
        plans: each level's plan (default: the crawler's ``DEFAULT_PLANS``; pass the pattern
            cards' plans when they differ).
        remember: weaves remembered for feedback by weave id.
    """

    def __init__(
        self,
        orchestrator: RoutingOrchestrator,
        targets: Mapping[str, tuple["MemoryStore", Callable[[CrawlPlan], CrawlPlan | None]]],
        *,
        plans: Mapping[Complexity, CrawlPlan] | None = None,
        remember: int = 10_000,
    ) -> None:
        missing = [a for a in orchestrator.arms if a not in targets]
        if missing:
            raise ValidationError(f"no store/plan for arm(s) {', '.join(missing)}")
        self.orchestrator = orchestrator
        self.targets = dict(targets)
        self.plans = dict(plans or DEFAULT_PLANS)
        self._by_weave: OrderedDict[str, RoutingDecision] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    @classmethod
    def for_store(
        cls,
        store: "MemoryStore",
        *,
        backends: Mapping[str, "MemoryStore"] | None = None,
        store_dir: str | Path | None = None,
        seed: int | None = None,
        enable_ab_test: bool = False,
        plans: Mapping[Complexity, CrawlPlan] | None = None,
        **orchestrator_options: Any,
    ) -> "LearnedWeaveRouter":
        """vector/graph/hybrid over ``store``, plus ``backend:NAME`` for each extra backend.

        Args:
            backends: ``{name: store}`` of other configured stores (e.g. ``{"neo4j": ...}``).
            store_dir: where routing state and metrics persist (e.g. ``home / "routing"``).
            orchestrator_options: passed to :class:`RoutingOrchestrator`.
        """
        targets: dict[str, tuple[Any, Callable[[CrawlPlan], CrawlPlan | None]]] = {
            arm: (store, (lambda plan, arm=arm: plan_for_arm(arm, plan) if arm != "hybrid" else None))
            for arm in STRATEGY_ARMS
        }
        for name, backend in (backends or {}).items():
            targets[f"backend:{name}"] = (backend, lambda plan: None)
        orchestrator = RoutingOrchestrator(list(targets), enable_ab_test=enable_ab_test, store_dir=store_dir,
                                           seed=seed, **orchestrator_options)
        return cls(orchestrator, targets, plans=plans)

    def select(self, query: str, complexity: Complexity | str) -> "RouteDecision":
        """Stage 3: the arm for ``query``; ``info`` carries the decision for the Spacetime."""
        from ..weaving.routing_seam import RouteDecision

        level = Complexity.parse(complexity)
        decision = self.orchestrator.select_backend(query, level)
        store, plan_fn = self.targets[decision.arm]
        base = self.plans.get(level) or DEFAULT_PLANS[level]
        info = decision.to_dict()
        info["variant"] = info.pop("ab_variant")
        return RouteDecision(arm=decision.arm, strategy=decision.strategy, store=store, plan=plan_fn(base), info=info)

    def fallback(self, failed: "RouteDecision", complexity: Complexity | str) -> "RouteDecision | None":
        """The best-ranked other arm on a *different* store, to retry a weave whose store failed.

        Arms over the same store would fail the same way, so they are passed over.
        """
        from ..weaving.routing_seam import RouteDecision

        level = Complexity.parse(complexity)
        for arm in failed.info.get("fallbacks") or ():
            target = self.targets.get(arm)
            if target is None or target[0] is failed.store:
                continue
            store, plan_fn = target
            info = {**dict(failed.info), "arm": arm, "strategy": "fallback", "fallback_from": failed.arm}
            return RouteDecision(arm=arm, strategy="fallback", store=store,
                                 plan=plan_fn(self.plans.get(level) or DEFAULT_PLANS[level]), info=info)
        return None

    def _decision(self, route: "RouteDecision") -> RoutingDecision:
        info = dict(route.info)
        info.setdefault("ab_variant", info.get("variant"))
        info.setdefault("arm", route.arm)
        info.setdefault("strategy", route.strategy)
        return RoutingDecision.from_dict(info)

    def record(self, decision: "RouteDecision", *, weave_id: str, latency_ms: float, confidence: float,
               relevance: float, success: bool, budget_ms: float, **_: Any) -> None:
        """Every weave's implicit outcome (a backend error is ``success=False``)."""
        routing = self._decision(decision)
        self.orchestrator.record_outcome(
            routing, latency_ms=latency_ms, confidence=max(0.0, min(1.0, confidence)),
            relevance=max(0.0, min(1.0, relevance)), success=success, budget_ms=budget_ms, spacetime_id=weave_id,
        )
        with self._lock:
            self._by_weave[weave_id] = routing
            while len(self._by_weave) > self._remember:
                self._by_weave.popitem(last=False)

    def feedback(self, weave_id: str, reward: float, routing: Mapping[str, Any] | None = None) -> None:
        """Explicit feedback replaces the weave's implicit reward.

        A weave no longer remembered (restart) is found through ``routing``, the
        Spacetime's routing record; without it the feedback does not reach the router.
        """
        with self._lock:
            decision = self._by_weave.get(weave_id)
        if decision is None and routing is not None:
            info = dict(routing)
            info.setdefault("ab_variant", info.get("variant"))
            decision = RoutingDecision.from_dict(info)
        if decision is None:
            return
        self.orchestrator.record_feedback(decision, reward, spacetime_id=weave_id)

    def stats(self, **kwargs: Any) -> dict[str, Any]:
        return self.orchestrator.stats(**kwargs)

    def close(self) -> None:
        self.orchestrator.close()
