"""Stage 7 (Convergence Engine): which tool acts on the context, learned per intent.

The query's intent (``answer``, ``summarize`` or ``search``: :func:`.query_types.intent_of`)
names the baseline tool. The choice is the one learning policy's (space ``tool``, one
context per intent; :mod:`HoloLoom.routing.policy`): the baseline until explicit
feedback shows another tool is clearly better, exploring only while feedback arrives,
and passing over a tool that keeps failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .query_types import intent_of

if TYPE_CHECKING:
    from ..routing.policy import Policy

__all__ = ["SPACE", "ToolChooser", "intent_of"]

SPACE = "tool"


class ToolChooser:
    """Stage 7's view of the learning :class:`~HoloLoom.routing.Policy`."""

    def __init__(self, policy: "Policy") -> None:
        self.policy = policy

    def choose(self, intent: str, tools: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """Pick a tool among ``tools`` for a query of ``intent`` (stage 1 read it); returns it and why."""
        baseline = intent if intent in tools else tools[0]
        choice = self.policy.choose(SPACE, intent, tools, baseline=baseline)
        return choice.option, {"intent": intent, **choice.to_dict()}

    def learn(self, intent: str, tool: str, reward: float, *, replaces: float | None = None) -> tuple[float, float]:
        """Explicit feedback for ``tool`` on a query of ``intent``; returns its new posterior."""
        return self.policy.observe(SPACE, intent, tool, reward, replaces=replaces)

    def outcome(self, tool: str, *, ok: bool) -> None:
        """Whether the tool ran without raising (availability only)."""
        self.policy.outcome(SPACE, tool, ok=ok)
