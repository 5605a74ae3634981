"""The event stream: every weave announces itself and each of its stages, as typed, frozen records.

One class per lifecycle event (as aiohttp's tracing signals), each a frozen dataclass:

=================  ===========================================================
event              published
=================  ===========================================================
:class:`WeaveStarted`   when a weave begins (its query and namespace)
:class:`StageStarted`   before each of the nine stages
:class:`StageEnded`     after each stage: its duration, key data, or the error
:class:`WeaveEnded`     after the last stage, with the finished :class:`Spacetime`
:class:`FeedbackGiven`  when a weave is credited
=================  ===========================================================

The Spacetime's trace is the weave's :class:`StageEnded` records; the terminal UI's live
progress, the Prometheus metrics and the weave log (hence the dashboard) are subscribers
of an :class:`EventBus`. With no subscriber, publishing costs one check (the no-op default).
A subscriber that raises is logged and skipped: observers never break a weave.
"""

from __future__ import annotations

import enum
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from .spacetime import Spacetime

__all__ = [
    "EventBus",
    "FeedbackGiven",
    "LoomEvent",
    "STAGE_ORDER",
    "Stage",
    "StageEnded",
    "StageStarted",
    "Subscriber",
    "WeaveEnded",
    "WeaveStarted",
]

log = logging.getLogger("HoloLoom.events")


class Stage(str, enum.Enum):
    """The nine stages of a weave, in pipeline order."""

    PATTERN = "pattern"
    TEMPORAL = "temporal"
    ROUTE = "route"
    FEATURES = "features"
    CRAWL = "crawl"
    FUSE = "fuse"
    CONVERGE = "converge"
    EXECUTE = "execute"
    SPACETIME = "spacetime"

    @property
    def loom_name(self) -> str:
        """The product's name for the stage (shown in the UI and docs)."""
        return _LOOM_NAMES[self]

    @property
    def number(self) -> int:
        return STAGE_ORDER.index(self) + 1


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)

_LOOM_NAMES = {
    Stage.PATTERN: "Loom Command",
    Stage.TEMPORAL: "Chrono Trigger",
    Stage.ROUTE: "Shuttle Router",
    Stage.FEATURES: "Resonance Shed",
    Stage.CRAWL: "Yarn Graph",
    Stage.FUSE: "Warp Space",
    Stage.CONVERGE: "Convergence Engine",
    Stage.EXECUTE: "Tool Loom",
    Stage.SPACETIME: "Spacetime",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LoomEvent:
    """What every event carries: the weave it belongs to and when it happened (UTC epoch seconds)."""

    weave_id: str
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveStarted(LoomEvent):
    """A weave began."""

    query: str
    namespace: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StageStarted(LoomEvent):
    """A stage began; ``data`` says what it starts from (a crawl's retry names the failed arm)."""

    stage: Stage
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StageEnded(LoomEvent):
    """A stage finished (or raised: ``error``).

    Attributes:
        started_at: when the stage started (UTC epoch seconds).
        duration_ms: how long it ran.
        data: what it decided or found (plain JSON values).
        error: ``"TypeName: message"`` when the stage raised (the weave is then over).
    """

    stage: Stage
    started_at: float
    duration_ms: float
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def skipped(self) -> bool:
        """The time budget was spent, so the stage took its cheap fallback."""
        return bool(self.data.get("skipped"))


@dataclass(frozen=True, slots=True, kw_only=True)
class WeaveEnded(LoomEvent):
    """A weave finished; ``spacetime`` is what the caller receives."""

    spacetime: "Spacetime"

    @property
    def duration_ms(self) -> float:
        return self.spacetime.duration_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackGiven(LoomEvent):
    """A weave was credited.

    Attributes:
        reward: in [0, 1].
        tool: the weave's tool; ``arm``: its routing arm.
        tool_learned: whether the policy had chosen the tool (so the feedback taught it).
    """

    reward: float
    tool: str
    arm: str | None = None
    tool_learned: bool = False


Subscriber = Callable[[LoomEvent], Union[None, Awaitable[None]]]


class EventBus:
    """Delivers events to subscribers, in subscription order.

    Subscribers may be plain functions or coroutine functions; coroutine subscribers are
    awaited before the weave goes on, so a live display is never behind the pipeline.
    Slow work (file writes) belongs on a thread the subscriber owns (see
    :class:`~HoloLoom.weaving.log_writer.WeaveLogWriter`).
    """

    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    @property
    def subscribers(self) -> tuple[Subscriber, ...]:
        """Who is subscribed, in delivery order (a loom with a home always has its log writer)."""
        return self._subscribers

    async def publish(self, event: LoomEvent) -> None:
        for subscriber in self._subscribers:  # a tuple: (un)subscribing meanwhile is safe
            try:
                result = subscriber(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # an observer must never break a weave
                log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
