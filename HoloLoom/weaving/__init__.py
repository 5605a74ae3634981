"""The weaving pipeline: from a question to a Spacetime in nine stages."""

from .convergence import ToolChooser
from .events import STAGE_ORDER, EventBus, LoomEvent, Stage, TraceRecorder
from .orchestrator import WeavingOrchestrator
from .patterns import DEFAULT_CARDS, PatternCard, detect_complexity
from .query_types import QUERY_TYPES, QueryClassifier, classify_query_type, intent_of
from .routing_seam import FixedRouter, RouteDecision, Router
from .spacetime import Spacetime, StageRecord, render_trace_tree
from .stages import QueryFeatures, extract_features, fuse
from .temporal import TimeWindow, resolve_window
from .tools import ToolContext, ToolRegistry, ToolResult
from .weave_log import WeaveLog

__all__ = [
    "DEFAULT_CARDS", "EventBus", "FixedRouter", "LoomEvent", "PatternCard", "QUERY_TYPES", "QueryClassifier",
    "QueryFeatures", "RouteDecision",
    "Router", "STAGE_ORDER", "Spacetime", "Stage", "StageRecord", "TimeWindow", "ToolChooser", "ToolContext",
    "ToolRegistry", "ToolResult", "TraceRecorder", "WeaveLog", "WeavingOrchestrator", "classify_query_type", "detect_complexity",
    "extract_features",
    "fuse", "intent_of", "render_trace_tree", "resolve_window",
]
