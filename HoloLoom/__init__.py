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

__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "Complexity",
    "ConfigurationError",
    "CrawlPlan",
    "CrawlResult",
    "CrawlWeights",
    "DEFAULT_PLANS",
    "Document",
    "EmbeddedStore",
    "Embedder",
    "EmbeddingError",
    "EntityExtractor",
    "Hit",
    "HoloLoom",
    "HoloLoomError",
    "InvalidComplexityError",
    "InvalidFeedbackError",
    "InvalidNamespaceError",
    "InvalidQueryError",
    "Link",
    "MATRYOSHKA_SCALES",
    "MemoryShard",
    "MemoryStore",
    "MissingDependencyError",
    "MultipassCrawler",
    "NotFoundError",
    "PartialWriteError",
    "PassReport",
    "PassSpec",
    "RuleBasedExtractor",
    "ScoredShard",
    "SearchFilter",
    "SentenceTransformerEmbedder",
    "Settings",
    "ShardRecord",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailableError",
    "ToolError",
    "ValidationError",
    "__version__",
    "matryoshka",
]
