"""The routing seam of weave: pick an arm per query, learn from what happened.

    orchestrator = RoutingOrchestrator(["vector", "graph", "hybrid"], store_dir=home / "routing")
    decision = orchestrator.select_backend(query, complexity)      # stage 3
    arm, strategy = decision                                       # also .query_type, .posterior ...
    ...retrieve with decision.arm (fall back to decision.fallbacks[0] if it raises)...
    orchestrator.record_outcome(decision, latency_ms=..., relevance=..., confidence=...,
                                success=True, budget_ms=card.budget_ms)            # every weave
    orchestrator.record_outcome(decision, reward=0.9, explicit=True)             # user feedback

**The implicit reward** of a weave nobody rated (:func:`implicit_reward`)::

    0                                                         if the arm failed (error, timeout)
    0.7 * confidence + 0.3 * max(0, 1 - latency_ms / budget_ms)   otherwise

``confidence`` is how sure retrieval is of its context (in [0, 1]); the latency term
rewards arms that answer inside the pattern card's time budget. Explicit feedback
*replaces* the implicit reward of the same decision: its pseudo-counts are taken back
(as much as the discount has left of them) and the explicit reward is added at full
weight. A failed arm (``success=False``) records reward 0 in the metrics and lowers the
arm's availability for every query type (see :mod:`HoloLoom.routing.learned`).
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidFeedbackError, InvalidQueryError, NotFoundError, ValidationError
from ..types import Complexity
from ._statefile import read_json, update_json
from .ab_test import ABTestRouter
from .errors import RoutingStateError
from .bandit import check_unit
from .learned import Evidence, LearnedRouter
from .metrics import MetricsCollector
from .query_types import QUERY_TYPES, QueryClassifier, classify_query_type, default_classifier, rule_based_routing

__all__ = [
    "CONFIDENCE_WEIGHT",
    "LATENCY_WEIGHT",
    "RoutingDecision",
    "RoutingOrchestrator",
    "classify_query_type",
    "implicit_reward",
    "rule_based_routing",
]

CONFIDENCE_WEIGHT = 0.7
LATENCY_WEIGHT = 0.3

STATE_FILE = "routing_state.json"
METRICS_FILE = "routing_metrics.jsonl"
AB_FILE = "ab_test.json"
_AB_FORMAT = "hololoom.routing.ab"


def implicit_reward(confidence: float, latency_ms: float, budget_ms: float, success: bool) -> float:
    """The reward of an outcome nobody rated, in [0, 1].

    0 when the arm failed; otherwise ``0.7 * confidence + 0.3 * max(0, 1 - latency_ms / budget_ms)``.

    >>> implicit_reward(0.8, 50.0, 200.0, True)
    0.785
    >>> implicit_reward(0.8, 50.0, 200.0, False)
    0.0
    """
    if not success:
        return 0.0
    confidence = check_unit(confidence, "confidence")
    latency_ms = _check_latency(latency_ms)
    if isinstance(budget_ms, bool) or not isinstance(budget_ms, (int, float)) or not math.isfinite(budget_ms) or budget_ms <= 0:
        raise ValidationError(f"budget_ms must be a positive number, got {budget_ms!r}")
    speed = max(0.0, 1.0 - latency_ms / float(budget_ms))
    return round(CONFIDENCE_WEIGHT * confidence + LATENCY_WEIGHT * speed, 6)


def _check_latency(latency_ms: object) -> float:
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, (int, float)) or not math.isfinite(latency_ms) or latency_ms < 0:
        raise ValidationError(f"latency_ms must be a non-negative number, got {latency_ms!r}")
    return float(latency_ms)


@dataclass(frozen=True, slots=True, eq=False)
class RoutingDecision:
    """Which arm stage 3 chose for one query, and from what.

    Unpacks like the pair ``(arm, strategy)``.

    Attributes:
        arm: the arm to retrieve with.
        strategy: who chose it: ``"learned"``, ``"rule_based"`` or an A/B variant's name.
        query_type: the query's type (the bandit consulted).
        complexity: LITE / FAST / FULL / RESEARCH.
        decision_id: pass the decision (or this id) back to ``record_outcome``.
        posterior: each arm's Beta (alpha, beta) in ``query_type``'s bandit at decision time.
        posterior_means: alpha / (alpha + beta) of each arm.
        scores: each arm's Thompson draw x availability (what "learned" compared).
        availability: each arm's availability (1.0 = no recent errors).
        fallbacks: the other arms, best score first: what to try if ``arm`` fails.
        ab_variant: the A/B variant the query was assigned to, if a test is running.
        query_hash: the query's pseudonym in the metrics file.
    """

    arm: str
    strategy: str
    query_type: str
    complexity: str
    decision_id: str
    posterior: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    posterior_means: Mapping[str, float] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)
    availability: Mapping[str, float] = field(default_factory=dict)
    fallbacks: tuple[str, ...] = ()
    ab_variant: str | None = None
    query_hash: str | None = None

    def __iter__(self) -> Iterator[str]:
        yield self.arm
        yield self.strategy

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the Spacetime trace; :meth:`from_dict` reads it back."""
        return {
            "arm": self.arm, "strategy": self.strategy, "query_type": self.query_type,
            "complexity": self.complexity, "decision_id": self.decision_id,
            "posterior": {a: [round(p[0], 6), round(p[1], 6)] for a, p in self.posterior.items()},
            "posterior_means": {a: round(m, 6) for a, m in self.posterior_means.items()},
            "scores": {a: round(s, 6) for a, s in self.scores.items()},
            "availability": {a: round(v, 6) for a, v in self.availability.items()},
            "fallbacks": list(self.fallbacks), "ab_variant": self.ab_variant, "query_hash": self.query_hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RoutingDecision":
        try:
            return cls(
                arm=str(data["arm"]), strategy=str(data["strategy"]), query_type=str(data["query_type"]),
                complexity=str(data["complexity"]), decision_id=str(data["decision_id"]),
                posterior={a: (float(p[0]), float(p[1])) for a, p in (data.get("posterior") or {}).items()},
                posterior_means={a: float(m) for a, m in (data.get("posterior_means") or {}).items()},
                scores={a: float(s) for a, s in (data.get("scores") or {}).items()},
                availability={a: float(v) for a, v in (data.get("availability") or {}).items()},
                fallbacks=tuple(data.get("fallbacks") or ()), ab_variant=data.get("ab_variant"),
                query_hash=data.get("query_hash"),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValidationError(f"not a routing decision: {exc}") from exc


@dataclass(slots=True)
class _Outcome:
    reward: float
    evidence: Evidence | None
    explicit: bool


class RoutingOrchestrator:
    """Learned routing for weave: classify, choose an arm, record outcomes, persist, report.

    Args:
        arms: the arms, e.g. ``["vector", "graph", "hybrid", "backend:neo4j"]``.
        query_types: the bandits (default: factual, analytical, creative, conversational);
            a type the classifier returns that is not listed gets a bandit when first seen.
        enable_ab_test: split traffic 50/50 between ``"learned"`` and ``"rule_based"``
            (or ``ab_variants``) and report which wins.
        store_dir: where state (``routing_state.json``), metrics (``routing_metrics.jsonl``)
            and A/B tallies (``ab_test.json``) live; None keeps everything in memory.
        seed: seeds sampling and A/B assignment.
        rules: overrides of the rule-based table (see :func:`rule_based_routing`).
        classifier: a :class:`QueryClassifier` (default: the module's default one).
        ab_variants: ``{name: (weight, fn(query_type, complexity) -> arm)}``; the name
            ``"learned"`` means this orchestrator's bandits.
        discount, health_discount, optimistic, prior: see :class:`LearnedRouter`.
        budget_ms: latency budget for the implicit reward when a call gives none.
        autosave_every: save state after this many outcomes (0: only on save()/close()).
        store_raw_queries, hash_key: see :class:`MetricsCollector`.
        max_open_decisions: decisions remembered for later explicit feedback.
    """

    def __init__(
        self,
        arms: Iterable[str],
        query_types: Iterable[str] | None = None,
        enable_ab_test: bool = False,
        store_dir: str | Path | None = None,
        seed: int | None = None,
        rules: Mapping[tuple[str, str] | str, str] | None = None,
        *,
        classifier: QueryClassifier | None = None,
        ab_variants: Mapping[str, tuple[float, Any]] | None = None,
        discount: float | None = 0.999,
        health_discount: float | None = 0.95,
        optimistic: bool = True,
        prior: tuple[float, float] = (1.0, 1.0),
        budget_ms: float = 1000.0,
        autosave_every: int = 100,
        store_raw_queries: bool = False,
        hash_key: bytes | None = None,
        max_open_decisions: int = 10_000,
        lock_timeout: float = 30.0,
    ) -> None:
        self.store_dir = Path(store_dir) if store_dir is not None else None
        self.router = LearnedRouter(
            arms, tuple(query_types) if query_types is not None else QUERY_TYPES,
            self.store_dir / STATE_FILE if self.store_dir is not None else None,
            seed, discount, prior=prior, optimistic=optimistic, health_discount=health_discount,
            autosave_every=0, lock_timeout=lock_timeout,
        )
        self.arms = self.router.arms
        self.rules = dict(rules or {})
        self.classifier = classifier or default_classifier
        if isinstance(budget_ms, bool) or not isinstance(budget_ms, (int, float)) or budget_ms <= 0:
            raise ValidationError("budget_ms must be a positive number")
        self.budget_ms = float(budget_ms)
        if isinstance(autosave_every, bool) or not isinstance(autosave_every, int) or autosave_every < 0:
            raise ValidationError("autosave_every must be a non-negative integer")
        self.autosave_every = autosave_every
        self._lock_timeout = lock_timeout
        self.metrics = (
            MetricsCollector(self.store_dir / METRICS_FILE, store_raw_queries=store_raw_queries, hash_key=hash_key)
            if self.store_dir is not None else None
        )
        self.ab: ABTestRouter | None = None
        if enable_ab_test or ab_variants:
            variants = ab_variants or {"learned": (0.5, self._learned_arm), "rule_based": (0.5, self._rule_arm)}
            self.ab = ABTestRouter(variants, None if seed is None else seed + 7919)
        self._ab_saved: dict[str, Any] = {}
        if self.ab is not None and self.store_dir is not None:
            disk = read_json(self.store_dir / AB_FILE)
            if disk is not None:
                self._check_ab_file(disk)
                self.ab.load_dict(disk.get("variants") or {}, replace=True)
                self._ab_saved = self.ab.to_dict()
        self._open: OrderedDict[str, tuple[RoutingDecision, str | None]] = OrderedDict()
        self._outcomes: OrderedDict[str, _Outcome] = OrderedDict()
        self._max_open = int(max_open_decisions)
        self._lock = threading.RLock()
        self._counts = {"decisions": 0, "outcomes": 0, "failures": 0, "explicit_feedback": 0}
        self._by_strategy: dict[str, int] = {}
        self._since_save = 0

    # -- strategies ----------------------------------------------------------------------

    def _learned_arm(self, query_type: str, complexity: str) -> str:
        return self.router.select(query_type)

    def _rule_arm(self, query_type: str, complexity: str) -> str:
        return rule_based_routing(query_type, complexity, rules=self.rules, arms=self.arms)

    # -- stage 3 -------------------------------------------------------------------------

    def select_backend(
        self,
        query: str,
        complexity: Complexity | str = Complexity.FAST,
        *,
        query_type: str | None = None,
        ab_key: str | None = None,
    ) -> RoutingDecision:
        """Choose the arm for one query.

        Args:
            query: the question (classified unless ``query_type`` is given).
            complexity: its level; the rule-based strategy uses it.
            query_type: skip classification (e.g. the caller already knows the type).
            ab_key: keeps one user in one A/B variant (hashing), instead of random assignment.

        Returns:
            A :class:`RoutingDecision`; ``arm, strategy = decision`` works.
        """
        if not isinstance(query, str):
            raise InvalidQueryError(f"query must be a string, not {type(query).__name__}")
        level = Complexity.parse(complexity).value
        with self._lock:
            qt = query_type if query_type is not None else self.classifier.classify(query)
            if qt not in self.router.query_types:
                self.router.add_query_type(qt)
            sel = self.router.choose(qt)
            arm, strategy, variant = sel.arm, "learned", None
            if self.ab is not None:
                variant = self.ab.assign(ab_key)
                strategy = variant
                if variant != "learned":
                    arm = self.ab.strategy(variant)(qt, level)
                    if arm not in self.arms:
                        raise ValidationError(f"A/B variant {variant!r} chose {arm!r}, which is not an arm")
            decision = RoutingDecision(
                arm=arm, strategy=strategy, query_type=qt, complexity=level, decision_id=os.urandom(8).hex(),
                posterior=sel.posterior,
                posterior_means={a: p[0] / (p[0] + p[1]) for a, p in sel.posterior.items()},
                scores=sel.scores, availability=sel.availability,
                fallbacks=tuple(a for a in sel.ranking if a != arm), ab_variant=variant,
                query_hash=self.metrics.query_hash(query) if self.metrics is not None else None,
            )
            raw = query if (self.metrics is not None and self.metrics.store_raw_queries) else None
            self._open[decision.decision_id] = (decision, raw)
            while len(self._open) > self._max_open:
                self._open.popitem(last=False)
            self._counts["decisions"] += 1
            self._by_strategy[strategy] = self._by_strategy.get(strategy, 0) + 1
            return decision

    # -- outcomes and feedback -------------------------------------------------------------

    def record_outcome(
        self,
        decision: RoutingDecision | str,
        *,
        latency_ms: float | None = None,
        relevance: float | None = None,
        confidence: float | None = None,
        success: bool = True,
        reward: float | None = None,
        explicit: bool = False,
        budget_ms: float | None = None,
        memory_size: int | None = None,
        spacetime_id: str | None = None,
    ) -> float:
        """Record what happened after ``decision``; returns the reward that was applied.

        Implicit (``explicit=False``, once per decision): give ``latency_ms`` and
        ``confidence`` (and ``relevance`` when known). The reward is ``reward`` if given,
        else :func:`implicit_reward`; a failure (``success=False``) always scores 0 and
        lowers the arm's availability instead of teaching its quality.

        Explicit (``explicit=True``): user feedback ``reward`` for the same decision. It
        replaces the implicit reward: those pseudo-counts are retracted and the explicit
        reward is applied; later explicit feedback replaces earlier feedback the same way.

        Args:
            decision: the decision, or its id while it is still remembered.

        Raises:
            ValidationError: values out of range, or a missing ``latency_ms``/``reward``.
            InvalidFeedbackError: an implicit outcome recorded twice for one decision.
            NotFoundError: an id this orchestrator no longer remembers.
        """
        with self._lock:
            decision, raw_query = self._resolve(decision)
            if relevance is not None:
                relevance = check_unit(relevance, "relevance")
            if confidence is not None:
                confidence = check_unit(confidence, "confidence")
            if explicit:
                if reward is None:
                    raise ValidationError("explicit feedback needs a reward in [0, 1]")
                return self._explicit(decision, check_unit(reward), spacetime_id)
            if latency_ms is None:
                raise ValidationError("latency_ms is required for an outcome")
            latency_ms = _check_latency(latency_ms)
            if decision.decision_id in self._outcomes:
                raise InvalidFeedbackError(
                    f"an outcome was already recorded for decision {decision.decision_id}; "
                    "pass explicit=True to replace its reward with feedback"
                )
            if not success:
                value = 0.0
            elif reward is not None:
                value = check_unit(reward)
            else:
                value = implicit_reward(confidence if confidence is not None else 0.0, latency_ms,
                                        budget_ms if budget_ms is not None else self.budget_ms, True)
            evidence = self.router.update(decision.query_type, decision.arm, value, success=bool(success))
            self._remember(decision.decision_id, _Outcome(value, evidence, explicit=False))
            if self.ab is not None and decision.ab_variant in self.ab.variants:
                self.ab.record(decision.ab_variant, value, success=bool(success), latency_ms=latency_ms)
            if self.metrics is not None:
                self.metrics.record(
                    query_type=decision.query_type, complexity=decision.complexity, arm=decision.arm,
                    strategy=decision.strategy, latency_ms=latency_ms, relevance=relevance, confidence=confidence,
                    success=bool(success), reward=value, query=raw_query, query_hash=decision.query_hash,
                    memory_size=memory_size, spacetime_id=spacetime_id, decision_id=decision.decision_id,
                    ab_variant=decision.ab_variant,
                )
            self._counts["outcomes"] += 1
            self._counts["failures"] += not success
            self._tick()
            return value

    def record_feedback(self, decision: RoutingDecision | str, reward: float, *, spacetime_id: str | None = None) -> float:
        """Explicit feedback; the same as ``record_outcome(decision, reward=reward, explicit=True)``."""
        return self.record_outcome(decision, reward=reward, explicit=True, spacetime_id=spacetime_id)

    def _explicit(self, decision: RoutingDecision, reward: float, spacetime_id: str | None) -> float:
        previous = self._outcomes.get(decision.decision_id)
        if previous is not None and previous.evidence is not None:
            self.router.retract(previous.evidence)
        if decision.query_type not in self.router.query_types:
            self.router.add_query_type(decision.query_type)
        evidence = self.router.add_evidence(decision.query_type, decision.arm, reward)
        self._remember(decision.decision_id, _Outcome(reward, evidence, explicit=True))
        if self.ab is not None and decision.ab_variant in self.ab.variants:
            if previous is not None:
                self.ab.record(decision.ab_variant, reward, replacing=previous.reward)
            else:
                self.ab.record(decision.ab_variant, reward)
        if self.metrics is not None:
            self.metrics.record_feedback(decision_id=decision.decision_id, reward=reward, spacetime_id=spacetime_id)
        self._counts["explicit_feedback"] += 1
        self._tick()
        return reward

    def _resolve(self, decision: RoutingDecision | str) -> tuple[RoutingDecision, str | None]:
        if isinstance(decision, RoutingDecision):
            entry = self._open.get(decision.decision_id)
            raw = entry[1] if entry is not None else None
        elif isinstance(decision, str):
            entry = self._open.get(decision)
            if entry is None:
                raise NotFoundError(
                    f"routing decision {decision!r} is not remembered (restart, or more than "
                    f"{self._max_open} decisions since); pass the RoutingDecision itself"
                )
            decision, raw = entry
        else:
            raise ValidationError(f"expected a RoutingDecision or its id, not {type(decision).__name__}")
        if decision.arm not in self.arms:
            raise ValidationError(f"decision arm {decision.arm!r} is not one of {', '.join(self.arms)}")
        return decision, raw

    def _remember(self, decision_id: str, outcome: _Outcome) -> None:
        self._outcomes[decision_id] = outcome
        self._outcomes.move_to_end(decision_id)
        while len(self._outcomes) > self._max_open:
            self._outcomes.popitem(last=False)

    def _tick(self) -> None:
        self._since_save += 1
        if self.autosave_every and self._since_save >= self.autosave_every:
            self.save()

    # -- persistence -----------------------------------------------------------------------

    def save(self) -> None:
        """Merge unsaved learning (bandits and A/B tallies) into the files in ``store_dir``."""
        with self._lock:
            self._since_save = 0
            if self.store_dir is None:
                return
            self.router.save()
            if self.ab is not None:
                self._save_ab()

    def _check_ab_file(self, disk: Mapping[str, Any]) -> None:
        if disk.get("format") != _AB_FORMAT:
            raise RoutingStateError(f"{self.store_dir / AB_FILE}: not a HoloLoom A/B test file")

    def _save_ab(self) -> None:
        assert self.ab is not None and self.store_dir is not None
        current = self.ab.to_dict()
        delta = {
            name: {k: v - self._ab_saved.get(name, {}).get(k, 0) for k, v in fields.items()}
            for name, fields in current.items()
        }

        def merge(disk: dict[str, Any] | None) -> dict[str, Any]:
            if disk is not None:
                self._check_ab_file(disk)
            variants = {k: dict(v) for k, v in ((disk or {}).get("variants") or {}).items()}
            for name, fields in delta.items():
                row = variants.setdefault(name, {})
                for k, v in fields.items():
                    row[k] = row.get(k, 0) + v
            return {"format": _AB_FORMAT, "version": 1, "variants": variants}

        written = update_json(self.store_dir / AB_FILE, merge, timeout=self._lock_timeout)
        self.ab.load_dict(written["variants"], replace=True)
        self._ab_saved = self.ab.to_dict()

    def close(self) -> None:
        """Save; call when the loom closes."""
        self.save()

    def __enter__(self) -> "RoutingOrchestrator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self, query_type: str | None = None) -> None:
        """Forget what the bandits learned (one query type, or all); metrics are kept."""
        with self._lock:
            self.router.reset(query_type)
            self._outcomes.clear()

    # -- reporting -------------------------------------------------------------------------

    def stats(self, *, metrics_window: int | None = 1000) -> dict[str, Any]:
        """What was learned and how routing is doing.

        Returns:
            ``{"arms", "counts", "strategies", "router": {query_types: {type: {arm: {alpha,
            beta, mean, p_best, pulls, evidence}}}, availability: {arm: ...}}, "ab_test":
            {"variants": {...}, "winner": name | None} | None, "metrics": per-arm aggregates
            over the last ``metrics_window`` outcomes | None}``.
        """
        with self._lock:
            ab = None
            if self.ab is not None:
                ab = {"variants": {n: r.to_dict() for n, r in self.ab.results().items()}, "winner": self.ab.winner(),
                      "min_outcomes": self.ab.min_outcomes, "threshold": self.ab.threshold}
            return {
                "arms": list(self.arms),
                "counts": dict(self._counts),
                "strategies": dict(self._by_strategy),
                "router": self.router.stats(),
                "ab_test": ab,
                "metrics": (self.metrics.aggregates(last=metrics_window)
                            if self.metrics is not None and metrics_window else None),
            }
