"""Stage 3 with the learning policy: which arm serves a query, and what each weave teaches.

:class:`LearnedWeaveRouter` classifies the query (its query type is the context), asks the
:class:`~.policy.Policy` (space ``arm``) for an arm and returns the store and crawl plan
to use. Every weave reports whether its arm could serve (availability); only explicit
feedback teaches quality.

==================  ============================================================
``hybrid``          the level's own plan on the store: the baseline, served until
                    feedback shows another arm clearly better for a query type
``graph``           dense + query-entity seeds, then entity-graph hops only (no
                    lexical seeds, no vector expansion)
``vector``          one dense pass (no lexical or entity seeds)
``backend:NAME``    the level's own plan on another store you keep in step (library
                    use: ``HoloLoom()`` writes to one store). When a weave's store
                    raises, the weave is retried once on such an arm.
==================  ============================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..crawl import CrawlPlan
from ..errors import ValidationError
from ..weaving.query_types import QueryClassifier, classify_query_type
from ..weaving.routing_seam import RouteDecision
from .policy import Policy

if TYPE_CHECKING:
    from ..memory.base import MemoryStore

__all__ = ["BASELINE_ARM", "LearnedWeaveRouter", "SPACE", "STRATEGY_ARMS", "plan_for_arm"]

SPACE = "arm"
#: The retrieval strategies every store supports, the baseline first.
STRATEGY_ARMS: tuple[str, ...] = ("hybrid", "graph", "vector")
BASELINE_ARM = "hybrid"


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
    """Weave's stage-3 Router over the learning policy.

    Args:
        store: the store the strategy arms read.
        policy: the learner (shared with the tool chooser; its owner saves and closes it).
        backends: ``{name: store}`` of other stores holding the same memories; each is an
            arm ``backend:NAME`` and a failover target.
        classifier: the query classifier (default: the built-in rules).
    """

    def __init__(
        self,
        store: "MemoryStore",
        policy: Policy,
        *,
        backends: Mapping[str, "MemoryStore"] | None = None,
        classifier: QueryClassifier | None = None,
    ) -> None:
        self.policy = policy
        self.targets: dict[str, MemoryStore] = {arm: store for arm in STRATEGY_ARMS}
        for name, backend in (backends or {}).items():
            if not isinstance(name, str) or not name:
                raise ValidationError(f"backend names must be non-empty strings, got {name!r}")
            self.targets[f"backend:{name}"] = backend
        self.arms = tuple(self.targets)
        self.classifier = classifier  # the orchestrator classifies each query with it too (once per weave)
        self._classify = classifier.classify if classifier is not None else classify_query_type

    def select(self, query: str, plan: CrawlPlan, *, query_type: str | None = None) -> RouteDecision:
        """Stage 3: the arm for ``query`` at ``plan``'s level; ``info`` explains the choice.

        ``query_type`` is the weave's (stage 1 classified the query once); without it the
        router's own classifier reads the query.
        """
        if query_type is None:
            query_type = self._classify(query)
        choice = self.policy.choose(SPACE, query_type, self.arms, baseline=BASELINE_ARM)
        return self._route(choice.option, "learned", plan, {"query_type": query_type, **choice.to_dict()})

    def fallback(self, failed: RouteDecision, plan: CrawlPlan) -> RouteDecision | None:
        """An arm on a *different* store (the most available) to retry a weave whose store failed."""
        others = [a for a in self.arms if self.targets[a] is not failed.store]
        if not others:
            return None
        avail = self.policy.stats().get(SPACE, {}).get("availability", {})
        arm = max(others, key=lambda a: (avail.get(a) or {}).get("availability", 1.0))
        return self._route(arm, "fallback", plan, {**dict(failed.info), "fallback_from": failed.arm})

    def _route(self, arm: str, strategy: str, plan: CrawlPlan, info: dict[str, Any]) -> RouteDecision:
        return RouteDecision(arm=arm, strategy=strategy, store=self.targets[arm], plan=plan_for_arm(arm, plan),
                             info=info)

    def record(self, decision: RouteDecision, *, success: bool) -> None:
        """Whether the arm's store could serve the weave; teaches availability, never quality.

        A store error is the store's, not the strategy's: every arm on that store shares it.
        """
        if decision.arm in self.targets:
            self.policy.outcome(SPACE, [a for a, s in self.targets.items() if s is decision.store], ok=success)

    def feedback(self, routing: Mapping[str, Any], reward: float, *, replaces: float | None = None) -> None:
        """Explicit feedback on a weave this router chose the arm of (``routing`` is its record)."""
        arm, query_type = routing.get("arm"), routing.get("query_type")
        if routing.get("strategy") == "learned" and arm in self.targets and isinstance(query_type, str):
            self.policy.observe(SPACE, query_type, str(arm), reward, replaces=replaces)

    def stats(self) -> dict[str, Any]:
        """What the policy learned about arms: posteriors per query type, availability, feedback rate."""
        return self.policy.stats().get(SPACE, {"contexts": {}, "availability": {}, "feedback_rate": 0.0})
