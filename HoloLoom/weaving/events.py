"""The event stream: every weave stage announces its start and end, with its data.

This is the single source of truth for what happened during a weave. The Spacetime's
trace is built from these events (:class:`TraceRecorder`), and so are the terminal UI's
live progress, the Prometheus metrics and the dashboard's records: subscribe to an
:class:`EventBus` to see them. Events are frozen records, published as they happen.

A subscriber that raises is logged and skipped: observers never break a weave.
"""

from __future__ import annotations

import enum
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "EventBus",
    "LoomEvent",
    "Stage",
    "STAGE_ORDER",
    "Subscriber",
    "TraceRecorder",
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


@dataclass(frozen=True, slots=True)
class LoomEvent:
    """One thing that happened.

    Attributes:
        kind: ``"weave"`` (a whole weave), ``"stage"`` (one of the nine) or ``"feedback"``.
        phase: ``"start"`` or ``"end"`` (feedback events are ``"end"`` only).
        weave_id: the Spacetime id the event belongs to.
        stage: the stage, for stage events.
        timestamp: wall-clock seconds (UTC epoch) when it happened.
        duration_ms: for ``end`` events, how long since the matching ``start``.
        data: the stage's key data (what it decided, how much it found).
        error: for a failed stage, the error message.
    """

    kind: str
    phase: str
    weave_id: str
    stage: Stage | None = None
    timestamp: float = field(default_factory=time.time)
    duration_ms: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "phase": self.phase,
            "weave_id": self.weave_id,
            "stage": self.stage.value if self.stage else None,
            "timestamp": self.timestamp,
            "duration_ms": self.duration_ms,
            "data": dict(self.data),
            "error": self.error,
        }


Subscriber = Callable[[LoomEvent], Union[None, Awaitable[None]]]


class EventBus:
    """Delivers events to subscribers, in subscription order.

    Subscribers may be plain functions or coroutine functions; coroutine subscribers are
    awaited before the weave goes on, so a live display is never behind the pipeline.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    async def publish(self, event: LoomEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                result = subscriber(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # an observer must never break a weave
                log.exception("event subscriber %r failed on %s/%s", subscriber, event.kind, event.phase)


class TraceRecorder:
    """Collects one weave's events; the Spacetime trace is made from them."""

    def __init__(self, weave_id: str) -> None:
        self.weave_id = weave_id
        self.events: list[LoomEvent] = []

    def __call__(self, event: LoomEvent) -> None:
        if event.weave_id == self.weave_id:
            self.events.append(event)
