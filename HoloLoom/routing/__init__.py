"""Learning in HoloLoom: one policy for the arms of stage 3 and the tools of stage 7.

- :class:`Policy`, :class:`Choice` (``policy``): Beta posteriors, safe Thompson sampling,
  discounting, availability, one locked state file
- :class:`LearnedWeaveRouter`, :func:`plan_for_arm` (``weave_router``): weave's stage-3 Router
- :func:`classify_query_type`, :class:`QueryClassifier` (from ``HoloLoom.weaving.query_types``)
"""

from ..weaving.query_types import QUERY_TYPES, QueryClassifier, classify_query_type
from .errors import InvalidRewardError, RoutingStateError, UnknownArmError
from .policy import Choice, Policy
from .weave_router import BASELINE_ARM, STRATEGY_ARMS, LearnedWeaveRouter, plan_for_arm

__all__ = [
    "BASELINE_ARM",
    "Choice",
    "classify_query_type",
    "InvalidRewardError",
    "LearnedWeaveRouter",
    "plan_for_arm",
    "Policy",
    "QUERY_TYPES",
    "QueryClassifier",
    "RoutingStateError",
    "STRATEGY_ARMS",
    "UnknownArmError",
]
