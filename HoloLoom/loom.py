"""The ``HoloLoom`` facade: the one object most applications need.

    async with HoloLoom() as loom:
        await loom.add("Maximum Overdrive was filmed in Leland, North Carolina.")
        hits = await loom.recall("Where was Maximum Overdrive shot?", complexity="FULL")
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import SkipValidation

from .config import Settings
from .crawl import CrawlPlan, CrawlResult, MultipassCrawler
from .embedding import Embedder, SentenceTransformerEmbedder
from .extraction import EntityExtractor, RuleBasedExtractor
from .home import HomeLayout
from .ingest import AddResult, Ingestor
from .errors import ConfigurationError
from .memory import BaseStore, create_store
from .types import Complexity, Document, MemoryShard, ScoredShard, SearchFilter, validate_namespace
from .validation import (
    MAX_QUERY_CHARS, BudgetMs, EntityNames, Instant, Level, Limit, Metadata, Namespace, Query, Reward, ShardId,
    ShardIds, SpacetimeId, Title, ToolName, Useful, Where, check, validated,
)

from .weaving.spacetime import Spacetime  # weave()'s return type, resolved by its validation

if TYPE_CHECKING:
    from .weaving.events import EventBus
    from .weaving.orchestrator import WeavingOrchestrator
    from .weaving.tools import Tool

__all__ = ["HoloLoom", "MAX_QUERY_CHARS"]


class HoloLoom:
    """Long-term memory: add text, recall what answers a question.

    Settings come from the ``HOLOLOOM_*`` environment variables (read when the loom is
    built, never at import); explicit arguments override them.

    Args:
        home: data directory (default: ``HOLOLOOM_HOME`` or the per-user data directory).
        namespace: the default namespace (tenant) of every call (default: ``HOLOLOOM_NAMESPACE``).
        settings: full settings, used instead of the environment; ``home``/``namespace`` override it.
        store: a store to use instead of the one settings name (any :class:`~HoloLoom.memory.BaseStore`;
            in tests, ``HoloLoom.testing.FakeStore()``).
        embedder: an Embedder to use instead of the packaged MiniLM model (in tests,
            ``HoloLoom.testing.HashEmbedder()``: no model is loaded).
        extractor: an EntityExtractor to use instead of the rule-based one.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        namespace: str | None = None,
        settings: Settings | None = None,
        store: BaseStore | None = None,
        embedder: Embedder | None = None,
        extractor: EntityExtractor | None = None,
    ) -> None:
        if settings is None:
            settings = Settings.from_env(home=home, namespace=namespace)  # Settings validates both
        if home is not None:
            settings = settings.with_(home=home)  # Settings validates it
        if namespace is not None:
            settings = settings.with_(namespace=validate_namespace(namespace))
        if store is not None and not isinstance(store, BaseStore):
            raise ConfigurationError(
                f"store must derive from HoloLoom.memory.BaseStore, not {type(store).__name__}"
            )
        self.settings = settings
        self.embedder: Embedder = embedder or SentenceTransformerEmbedder.shared(
            settings.model_path, batch_size=settings.embed_batch_size
        )
        self.extractor: EntityExtractor = extractor or RuleBasedExtractor()
        self._store = store
        self._crawler: MultipassCrawler | None = None
        self._ingestor: Ingestor | None = None
        self._orchestrator: WeavingOrchestrator | None = None
        self._seed = settings.seed
        self._closed = False

    @classmethod
    def from_env(cls, **kwargs: Any) -> "HoloLoom":
        """Build from ``HOLOLOOM_*`` environment variables (what ``HoloLoom()`` does too)."""
        return cls(settings=Settings.from_env(), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def store(self) -> BaseStore:
        if self._store is None:
            self._store = create_store(self.settings, dimension=self.embedder.dimension)
        return self._store

    @property
    def crawler(self) -> MultipassCrawler:
        if self._crawler is None:
            self._crawler = MultipassCrawler(self.store, self.embedder, extractor=self.extractor)
        return self._crawler

    @property
    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            self._ingestor = Ingestor(
                self.store, self.embedder, self.extractor,
                chunk_chars=self.settings.chunk_chars, max_text_chars=self.settings.max_text_chars,
                entity_keys=self.settings.entity_keys, thread_keys=self.settings.thread_keys,
            )
        return self._ingestor

    @property
    def home(self) -> HomeLayout:
        """The files under this loom's ``HOLOLOOM_HOME``."""
        return self.settings.layout

    @property
    def orchestrator(self) -> "WeavingOrchestrator":
        """The WeavingOrchestrator behind weave() and feedback()."""
        if self._orchestrator is None:
            from .routing import LearnedWeaveRouter, Policy
            from .weaving import FixedRouter, WeavingOrchestrator
            from .weaving.routing_seam import Router

            home = self.home
            policy = Policy(home.policy, seed=self._seed)  # one learner: arms and tools
            router: Router = (LearnedWeaveRouter(self.store, policy) if self.settings.routing == "learned"
                              else FixedRouter(self.store))
            self._orchestrator = WeavingOrchestrator(
                self.store, self.embedder, self.extractor, home=home, router=router, policy=policy,
                crawler=self.crawler,
            )
        return self._orchestrator

    @property
    def events(self) -> "EventBus":
        """The EventBus every weave publishes its typed stage events on (subscribe to observe)."""
        return self.orchestrator.bus

    def register_tool(self, name: str, tool: "Tool") -> None:
        """Add an async tool ``tool(ctx: ToolContext) -> ToolResult`` that weave may choose or be told to use.

        Raises:
            ValidationError: a bad name, or ``tool`` is not an async function.
        """
        self.orchestrator.tools.register(check("name", name, ToolName), tool)

    @validated
    async def weave(
        self,
        query: Query,
        *,
        complexity: Level | None = None,
        namespace: Namespace | None = None,
        since: Instant | None = None,
        until: Instant | None = None,
        where: Where | None = None,
        tool: ToolName | None = None,
        limit: Limit | None = None,
        budget_ms: BudgetMs | None = None,
        now: Instant | None = None,
    ) -> Spacetime:
        """Run the nine-stage pipeline and return a Spacetime (result + timed provenance).

        Args:
            complexity: force a level instead of detecting it.
            tool: force a tool ("answer", "search", "summarize" or one you registered).
            limit: how many context items reach the tool (default: the card's).
            budget_ms: override the card's time budget.
            now: the time "last March" or "two weeks ago" is counted from (default: the clock).
        """
        return await self.orchestrator.weave(
            query, namespace=self._namespace(namespace), complexity=complexity, since=since, until=until,
            where=where, tool=tool, limit=limit, budget_ms=budget_ms, now=now,
        )

    @validated
    async def feedback(
        self, spacetime_id: SpacetimeId, reward: Reward | None = None, *, useful: Useful | None = None,
        namespace: Namespace | None = None,
    ) -> dict[str, Any]:
        """Tell HoloLoom how good a weave was: ``reward`` in [0, 1] or ``useful=True/False``.

        ``namespace`` restricts the lookup to that tenant's weaves (what a multi-tenant
        server passes, so one tenant cannot credit another's).
        """
        return await self.orchestrator.feedback(spacetime_id, reward, useful=useful, namespace=namespace)

    async def open(self, *, load_model: bool = True) -> "HoloLoom":
        """Open the store and load the model now, so the first question pays neither.

        Args:
            load_model: False for work that never embeds (counting, deleting, feedback):
                the model is then loaded on first use, if ever.
        """
        await self.store.open()
        warmup = getattr(self.embedder, "warmup", None)
        if warmup is not None and load_model:
            await warmup()
        return self

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._orchestrator is not None:
                self._orchestrator.close()  # saves what the policy learned
            if self._store is not None:
                await self._store.close()

    async def __aenter__(self) -> "HoloLoom":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _namespace(self, namespace: str | None) -> str:
        return validate_namespace(namespace if namespace is not None else self.settings.namespace)

    # -- writes ------------------------------------------------------------------------

    @validated
    async def add(
        self,
        items: Annotated[str | Document | Mapping[str, Any] | Sequence[str | Document | Mapping[str, Any]], SkipValidation],
        *,
        metadata: Metadata | None = None,
        namespace: Namespace | None = None,
        entities: EntityNames | None = None,
        occurred_at: Instant | None = None,
        title: Title | None = None,
        id: ShardId | None = None,
    ) -> AddResult:
        """Remember one text, many texts, or Documents.

        Long texts are chunked; entities and motifs are extracted; texts are embedded in
        batches of up to 256, each batch's store write overlapping the next one's encoding;
        content already stored is not embedded again.

        Raises:
            ValidationError: bad input; nothing was written.
        """
        ns = self._namespace(namespace)
        docs = self.ingestor.normalise(
            items, metadata=metadata, entities=entities, occurred_at=occurred_at, title=title, id=id
        )
        return await self.ingestor.add(docs, ns)

    @validated
    async def delete(self, ids: ShardIds, *, namespace: Namespace | None = None) -> int:
        """Forget shards by id (one id or a list); returns how many existed."""
        return await self.store.delete(ids, namespace=self._namespace(namespace))

    @validated
    async def forget_namespace(self, namespace: Namespace | None = None) -> int:
        """Forget every shard of a namespace."""
        return await self.store.delete_namespace(self._namespace(namespace))

    # -- reads -------------------------------------------------------------------------

    @validated
    async def get(self, id: ShardId, *, namespace: Namespace | None = None) -> MemoryShard | None:
        found = await self.store.get([id], namespace=self._namespace(namespace))
        return found[0] if found else None

    @validated
    def search_filter(
        self, namespace: Namespace | None = None, *, since: Instant | None = None, until: Instant | None = None,
        where: Where | None = None,
    ) -> SearchFilter:
        return SearchFilter(namespace=self._namespace(namespace), since=since, until=until, where=where or {})

    @validated
    async def crawl(
        self,
        query: Query,
        *,
        complexity: Level = Complexity.FAST,
        limit: Limit | None = 10,
        namespace: Namespace | None = None,
        since: Instant | None = None,
        until: Instant | None = None,
        where: Where | None = None,
        plan: CrawlPlan | None = None,
    ) -> CrawlResult:
        """Like :meth:`recall`, returning the crawl's per-pass reports too."""
        return await self._crawl(query, complexity, limit, namespace, since, until, where, plan)

    async def _crawl(
        self, query: str, complexity: Complexity, limit: int | None, namespace: str | None, since: float | None,
        until: float | None, where: dict[str, Any] | None, plan: CrawlPlan | None = None,
    ) -> CrawlResult:
        flt = SearchFilter(namespace=self._namespace(namespace), since=since, until=until, where=where or {})
        return await self.crawler.crawl(query, flt, complexity=complexity, limit=limit, plan=plan)

    @validated
    async def recall(
        self,
        query: Query,
        *,
        complexity: Level = Complexity.FAST,
        limit: Limit | None = 10,
        namespace: Namespace | None = None,
        since: Instant | None = None,
        until: Instant | None = None,
        where: Where | None = None,
    ) -> list[ScoredShard]:
        """The memories that best answer ``query``, each saying how it was found.

        Args:
            complexity: LITE (one pass) .. RESEARCH (four passes, widest graph search).
            since, until: only memories whose ``occurred_at`` lies in this window.
            where: metadata equalities, e.g. ``{"speaker": "Ana"}``.
        """
        result = await self._crawl(query, complexity, limit, namespace, since, until, where)
        return result.items

    @validated
    async def count(self, *, namespace: Namespace | None = None) -> int:
        return await self.store.count(self._namespace(namespace))

    async def stats(self) -> dict[str, Any]:
        """Store size per namespace and backend health."""
        started = time.perf_counter()
        namespaces = await self.store.namespaces()
        per_ns = {ns: await self.store.count(ns) for ns in namespaces}
        return {
            "backend": self.store.name,
            "home": str(self.settings.home),
            "namespaces": per_ns,
            "shards": sum(per_ns.values()),
            "health": await self.store.health(),
            "embedder": self.embedder.name,
            "elapsed_ms": (time.perf_counter() - started) * 1000,
        }
