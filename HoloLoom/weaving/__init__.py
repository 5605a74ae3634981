"""The weaving pipeline: from a question to a Spacetime in nine stages (see :mod:`.stages`).

Names are imported on first use (PEP 562), so the facade can name :class:`Spacetime`
without loading the whole pipeline at ``import HoloLoom``.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

_EXPORTS: dict[str, str] = {
    "Budget": ".context", "WeaveContext": ".context", "WeaveRequest": ".context", "WeaveServices": ".context",
    "ToolChooser": ".convergence",
    "STAGE_ORDER": ".events", "EventBus": ".events", "FeedbackGiven": ".events", "LoomEvent": ".events",
    "Stage": ".events", "StageEnded": ".events", "StageStarted": ".events", "WeaveEnded": ".events",
    "WeaveStarted": ".events",
    "QueryFeatures": ".features", "read_query": ".features",
    "fuse": ".fusion",
    "WeaveLogWriter": ".log_writer",
    "WeavingOrchestrator": ".orchestrator",
    "DEFAULT_CARDS": ".patterns", "PatternCard": ".patterns", "detect_complexity": ".patterns",
    "QUERY_TYPES": ".query_types", "QueryClassifier": ".query_types", "classify_query_type": ".query_types",
    "intent_of": ".query_types",
    "FixedRouter": ".routing_seam", "RouteDecision": ".routing_seam", "Router": ".routing_seam",
    "Spacetime": ".spacetime", "StageRecord": ".spacetime", "render_trace_tree": ".spacetime",
    "STAGES": ".stages",
    "TimeWindow": ".temporal", "resolve_window": ".temporal",
    "Tool": ".tools", "ToolContext": ".tools", "ToolRegistry": ".tools", "ToolResult": ".tools",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .context import Budget, WeaveContext, WeaveRequest, WeaveServices
    from .convergence import ToolChooser
    from .events import (
        STAGE_ORDER, EventBus, FeedbackGiven, LoomEvent, Stage, StageEnded, StageStarted, WeaveEnded, WeaveStarted,
    )
    from .features import QueryFeatures, read_query
    from .fusion import fuse
    from .log_writer import WeaveLogWriter
    from .orchestrator import WeavingOrchestrator
    from .patterns import DEFAULT_CARDS, PatternCard, detect_complexity
    from .query_types import QUERY_TYPES, QueryClassifier, classify_query_type, intent_of
    from .routing_seam import FixedRouter, RouteDecision, Router
    from .spacetime import Spacetime, StageRecord, render_trace_tree
    from .stages import STAGES
    from .temporal import TimeWindow, resolve_window
    from .tools import Tool, ToolContext, ToolRegistry, ToolResult


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _EXPORTS)

__all__ = [
    "Budget", "DEFAULT_CARDS", "EventBus", "FeedbackGiven", "FixedRouter", "LoomEvent", "PatternCard", "QUERY_TYPES",
    "QueryClassifier", "QueryFeatures", "RouteDecision", "Router", "STAGES", "STAGE_ORDER", "Spacetime", "Stage",
    "StageEnded", "StageRecord", "StageStarted", "TimeWindow", "Tool", "ToolChooser", "ToolContext", "ToolRegistry",
    "ToolResult", "WeaveContext", "WeaveEnded", "WeaveLogWriter", "WeaveRequest", "WeaveServices", "WeaveStarted",
    "WeavingOrchestrator", "classify_query_type", "detect_complexity", "fuse", "intent_of", "read_query",
    "render_trace_tree", "resolve_window",
]
