"""Learned routing: which retrieval arm (strategy or backend) serves each query.

Public pieces (also importable from the modules named):

- :class:`RoutingOrchestrator`, :class:`RoutingDecision`, :func:`implicit_reward` (``integration``)
- :class:`ThompsonBandit` (``bandit``), :class:`LearnedRouter` (``learned``)
- :class:`MetricsCollector` (``metrics``)
- :class:`ABTestRouter` (``ab_test``)
- :func:`classify_query_type`, :class:`QueryClassifier`, :func:`rule_based_routing` (``query_types``)
- :class:`LearnedWeaveRouter`, :func:`plan_for_arm` (``weave_router``): weave's stage-3 Router
"""

from .ab_test import ABTestRouter, VariantResult
from .bandit import ThompsonBandit
from .errors import InvalidRewardError, RoutingStateError, UnknownArmError, UnknownQueryTypeError
from .integration import RoutingDecision, RoutingOrchestrator, implicit_reward
from .learned import Evidence, LearnedRouter, Selection
from .metrics import MetricsCollector
from .query_types import (
    DEFAULT_RULES,
    QUERY_TYPES,
    QueryClassifier,
    classify_query_type,
    register_query_pattern,
    rule_based_routing,
)
from .weave_router import STRATEGY_ARMS, LearnedWeaveRouter, plan_for_arm

__all__ = [
    "ABTestRouter",
    "classify_query_type",
    "DEFAULT_RULES",
    "Evidence",
    "implicit_reward",
    "InvalidRewardError",
    "LearnedRouter",
    "LearnedWeaveRouter",
    "MetricsCollector",
    "plan_for_arm",
    "QUERY_TYPES",
    "QueryClassifier",
    "register_query_pattern",
    "RoutingDecision",
    "RoutingOrchestrator",
    "RoutingStateError",
    "rule_based_routing",
    "Selection",
    "STRATEGY_ARMS",
    "ThompsonBandit",
    "UnknownArmError",
    "UnknownQueryTypeError",
    "VariantResult",
]
