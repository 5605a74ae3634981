"""HoloLoom: async long-term memory and multi-hop retrieval for AI applications.

Import everything from here; the modules behind it are free to move. ``__all__`` is the
public face (``tests/unit/test_exported_members.py`` fails when it drifts): the facade
and its settings, what a weave returns (Spacetime, its StageRecords, the route), the
typed events, tools, the store protocol and its backends, embedders and extractors,
metrics and the terminal UI, and every error.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._lazy import lazy_exports as _lazy_exports

__version__ = "0.1.0"

# Every public name is imported on first use (PEP 562), so `import HoloLoom` and the
# `hololoom` commands that only count or delete stay fast; the server backends' drivers
# and the embedding model load only when asked for.
_EXPORTS: dict[str, str] = {
    "AddResult": ".ingest",
    "classify_query_type": ".weaving.query_types",
    "Complexity": ".types",
    "ConfigurationError": ".errors",
    "CrawlPlan": ".crawl",
    "CrawlResult": ".crawl",
    "CrawlWeights": ".crawl",
    "DEFAULT_PLANS": ".crawl",
    "detect_complexity": ".weaving.patterns",
    "Document": ".types",
    "EmbeddedStore": ".memory",
    "Embedder": ".embedding",
    "EmbeddingError": ".errors",
    "EntityExtractor": ".extraction",
    "EventBus": ".weaving.events",
    "FeedbackGiven": ".weaving.events",
    "find_time_phrases": ".timephrases",
    "Hit": ".memory",
    "HoloLoom": ".loom",
    "HoloLoomError": ".errors",
    "HomeLayout": ".home",
    "HybridStore": ".memory",
    "HybridWriteError": ".memory",
    "InvalidComplexityError": ".errors",
    "InvalidFeedbackError": ".errors",
    "InvalidNamespaceError": ".errors",
    "InvalidQueryError": ".errors",
    "Link": ".memory",
    "LoomEvent": ".weaving.events",
    "LoomMetrics": ".telemetry",
    "MemoryShard": ".types",
    "MemoryStore": ".memory",
    "MissingDependencyError": ".errors",
    "Neo4jStore": ".memory",
    "NotFoundError": ".errors",
    "PartialWriteError": ".errors",
    "PassReport": ".crawl",
    "PassSpec": ".crawl",
    "QdrantStore": ".memory",
    "query_window": ".timephrases",
    "QueryClassifier": ".weaving.query_types",
    "RouteDecision": ".weaving.routing_seam",
    "Router": ".weaving.routing_seam",
    "RoutingStateError": ".routing.errors",
    "RuleBasedExtractor": ".extraction",
    "run_metrics_server": ".telemetry",
    "ScoredShard": ".types",
    "SearchFilter": ".types",
    "SentenceTransformerEmbedder": ".embedding",
    "serve_metrics": ".telemetry",
    "Settings": ".config",
    "ShardRecord": ".memory",
    "Spacetime": ".weaving.spacetime",
    "Stage": ".weaving.events",
    "StageEnded": ".weaving.events",
    "StageRecord": ".weaving.spacetime",
    "StageStarted": ".weaving.events",
    "StoreClosedError": ".errors",
    "StoreError": ".errors",
    "StoreUnavailableError": ".errors",
    "TerminalUI": ".terminal_ui",
    "TimePhrase": ".timephrases",
    "Tool": ".weaving.tools",
    "ToolContext": ".weaving.tools",
    "ToolError": ".errors",
    "ToolResult": ".weaving.tools",
    "ValidationError": ".errors",
    "WeaveEnded": ".weaving.events",
    "WeaveStarted": ".weaving.events",
}

if _TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .config import Settings
    from .crawl import CrawlPlan, CrawlResult, CrawlWeights, DEFAULT_PLANS, PassReport, PassSpec
    from .embedding import Embedder, SentenceTransformerEmbedder
    from .errors import (
        ConfigurationError, EmbeddingError, HoloLoomError, InvalidComplexityError, InvalidFeedbackError,
        InvalidNamespaceError, InvalidQueryError, MissingDependencyError, NotFoundError, PartialWriteError,
        StoreClosedError, StoreError, StoreUnavailableError, ToolError, ValidationError,
    )
    from .extraction import EntityExtractor, RuleBasedExtractor
    from .home import HomeLayout
    from .ingest import AddResult
    from .loom import HoloLoom
    from .memory import (
        EmbeddedStore, Hit, HybridStore, HybridWriteError, Link, MemoryStore, Neo4jStore, QdrantStore, ShardRecord,
    )
    from .routing.errors import RoutingStateError
    from .telemetry import LoomMetrics, run_metrics_server, serve_metrics
    from .terminal_ui import TerminalUI
    from .timephrases import find_time_phrases, query_window, TimePhrase
    from .types import Complexity, Document, MemoryShard, ScoredShard, SearchFilter
    from .weaving.events import (
        EventBus, FeedbackGiven, LoomEvent, Stage, StageEnded, StageStarted, WeaveEnded, WeaveStarted,
    )
    from .weaving.patterns import detect_complexity
    from .weaving.query_types import classify_query_type, QueryClassifier
    from .weaving.routing_seam import RouteDecision, Router
    from .weaving.spacetime import Spacetime, StageRecord
    from .weaving.tools import Tool, ToolContext, ToolResult


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _EXPORTS)

__all__ = [
    "AddResult",
    "classify_query_type",
    "Complexity",
    "ConfigurationError",
    "CrawlPlan",
    "CrawlResult",
    "CrawlWeights",
    "DEFAULT_PLANS",
    "detect_complexity",
    "Document",
    "EmbeddedStore",
    "Embedder",
    "EmbeddingError",
    "EntityExtractor",
    "EventBus",
    "FeedbackGiven",
    "find_time_phrases",
    "Hit",
    "HoloLoom",
    "HoloLoomError",
    "HomeLayout",
    "HybridStore",
    "HybridWriteError",
    "InvalidComplexityError",
    "InvalidFeedbackError",
    "InvalidNamespaceError",
    "InvalidQueryError",
    "Link",
    "LoomEvent",
    "LoomMetrics",
    "MemoryShard",
    "MemoryStore",
    "MissingDependencyError",
    "Neo4jStore",
    "NotFoundError",
    "PartialWriteError",
    "PassReport",
    "PassSpec",
    "QdrantStore",
    "query_window",
    "QueryClassifier",
    "RouteDecision",
    "Router",
    "RoutingStateError",
    "RuleBasedExtractor",
    "run_metrics_server",
    "ScoredShard",
    "SearchFilter",
    "SentenceTransformerEmbedder",
    "serve_metrics",
    "Settings",
    "ShardRecord",
    "Spacetime",
    "Stage",
    "StageEnded",
    "StageRecord",
    "StageStarted",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailableError",
    "TerminalUI",
    "TimePhrase",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ValidationError",
    "WeaveEnded",
    "WeaveStarted",
    "__version__",
]
