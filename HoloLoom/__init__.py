"""HoloLoom: async long-term memory and multi-hop retrieval for AI applications.

Import everything from here; the modules behind it are free to move.
"""

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
from .routing import (
    ABTestRouter,
    LearnedRouter,
    LearnedWeaveRouter,
    MetricsCollector,
    RoutingDecision,
    RoutingOrchestrator,
    ThompsonBandit,
    classify_query_type,
    implicit_reward,
    rule_based_routing,
)
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

__version__ = "0.1.0"

# The server backends load their drivers only when asked for (optional extras).
_LAZY = {"Neo4jStore", "QdrantStore", "HybridStore", "HybridWriteError"}


def __getattr__(name: str):
    if name in _LAZY:
        from . import memory

        return getattr(memory, name)
    raise AttributeError(f"module 'HoloLoom' has no attribute {name!r}")

__all__ = [
    "ABTestRouter",
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
    "Hit",
    "HoloLoom",
    "HoloLoomError",
    "HybridStore",
    "HybridWriteError",
    "implicit_reward",
    "InvalidComplexityError",
    "InvalidFeedbackError",
    "InvalidNamespaceError",
    "InvalidQueryError",
    "LearnedRouter",
    "LearnedWeaveRouter",
    "Link",
    "LoomEvent",
    "LoomMetrics",
    "matryoshka",
    "MATRYOSHKA_SCALES",
    "MemoryShard",
    "MemoryStore",
    "MetricsCollector",
    "MissingDependencyError",
    "MultipassCrawler",
    "Neo4jStore",
    "NotFoundError",
    "PartialWriteError",
    "PassReport",
    "PassSpec",
    "PatternCard",
    "QdrantStore",
    "RoutingDecision",
    "RoutingOrchestrator",
    "rule_based_routing",
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
    "ThompsonBandit",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ValidationError",
    "WeavingOrchestrator",
    "__version__",
]
