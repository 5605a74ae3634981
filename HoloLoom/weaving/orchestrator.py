"""The WeavingOrchestrator: nine real stages from a question to a Spacetime.

    1 pattern    detect the complexity level (or take the caller's) -> PatternCard
    2 temporal   the time window, from options or the query's own words
    3 route      the Router picks the backend/strategy (a seam: learned routing plugs in)
    4 features   embed once, Matryoshka scales, keywords, entities, intent
    5 crawl      MultipassCrawler over the chosen store, within the time budget
    6 fuse       dedup + diversity-aware rerank -> the context
    7 converge   Thompson sampling over the card's tools, given the intent
    8 execute    run the tool; a failing tool is reported, not raised
    9 spacetime  assemble the result and its trace (from the event stream)

Every stage publishes start/end events on the EventBus; the trace is recorded from them.
The card's time budget is enforced: when it is spent, crawl passes stop, the rerank is
skipped, the tool choice falls back to the card's first tool, and the Spacetime is
marked degraded with a warning naming what was cut. The budget measures the weave, not
one-time warm-up: the first weave of a namespace in a process first loads the model and
runs one unbudgeted probe crawl (first inference, index reads, worker threads), then
starts the clock.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import replace
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..crawl import MultipassCrawler, PassReport
from ..embedding import Embedder
from ..errors import HoloLoomError, InvalidFeedbackError, NotFoundError, StoreError, ValidationError
from ..extraction import EntityExtractor
from ..types import Complexity, ScoredShard, SearchFilter, to_timestamp
from .convergence import SPACE as TOOL_SPACE, ToolChooser, intent_of
from .events import EventBus, LoomEvent, Stage, TraceRecorder
from .patterns import DEFAULT_CARDS, PatternCard, detect_complexity
from .routing_seam import FixedRouter, RouteDecision, Router
from .spacetime import Spacetime, StageRecord, jsonable
from .stages import extract_features, fuse
from .supersession import apply_supersession
from .temporal import prefer_window, resolve_window
from .tools import ToolContext, ToolRegistry, ToolResult
from .weave_log import WeaveLog, process_rss_mb

__all__ = ["WeavingOrchestrator"]

_ID_CHARS = set("0123456789abcdef")


def _check_weave_id(weave_id: object) -> str:
    if not isinstance(weave_id, str) or len(weave_id) != 32 or not set(weave_id) <= _ID_CHARS:
        raise InvalidFeedbackError(f"malformed spacetime id {weave_id!r}: expected 32 hexadecimal characters")
    return weave_id


class _Budget:
    """The card's time budget, counted from the start of the weave."""

    def __init__(self, clock: Callable[[], float], started: float, budget_ms: float) -> None:
        self.clock = clock
        self.deadline = started + budget_ms / 1000.0
        self.cut: list[str] = []  # the stages it cut short

    @property
    def spent(self) -> bool:
        return self.clock() >= self.deadline


class WeavingOrchestrator:
    """Runs weaves over one configured store (or what the router picks).

    Args:
        store: the default store (the FixedRouter's).
        embedder, extractor: as for the crawler.
        state_dir: where the weave log (and, without ``policy``, the policy state) live
            (None: memory only).
        router: stage 3's decision maker; default: FixedRouter(store).
        policy: the learner behind the tool choice (share it with a learned router);
            default: one saved in ``state_dir/policy.json``.
        cards: per-level PatternCards.
        clock: monotonic seconds (inject a fake one to test budgets).
        seed: seeds the default policy's sampler.
    """

    def __init__(
        self,
        store: Any,
        embedder: Embedder,
        extractor: EntityExtractor,
        *,
        state_dir: str | Path | None = None,
        router: Router | None = None,
        policy: Any = None,
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
        self.state_dir = Path(state_dir) if state_dir else None
        self.router: Router = router or FixedRouter(store)
        self.cards = dict(cards or DEFAULT_CARDS)
        self.tools = tools or ToolRegistry()
        self.bus = bus or EventBus()
        self.clock = clock
        if policy is None:
            from ..routing.policy import Policy

            policy = Policy(self.state_dir / "policy.json" if self.state_dir else None, seed=seed)
        self.policy = policy
        self.chooser = ToolChooser(policy)
        self._warm: set[str] = set()  # namespaces whose one-time warm-up is done
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._counts: dict[str, tuple[float, int]] = {}
        self.log = WeaveLog(self.state_dir / "weaves.jsonl") if self.state_dir else None
        # Feedback as it is given, for other processes (the dashboard's feedback rate).
        self.feedback_log = WeaveLog(self.state_dir / "feedback.jsonl") if self.state_dir else None
        self._remember = remember

    # -- events ------------------------------------------------------------------------

    async def _emit(self, kind: str, phase: str, weave_id: str, stage: Stage | None = None, *,
                    duration_ms: float | None = None, data: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        await self.bus.publish(LoomEvent(kind=kind, phase=phase, weave_id=weave_id, stage=stage,
                                         duration_ms=duration_ms, data=dict(data or {}), error=error))

    async def _run_stage(self, weave_id: str, stage: Stage, fn: Callable[[], Any], start_data: Mapping[str, Any] | None = None) -> Any:
        """Run one stage between its start and end events; fn returns (value, end data)."""
        await self._emit("stage", "start", weave_id, stage, data=start_data)
        started = self.clock()
        try:
            value, data = await fn()
        except BaseException as exc:
            await self._emit("stage", "end", weave_id, stage, duration_ms=(self.clock() - started) * 1000.0,
                             error=f"{type(exc).__name__}: {exc}")
            raise
        await self._emit("stage", "end", weave_id, stage, duration_ms=(self.clock() - started) * 1000.0, data=data)
        return value

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
        """Weave an answer to ``query``; see the module docstring for the stages.

        Raises:
            ValidationError: bad input (before any stage runs).
            StoreError: the backend failed (the failure is also recorded for routing).
        """
        forced = Complexity.parse(complexity) if complexity is not None else None
        if tool is not None and tool not in self.tools:
            self.tools.get(tool)  # raises the helpful "unknown tool" error
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            raise ValidationError("limit must be a positive integer")
        if budget_ms is not None and (not isinstance(budget_ms, (int, float)) or budget_ms <= 0):
            raise ValidationError("budget_ms must be a positive number")
        reference_time = to_timestamp(now, name="now")
        await self._warm_up(namespace)
        weave_id = uuid.uuid4().hex
        recorder = TraceRecorder(weave_id)
        unsubscribe = self.bus.subscribe(recorder)
        wall_start, started = time.time(), self.clock()
        warnings: list[str] = []
        errors: list[str] = []
        try:
            await self._emit("weave", "start", weave_id, data={"query": query, "namespace": namespace})

            # 1 pattern
            async def pattern():
                level = forced or detect_complexity(query)
                card = self.cards[level]
                if budget_ms is not None:
                    card = card.with_budget(float(budget_ms))
                return card, {"complexity": level.value, "detected": forced is None, "budget_ms": card.budget_ms,
                              "passes": len(card.plan.passes), "tools": list(card.tools)}

            card: PatternCard = await self._run_stage(weave_id, Stage.PATTERN, pattern)
            budget = _Budget(self.clock, started, card.budget_ms)

            # 2 temporal
            async def temporal():
                window = resolve_window(query, since=since, until=until,
                                        now=reference_time if reference_time is not None else time.time())
                return window, {"since": window.since, "until": window.until, "source": window.source, "phrase": window.phrase}

            window = await self._run_stage(weave_id, Stage.TEMPORAL, temporal)
            flt = SearchFilter(namespace=namespace, since=window.since, until=window.until, where=dict(where or {}))

            # 3 route
            async def route():
                decision = self.router.select(query, card.plan)
                return decision, {"arm": decision.arm, "strategy": decision.strategy, "backend": decision.store.name,
                                  **{k: v for k, v in decision.info.items() if k in ("query_type", "explored", "posterior")}}

            decision: RouteDecision = await self._run_stage(weave_id, Stage.ROUTE, route)

            # 4 features
            async def features():
                f = await extract_features(query, self.embedder, self.extractor, card.scales)
                return f, f.summary()

            feats = await self._run_stage(weave_id, Stage.FEATURES, features)

            # 5 crawl
            crawl_store = decision.store
            crawler = MultipassCrawler(crawl_store, self.embedder, extractor=self.extractor, clock=self.clock)
            plan = decision.plan or card.plan

            async def crawl():
                reports: list[PassReport] = []
                windowed = crawler.crawl(query, flt, plan=plan, query_vector=feats.vector, deadline=budget.deadline,
                                         on_pass=reports.append)
                if window.source == "query":
                    # A phrase like "from April" may date the question's subject, not the notes:
                    # the best memories outside the window join at a discount (see temporal.py).
                    unbounded = crawler.crawl(query, SearchFilter(namespace=namespace, where=dict(where or {})),
                                              plan=plan, query_vector=feats.vector, deadline=budget.deadline)
                    result, everywhere = await asyncio.gather(windowed, unbounded)
                else:
                    result, everywhere = await windowed, None
                data: dict[str, Any] = {"passes": [_pass_dict(p) for p in result.passes], "found": len(result.items),
                                        "stopped_early": result.stopped_early}
                if everywhere is not None:
                    if not result.items:
                        warnings.append(f"no memories dated {window.phrase!r}; searched all dates")
                    result = replace(result, items=prefer_window(result.items, everywhere.items, window=window),
                                     stopped_early=result.stopped_early or everywhere.stopped_early)
                    data.update(found=len(result.items), window_relaxed=not data["found"],
                                outside_window=sum("outside-window" in i.paths for i in result.items))
                if result.stopped_early:
                    budget.cut.append("crawl")
                return result, data

            try:
                crawl_result = await self._run_stage(weave_id, Stage.CRAWL, crawl)
            except StoreError as exc:
                # The arm's store failed: that is a failure for the router (traffic moves
                # away), and the weave is retried once on another store if one is configured.
                await asyncio.to_thread(self.router.record, decision, success=False)
                find_fallback = getattr(self.router, "fallback", None)
                alternative = find_fallback(decision, card.plan) if find_fallback is not None else None
                if alternative is None:
                    raise
                warnings.append(f"backend {decision.store.name!r} (arm {decision.arm}) failed: {exc}; "
                                f"answered from arm {alternative.arm}")
                decision = alternative
                crawler = MultipassCrawler(decision.store, self.embedder, extractor=self.extractor, clock=self.clock)
                plan = decision.plan or card.plan
                crawl_result = await self._run_stage(weave_id, Stage.CRAWL, crawl, {"retry_of": alternative.info.get("fallback_from")})
            items = crawl_result.items

            # 6 fuse
            context_limit = limit or card.context_limit

            async def fusion():
                if budget.spent:
                    budget.cut.append("fuse")
                    fused, info = list(items[:context_limit]), {"skipped": True, "out": min(len(items), context_limit)}
                else:
                    fused, info = fuse(items, limit=context_limit)
                fused, updates = apply_supersession(fused)  # cheap, and never cut: an outdated fact must not lead
                if updates:
                    info["superseded"] = [u.to_dict() for u in updates]
                return fused, info

            context: list[ScoredShard] = await self._run_stage(weave_id, Stage.FUSE, fusion)

            # 7 converge
            async def converge():
                if tool is not None:
                    return tool, {"tool": tool, "forced": True}
                if budget.spent:
                    budget.cut.append("converge")
                    return card.tools[0], {"tool": card.tools[0], "skipped": True}
                candidates = [t for t in card.tools if t in self.tools] + [t for t in self.tools.names() if t not in card.tools and t not in ("answer", "search", "summarize")]
                chosen, info = self.chooser.choose(query, candidates)
                return chosen, {"tool": chosen, "learned": True, **info}

            tool_name: str = await self._run_stage(weave_id, Stage.CONVERGE, converge)
            tool_learned = tool is None and "converge" not in budget.cut  # the policy chose it

            # 8 execute
            async def execute():
                ctx = ToolContext(query=query, complexity=card.complexity, items=tuple(context), keywords=feats.keywords,
                                  entities=feats.entities, namespace=namespace,
                                  extras={"embedder": self.embedder, "query_vector": feats.vector})
                try:
                    result = await self.tools.get(tool_name)(ctx)
                    if not isinstance(result, ToolResult):
                        raise TypeError(f"tool {tool_name!r} returned {type(result).__name__}, not ToolResult")
                    return result, {"tool": tool_name, "confidence": result.confidence, "citations": len(result.citations)}
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a tool's failure is reported, not raised
                    if tool_learned:
                        await asyncio.to_thread(self.chooser.outcome, tool_name, ok=False)
                    errors.append(f"tool {tool_name!r} failed: {type(exc).__name__}: {exc}")
                    fallback = ToolResult("", 0.0)
                    return fallback, {"tool": tool_name, "failed": True, "error": f"{type(exc).__name__}: {exc}"}

            tool_result: ToolResult = await self._run_stage(weave_id, Stage.EXECUTE, execute)

            # 9 spacetime
            async def assemble():
                retrieval_conf = max(0.0, min(1.0, (context[0].score_parts.get("sim", 0.0) / 0.6))) if context else 0.0
                if tool_result.data.get("calibrated"):  # already P(right), retrieval included (see weaving/answer.py)
                    retrieval_conf = 1.0
                confidence = round(max(0.0, min(1.0, tool_result.confidence)) * retrieval_conf, 4)
                if budget.cut:
                    warnings.append(f"time budget of {card.budget_ms:.0f} ms spent: cut {', '.join(budget.cut)}")
                return confidence, {"confidence": confidence, "context": len(context), "degraded": bool(budget.cut or errors)}

            confidence = await self._run_stage(weave_id, Stage.SPACETIME, assemble)
            duration_ms = (self.clock() - started) * 1000.0
            await asyncio.to_thread(self._record_outcome, decision, tool_name if tool_learned and not errors else None)
            await self._emit("weave", "end", weave_id, duration_ms=duration_ms,
                             data={"complexity": card.complexity.value, "tool": tool_name, "arm": decision.arm,
                                   "strategy": decision.strategy, "backend": decision.store.name,
                                   "confidence": confidence, "degraded": bool(budget.cut or errors),
                                   "context": len(context), "query_type": decision.info.get("query_type")})
        finally:
            unsubscribe()
        spacetime = Spacetime(
            id=weave_id, query=query, namespace=namespace, complexity=card.complexity, backend=decision.store.name,
            strategy=decision.strategy, tool=tool_name, response=tool_result.response, confidence=confidence,
            context=tuple(context), stages=tuple(StageRecord.from_events(recorder.events)), created_at=wall_start,
            duration_ms=duration_ms, citations=tuple(tool_result.citations), warnings=tuple(warnings),
            errors=tuple(errors), degraded=bool(budget.cut or errors),
            routing=jsonable({"arm": decision.arm, "strategy": decision.strategy, **dict(decision.info)}),
            tool_output=jsonable(tool_result.data),
        )
        await self._remember_weave(spacetime, tool_learned=tool_learned)
        return spacetime

    async def _warm_up(self, namespace: str) -> None:
        """Pay one-time costs before the budget's clock: model load, first inference, first reads.

        One unbudgeted probe crawl at the FULL plan touches every path a weave takes. A
        failure here is left for the weave itself to report.
        """
        if namespace in self._warm:
            return
        self._warm.add(namespace)
        warmup = getattr(self.embedder, "warmup", None)
        try:
            if warmup is not None:
                await warmup()
            crawler = MultipassCrawler(self.store, self.embedder, extractor=self.extractor, clock=self.clock)
            await crawler.crawl("warm-up probe: who, what and where", SearchFilter(namespace=namespace),
                                plan=self.cards[Complexity.FULL].plan)
        except HoloLoomError:
            pass

    def _record_outcome(self, decision: RouteDecision, learned_tool: str | None) -> None:
        """What every weave teaches: its arm (and the tool the policy chose) could serve."""
        self.router.record(decision, success=True)
        if learned_tool is not None:
            self.chooser.outcome(learned_tool, ok=True)

    def close(self) -> None:
        """Save what the policy learned."""
        self.policy.close()

    # -- feedback ----------------------------------------------------------------------

    async def _remember_weave(self, st: Spacetime, *, tool_learned: bool) -> None:
        entry = {"id": st.id, "query": st.query, "namespace": st.namespace, "tool": st.tool, "arm": st.routing.get("arm"),
                 "complexity": st.complexity.value, "created_at": st.created_at, "routing": dict(st.routing),
                 "tool_learned": tool_learned}
        self._recent[st.id] = entry
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        if self.log is not None:
            record = st.to_dict()
            record["process"] = {"pid": os.getpid(), "rss_mb": round(process_rss_mb(), 1),
                                 "memory_count": await self._memory_count(st.namespace)}
            self.log.append(record)

    async def _memory_count(self, namespace: str) -> int | None:
        """The namespace's size, refreshed at most once a second (it is for dashboards)."""
        now = self.clock()
        cached = self._counts.get(namespace)
        if cached is not None and now - cached[0] < 1.0:
            return cached[1]
        try:
            count = await self.store.count(namespace)
        except HoloLoomError:
            return cached[1] if cached else None
        self._counts[namespace] = (now, count)
        return count

    def _find_weave(self, weave_id: str) -> dict[str, Any]:
        if weave_id in self._recent:
            return self._recent[weave_id]
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
        _check_weave_id(weave_id)
        if (reward is None) == (useful is None):
            raise InvalidFeedbackError("give exactly one of reward (0..1) or useful (True/False)")
        if useful is not None:
            if not isinstance(useful, bool):
                raise InvalidFeedbackError("useful must be True or False")
            reward = 1.0 if useful else 0.0
        if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not (0.0 <= float(reward) <= 1.0):
            raise InvalidFeedbackError(f"reward must be a number in [0, 1], got {reward!r}")
        entry = self._find_weave(weave_id)
        if namespace is not None and entry.get("namespace", namespace) != namespace:
            raise NotFoundError(f"no recent weave with id {weave_id}")
        reward = float(reward)
        previous = entry.get("feedback")
        learned = _tool_was_learned(entry)
        if learned:
            await asyncio.to_thread(self.chooser.learn, entry["query"], entry["tool"], reward, replaces=previous)
        await asyncio.to_thread(self.router.feedback, entry.get("routing") or {}, reward, replaces=previous)
        entry["feedback"] = reward
        alpha, beta = self.policy.posterior(TOOL_SPACE, intent_of(entry["query"]), entry["tool"])
        result = {"id": weave_id, "tool": entry["tool"], "reward": reward, "tool_posterior": {"alpha": alpha, "beta": beta},
                  "tool_learned": learned, "arm": entry.get("arm")}
        if self.feedback_log is not None:
            self.feedback_log.append({"spacetime_id": weave_id, "reward": reward, "tool": entry["tool"],
                                      "arm": entry.get("arm"), "timestamp": time.time()})
        await self._emit("feedback", "end", weave_id, data=result)
        return result


def _tool_was_learned(entry: Mapping[str, Any]) -> bool:
    """Whether the policy chose the weave's tool (not the caller, not a spent budget)."""
    if "tool_learned" in entry:
        return bool(entry["tool_learned"])
    return any(s.get("stage") == Stage.CONVERGE.value and (s.get("data") or {}).get("learned")
               for s in entry.get("stages") or ())


def _pass_dict(p: PassReport) -> dict[str, Any]:
    return {"number": p.number, "new": p.new, "kept": p.kept, "dropped_by_threshold": p.dropped_by_threshold,
            "elapsed_ms": round(p.elapsed_ms, 3), "paths": dict(p.paths)}
