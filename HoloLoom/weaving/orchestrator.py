"""The WeavingOrchestrator: runs the nine stages of :mod:`.stages` from a question to a Spacetime.

A weave is a :class:`~.context.WeaveContext` passed through :data:`~.stages.STAGES` in
order; each stage runs between its start and end events, and its end record (timing and
data) is the Spacetime's trace. What is slow and not the caller's answer happens off the
event loop: the weave and feedback logs are written by a subscriber on its own thread
(:mod:`.log_writer`), and the learner's periodic saves are queued on the same thread.

The budget measures the weave, not one-time warm-up: the first weave of a namespace in
a process first loads the model and runs one unbudgeted probe crawl (first inference,
index reads, worker threads), then starts the clock.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..crawl import MultipassCrawler
from ..embedding import Embedder
from ..errors import HoloLoomError, InvalidFeedbackError, NotFoundError, StoreError, ValidationError
from ..extraction import EntityExtractor
from ..home import HomeLayout
from ..jsonl import JsonlLog
from ..memory.base import MemoryStore
from ..routing.policy import Policy
from ..types import Complexity, SearchFilter, to_timestamp
from .context import WeaveContext, WeaveRequest, WeaveServices
from .convergence import SPACE as TOOL_SPACE, ToolChooser
from .events import EventBus, FeedbackGiven, Stage, StageEnded, StageStarted, WeaveEnded, WeaveStarted
from .log_writer import Background, WeaveLogWriter
from .patterns import DEFAULT_CARDS, PatternCard
from .query_types import QueryClassifier, intent_of
from .routing_seam import FixedRouter, RouteDecision, Router
from .spacetime import Spacetime, StageRecord, plain
from .stages import RECOVERY, STAGES, StageFn
from .tools import ToolRegistry

__all__ = ["WeavingOrchestrator"]

_ID_CHARS = set("0123456789abcdef")


def _check_weave_id(weave_id: object) -> str:
    if not isinstance(weave_id, str) or len(weave_id) != 32 or not set(weave_id) <= _ID_CHARS:
        raise InvalidFeedbackError(f"malformed spacetime id {weave_id!r}: expected 32 hexadecimal characters")
    return weave_id


class WeavingOrchestrator:
    """Runs weaves over one configured store (or what the router picks).

    Args:
        store: the default store (the FixedRouter's).
        embedder, extractor: embed the query; find its entities.
        home: the ``HOLOLOOM_HOME`` whose weave log, feedback log and (without ``policy``)
            policy state to use (None: memory only).
        router: stage 3's decision maker; default: FixedRouter(store).
        policy: the learner behind the tool choice (share it with a learned router);
            default: one saved in the home's ``policy.json``.
        crawler: the crawler over ``store`` (the facade's); others are built once per store.
        classifier: reads each query's type once (default: the router's, else the built-in rules).
        cards: per-level PatternCards.
        clock: monotonic seconds (inject a fake one to test budgets).
        seed: seeds the default policy's sampler.
        remember: how many recent weaves feedback can find without reading the log.
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        extractor: EntityExtractor,
        *,
        home: HomeLayout | str | Path | None = None,
        router: Router | None = None,
        policy: Policy | None = None,
        crawler: MultipassCrawler | None = None,
        classifier: QueryClassifier | None = None,
        cards: Mapping[Complexity, PatternCard] | None = None,
        tools: ToolRegistry | None = None,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.perf_counter,
        seed: int | None = None,
        remember: int = 1000,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.extractor = extractor
        self.home = home if isinstance(home, HomeLayout) or home is None else HomeLayout(home)
        self.router: Router = router or FixedRouter(store)
        self.cards = dict(cards or DEFAULT_CARDS)
        self.tools = tools or ToolRegistry()
        self.bus = bus or EventBus()
        self.clock = clock
        if policy is None:
            policy = Policy(self.home.policy if self.home else None, seed=seed)
        self.policy = policy
        self.chooser = ToolChooser(policy)
        self.background = Background()
        policy.defer_saves(self.background.submit)
        self._crawlers: dict[int, MultipassCrawler] = {}
        if crawler is not None:
            self._crawlers[id(crawler.store)] = crawler
        self.services = WeaveServices(
            cards=self.cards, router=self.router, embedder=embedder, extractor=extractor, tools=self.tools,
            chooser=self.chooser, crawler_for=self.crawler_for, clock=clock,
            classifier=classifier if classifier is not None else getattr(self.router, "classifier", None),
        )
        self._warm: set[str] = set()  # namespaces whose one-time warm-up is done
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._remember = remember
        self._counts: dict[str, tuple[float, int]] = {}
        self._counting: set[str] = set()
        self.log = JsonlLog(self.home.weaves) if self.home else None
        if self.home is not None:
            writer = WeaveLogWriter(self.log, JsonlLog(self.home.feedback), self.background,
                                    memory_count=self._known_count)
            self.bus.subscribe(writer)

    def crawler_for(self, store: MemoryStore) -> MultipassCrawler:
        """The crawler over ``store``, built once."""
        crawler = self._crawlers.get(id(store))
        if crawler is None or crawler.store is not store:
            crawler = self._crawlers[id(store)] = MultipassCrawler(store, self.embedder, extractor=self.extractor,
                                                                   clock=self.clock)
        return crawler

    # -- the weave ---------------------------------------------------------------------

    async def weave(
        self,
        query: str,
        *,
        namespace: str,
        complexity: Complexity | str | None = None,
        since: object = None,
        until: object = None,
        where: Mapping[str, Any] | None = None,
        tool: str | None = None,
        limit: int | None = None,
        budget_ms: float | None = None,
        now: object = None,
    ) -> Spacetime:
        """Weave an answer to ``query``; see :mod:`.stages` for what each stage does.

        Raises:
            ValidationError: bad input (before any stage runs).
            StoreError: the backend failed (the failure is also recorded for routing).
        """
        request = self._request(query, namespace, complexity, since, until, where, tool, limit, budget_ms, now)
        await self._warm_up(namespace)
        w = WeaveContext(request=request, weave_id=uuid.uuid4().hex, started=self.clock(), started_wall=time.time())
        bus = self.bus
        if bus.has_subscribers:
            await bus.publish(WeaveStarted(weave_id=w.weave_id, query=query, namespace=namespace))
        for stage, run in STAGES:
            await self._run_stage(w, stage, run)
        spacetime = self._spacetime(w)
        self._record_outcome(w.route, w.tool if w.tool_learned and not w.errors else None)
        self._remember_weave(spacetime, w)
        await self._refresh_count(namespace)
        if bus.has_subscribers:
            await bus.publish(WeaveEnded(weave_id=w.weave_id, spacetime=spacetime))
        return spacetime

    def _request(self, query: str, namespace: str, complexity: Complexity | str | None, since: object, until: object,
                 where: Mapping[str, Any] | None, tool: str | None, limit: int | None, budget_ms: float | None,
                 now: object) -> WeaveRequest:
        """The checked request (the facade validated its own arguments; direct callers get the same errors)."""
        forced = Complexity.parse(complexity) if complexity is not None else None
        if tool is not None and tool not in self.tools:
            self.tools.get(tool)  # raises the helpful "unknown tool" error
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            raise ValidationError("limit must be a positive integer")
        if budget_ms is not None and (not isinstance(budget_ms, (int, float)) or budget_ms <= 0):
            raise ValidationError("budget_ms must be a positive number")
        since_ts, until_ts = to_timestamp(since, name="since"), to_timestamp(until, name="until")
        if since_ts is not None and until_ts is not None and since_ts > until_ts:
            raise ValidationError("since must not be later than until")
        return WeaveRequest(query=query, namespace=namespace, complexity=forced, since=since_ts, until=until_ts,
                            where=dict(where or {}), tool=tool, limit=limit, budget_ms=budget_ms,
                            now=to_timestamp(now, name="now"))

    async def _run_stage(self, w: WeaveContext, stage: Stage, run: StageFn,
                         start_data: Mapping[str, Any] | None = None) -> None:
        """Run one stage between its start and end events; its end record joins the trace.

        A store failure in a stage with a recovery (the crawl's fail-over) is retried once.
        """
        bus = self.bus
        if bus.has_subscribers:
            await bus.publish(StageStarted(weave_id=w.weave_id, stage=stage, data=start_data or {}))
        started_at, started = time.time(), self.clock()
        try:
            data, error = await run(w, self.services), None
        except BaseException as exc:
            data, error = {}, exc
        ended = StageEnded(weave_id=w.weave_id, stage=stage, started_at=started_at,
                           duration_ms=(self.clock() - started) * 1000.0, data=plain(data),
                           error=None if error is None else f"{type(error).__name__}: {error}")
        w.stages.append(StageRecord.of(ended))
        if bus.has_subscribers:
            await bus.publish(ended)
        if error is None:
            return
        recover = RECOVERY.get(stage)
        if isinstance(error, StoreError) and recover is not None and start_data is None:
            retry = await recover(w, self.services, error)
            if retry is not None:
                return await self._run_stage(w, stage, run, retry)
        raise error

    def _spacetime(self, w: WeaveContext) -> Spacetime:
        route, card, result = w.route, w.card, w.tool_result
        return Spacetime(
            id=w.weave_id, query=w.request.query, namespace=w.request.namespace, complexity=card.complexity,
            backend=route.store.name, strategy=route.strategy, tool=w.tool, response=result.response,
            confidence=w.confidence, context=tuple(w.context), stages=tuple(w.stages), created_at=w.started_wall,
            duration_ms=(self.clock() - w.started) * 1000.0, citations=tuple(result.citations),
            warnings=tuple(w.warnings), errors=tuple(w.errors), degraded=w.degraded,
            routing=plain({"arm": route.arm, "strategy": route.strategy, **dict(route.info)}),
            tool_output=plain(result.data),
        )

    async def _warm_up(self, namespace: str) -> None:
        """Pay one-time costs before the budget's clock: model load, first inference, first reads.

        One unbudgeted probe crawl at the FULL plan touches every path a weave takes. A
        failure here is left for the weave itself to report.
        """
        if namespace in self._warm:
            return
        self._warm.add(namespace)
        warmup = getattr(self.embedder, "warmup", None)  # part of the packaged embedder, not the protocol
        try:
            if warmup is not None:
                await warmup()
            await self.crawler_for(self.store).crawl("warm-up probe: who, what and where",
                                                     SearchFilter(namespace=namespace),
                                                     plan=self.cards[Complexity.FULL].plan)
        except HoloLoomError:
            pass

    def _record_outcome(self, decision: RouteDecision, learned_tool: str | None) -> None:
        """What every weave teaches: its arm (and the tool the policy chose) could serve.

        In memory, in weave order (the next weave's route reads it); the policy's
        autosave is handed to the background thread.
        """
        self.router.record(decision, success=True)
        if learned_tool is not None:
            self.chooser.outcome(learned_tool, ok=True)

    async def _refresh_count(self, namespace: str) -> None:
        """Keep the namespace's memory count (for the weave log) at most a second old, without waiting on it.

        Only the first weave of a namespace waits for the count; later ones refresh it in
        the background.
        """
        cached = self._counts.get(namespace)
        if cached is not None and self.clock() - cached[0] < 1.0:
            return
        if cached is None:
            await self._count(namespace)
        elif namespace not in self._counting:
            self._counting.add(namespace)
            asyncio.get_running_loop().create_task(self._count(namespace))

    async def _count(self, namespace: str) -> None:
        try:
            self._counts[namespace] = (self.clock(), await self.store.count(namespace))
        except HoloLoomError:
            pass
        finally:
            self._counting.discard(namespace)

    def _known_count(self, namespace: str) -> int | None:
        cached = self._counts.get(namespace)
        return cached[1] if cached else None

    def flush(self) -> None:
        """Block until the logs and the learner's bookkeeping hold every weave so far."""
        self.background.flush()

    def close(self) -> None:
        """Write what is queued and save what the policy learned."""
        self.background.close()
        self.policy.close()

    # -- feedback ----------------------------------------------------------------------

    def _remember_weave(self, st: Spacetime, w: WeaveContext) -> None:
        self._recent[st.id] = {"id": st.id, "query": st.query, "namespace": st.namespace, "tool": st.tool,
                               "arm": st.routing.get("arm"), "intent": w.features.intent, "routing": st.routing,
                               "tool_learned": w.tool_learned}
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)

    def _find_weave(self, weave_id: str) -> dict[str, Any]:
        if weave_id in self._recent:
            return self._recent[weave_id]
        self.flush()  # a weave of this process may still be on its way to the log
        record = self.log.find(weave_id) if self.log is not None else None
        if record is None:
            raise NotFoundError(f"no recent weave with id {weave_id}")
        return record

    async def feedback(self, weave_id: str, reward: float | None = None, *, useful: bool | None = None,
                       namespace: str | None = None) -> dict[str, Any]:
        """Credit a weave: ``reward`` in [0, 1], or ``useful=True/False``.

        With ``namespace``, only a weave of that namespace is found (another tenant's
        weave is reported as not found, as if it did not exist).

        Teaches the policy about the choices it made for that weave: the tool (unless the
        caller forced it) and the arm (when routing is learned). Feedback given again for
        the same weave in this process replaces the earlier one.
        """
        reward = _check_feedback(weave_id, reward, useful)
        entry = await asyncio.to_thread(self._find_weave, weave_id)
        if namespace is not None and entry.get("namespace", namespace) != namespace:
            raise NotFoundError(f"no recent weave with id {weave_id}")
        previous = entry.get("feedback")
        learned = _tool_was_learned(entry)
        arm = entry.get("arm") or (entry.get("routing") or {}).get("arm")  # a log record keeps it in its routing
        intent = entry.get("intent") or intent_of(entry["query"])
        if learned:
            await asyncio.to_thread(self.chooser.learn, intent, entry["tool"], reward, replaces=previous)
        await asyncio.to_thread(self.router.feedback, entry.get("routing") or {}, reward, replaces=previous)
        entry["feedback"] = reward
        alpha, beta = self.policy.posterior(TOOL_SPACE, intent, entry["tool"])
        result = {"id": weave_id, "tool": entry["tool"], "reward": reward, "tool_posterior": {"alpha": alpha, "beta": beta},
                  "tool_learned": learned, "arm": arm}
        await self.bus.publish(FeedbackGiven(weave_id=weave_id, reward=reward, tool=entry["tool"], arm=arm,
                                             tool_learned=learned))
        return result


def _check_feedback(weave_id: object, reward: object, useful: object) -> float:
    """The reward in [0, 1] that ``reward`` or ``useful`` gives; raises InvalidFeedbackError."""
    _check_weave_id(weave_id)
    if (reward is None) == (useful is None):
        raise InvalidFeedbackError("give exactly one of reward (0..1) or useful (True/False)")
    if useful is not None:
        if not isinstance(useful, bool):
            raise InvalidFeedbackError("useful must be True or False")
        reward = 1.0 if useful else 0.0
    if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not (0.0 <= float(reward) <= 1.0):
        raise InvalidFeedbackError(f"reward must be a number in [0, 1], got {reward!r}")
    return float(reward)


def _tool_was_learned(entry: Mapping[str, Any]) -> bool:
    """Whether the policy chose the weave's tool (not the caller, not a spent budget)."""
    if "tool_learned" in entry:
        return bool(entry["tool_learned"])
    return any(s.get("stage") == Stage.CONVERGE.value and (s.get("data") or {}).get("learned")
               for s in entry.get("stages") or ())
