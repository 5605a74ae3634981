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

__all__ = [
    "AddResult",
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
    "InvalidComplexityError",
    "InvalidFeedbackError",
    "InvalidNamespaceError",
    "InvalidQueryError",
    "Link",
    "LoomEvent",
    "matryoshka",
    "MATRYOSHKA_SCALES",
    "MemoryShard",
    "MemoryStore",
    "MissingDependencyError",
    "MultipassCrawler",
    "NotFoundError",
    "PartialWriteError",
    "PassReport",
    "PassSpec",
    "PatternCard",
    "RuleBasedExtractor",
    "ScoredShard",
    "SearchFilter",
    "SentenceTransformerEmbedder",
    "Settings",
    "ShardRecord",
    "Spacetime",
    "Stage",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailableError",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ValidationError",
    "WeavingOrchestrator",
    "__version__",
]
