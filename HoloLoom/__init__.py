"""HoloLoom: async long-term memory and multi-hop retrieval for AI applications.

Import everything from here; the modules behind it are free to move.
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Every public name is imported on first use (PEP 562), so `import HoloLoom` and the
# `hololoom` commands that only count or delete stay fast; the server backends' drivers
# and the embedding model load only when asked for.
_EXPORTS: dict[str, str] = {
    "AddResult": ".ingest",
    "classify_query_type": ".routing",
    "Complexity": ".types",
    "ConfigurationError": ".errors",
    "CrawlPlan": ".crawl",
    "CrawlResult": ".crawl",
    "CrawlWeights": ".crawl",
    "DEFAULT_PLANS": ".crawl",
    "detect_complexity": ".weaving",
    "Document": ".types",
    "EmbeddedStore": ".memory",
    "Embedder": ".embedding",
    "EmbeddingError": ".errors",
    "EntityExtractor": ".extraction",
    "EventBus": ".weaving",
    "Hit": ".memory",
    "HoloLoom": ".loom",
    "HoloLoomError": ".errors",
    "InvalidComplexityError": ".errors",
    "InvalidFeedbackError": ".errors",
    "InvalidNamespaceError": ".errors",
    "InvalidQueryError": ".errors",
    "LearnedWeaveRouter": ".routing",
    "Link": ".memory",
    "LoomEvent": ".weaving",
    "LoomMetrics": ".telemetry",
    "matryoshka": ".embedding",
    "MATRYOSHKA_SCALES": ".embedding",
    "MemoryShard": ".types",
    "MemoryStore": ".memory",
    "MissingDependencyError": ".errors",
    "MultipassCrawler": ".crawl",
    "NotFoundError": ".errors",
    "PartialWriteError": ".errors",
    "PassReport": ".crawl",
    "PassSpec": ".crawl",
    "PatternCard": ".weaving",
    "Policy": ".routing",
    "RoutingStateError": ".routing",
    "RuleBasedExtractor": ".extraction",
    "run_metrics_server": ".telemetry",
    "ScoredShard": ".types",
    "SearchFilter": ".types",
    "SentenceTransformerEmbedder": ".embedding",
    "serve_metrics": ".telemetry",
    "Settings": ".config",
    "ShardRecord": ".memory",
    "Spacetime": ".weaving",
    "Stage": ".weaving",
    "StoreClosedError": ".errors",
    "StoreError": ".errors",
    "StoreUnavailableError": ".errors",
    "TerminalUI": ".terminal_ui",
    "ToolContext": ".weaving",
    "ToolError": ".errors",
    "ToolResult": ".weaving",
    "ValidationError": ".errors",
    "WeavingOrchestrator": ".weaving",
    "TimePhrase": ".timephrases",
    "find_time_phrases": ".timephrases",
    "query_window": ".timephrases",
    "Neo4jStore": ".memory",
    "QdrantStore": ".memory",
    "HybridStore": ".memory",
    "HybridWriteError": ".memory",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .config import Settings
    from .crawl import CrawlPlan, CrawlResult, CrawlWeights, DEFAULT_PLANS, MultipassCrawler, PassReport, PassSpec
    from .embedding import MATRYOSHKA_SCALES, Embedder, SentenceTransformerEmbedder, matryoshka
    from .errors import (
        ConfigurationError,
        EmbeddingError,
        HoloLoomError,
        InvalidComplexityError,
        InvalidFeedbackError,
        InvalidNamespaceError,
        InvalidQueryError,
        MissingDependencyError,
        NotFoundError,
        PartialWriteError,
        StoreClosedError,
        StoreError,
        StoreUnavailableError,
        ToolError,
        ValidationError,
    )
    from .extraction import EntityExtractor, RuleBasedExtractor
    from .ingest import AddResult
    from .loom import HoloLoom
    from .memory import EmbeddedStore, Hit, Link, MemoryStore, ShardRecord
    from .routing import LearnedWeaveRouter, Policy, RoutingStateError, classify_query_type
    from .telemetry import LoomMetrics, run_metrics_server, serve_metrics
    from .terminal_ui import TerminalUI
    from .types import Complexity, Document, MemoryShard, ScoredShard, SearchFilter
    from .weaving import (
        EventBus,
        LoomEvent,
        PatternCard,
        Spacetime,
        Stage,
        ToolContext,
        ToolResult,
        WeavingOrchestrator,
        detect_complexity,
    )
    from .memory import HybridStore, HybridWriteError, Neo4jStore, QdrantStore
    from .timephrases import TimePhrase, find_time_phrases, query_window


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'HoloLoom' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "find_time_phrases",
    "Hit",
    "HoloLoom",
    "HoloLoomError",
    "HybridStore",
    "HybridWriteError",
    "InvalidComplexityError",
    "InvalidFeedbackError",
    "InvalidNamespaceError",
    "InvalidQueryError",
    "LearnedWeaveRouter",
    "Link",
    "LoomEvent",
    "LoomMetrics",
    "matryoshka",
    "MATRYOSHKA_SCALES",
    "MemoryShard",
    "MemoryStore",
    "MissingDependencyError",
    "MultipassCrawler",
    "Neo4jStore",
    "NotFoundError",
    "PartialWriteError",
    "PassReport",
    "PassSpec",
    "PatternCard",
    "Policy",
    "QdrantStore",
    "query_window",
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
    "StoreClosedError",
    "StoreError",
    "StoreUnavailableError",
    "TerminalUI",
    "TimePhrase",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ValidationError",
    "WeavingOrchestrator",
    "__version__",
]
