"""The query's features, computed once per weave and read by every later stage.

Stage 1 reads the text (:func:`read_query`): its query type (which decides the level of
chit-chat and is the router's context), its intent (the tool's context), its entities
(the crawl's graph seeds) and its keywords. Stage 4 adds the one embedding of the query
(:meth:`QueryFeatures.with_vector`), which the crawl, and tools that want it, reuse.

Matryoshka scales are not computed: nothing in the weave reads a truncated query
vector (the stores search at full dimension), so the earlier 96/192-d copies were
dropped rather than kept for show. :func:`HoloLoom.embedding.matryoshka` stays for
callers who build coarse indexes of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..extraction import EntityExtractor
from .query_types import QueryClassifier, classify_query_type, intent_of

if TYPE_CHECKING:
    from ..embedding import Embedder

__all__ = ["QueryFeatures", "embed_query", "read_query"]


@dataclass(frozen=True, slots=True)
class QueryFeatures:
    """What the weave knows about its query.

    Attributes:
        query_type: the classifier's type (``factual``, ``temporal``, ``multi_hop``, ...).
        intent: ``answer``, ``summarize`` or ``search``: the tool that serves it by default.
        entities: the names it mentions (surface forms), in order.
        keywords: its motifs (content words).
        vector: its embedding (None until stage 4).
    """

    query_type: str
    intent: str
    entities: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    vector: np.ndarray | None = None

    def with_vector(self, vector: np.ndarray) -> "QueryFeatures":
        return replace(self, vector=vector)

    def summary(self) -> dict[str, object]:
        """The trace's view (plain JSON values)."""
        return {"query_type": self.query_type, "intent": self.intent, "entities": list(self.entities),
                "keywords": list(self.keywords)}


def read_query(query: str, extractor: EntityExtractor, classifier: QueryClassifier | None = None) -> QueryFeatures:
    """The text features of ``query`` (no embedding): one pass of each rule set."""
    query_type = classifier.classify(query) if classifier is not None else classify_query_type(query)
    return QueryFeatures(query_type=query_type, intent=intent_of(query), entities=tuple(extractor.entities(query)),
                         keywords=tuple(extractor.motifs(query)))


async def embed_query(features: QueryFeatures, query: str, embedder: "Embedder") -> QueryFeatures:
    """``features`` with the query's one embedding."""
    return features.with_vector((await embedder.embed([query]))[0])
