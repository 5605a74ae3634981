"""Every file HoloLoom keeps under ``HOLOLOOM_HOME``, named in one place.

::

    HOME/
      embedded/                  the embedded store (SQLite + vector files)
      qdrant/                    Qdrant's local mode, when that backend is chosen without a URL
      state/
        weaves.jsonl             one Spacetime per line, plus process figures (the weave log)
        weaves.1.jsonl           the weave log's previous file, after a rotation
        feedback.jsonl           one line per feedback: {"spacetime_id", "reward", "tool", "arm", "timestamp"}
        policy.json              the learner's state: arm and tool posteriors, availability
      routing/routing_metrics.jsonl   (older homes only: feedback lines of an earlier release)

The orchestrator, the learner, telemetry and the dashboard all find their files here, so
a process that writes and one that reads always agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HomeLayout"]


@dataclass(frozen=True, slots=True)
class HomeLayout:
    """The paths under one ``HOLOLOOM_HOME`` (nothing is created until something writes).

    Example:
        >>> HomeLayout("/data/hololoom").weaves.as_posix()
        '/data/hololoom/state/weaves.jsonl'
    """

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def embedded(self) -> Path:
        """The embedded store's directory."""
        return self.root / "embedded"

    @property
    def qdrant(self) -> Path:
        """Qdrant's local-mode directory."""
        return self.root / "qdrant"

    @property
    def state(self) -> Path:
        """Logs and learned state."""
        return self.root / "state"

    @property
    def weaves(self) -> Path:
        """The weave log: one Spacetime per line."""
        return self.state / "weaves.jsonl"

    @property
    def feedback(self) -> Path:
        """The feedback log: one line per feedback given."""
        return self.state / "feedback.jsonl"

    @property
    def policy(self) -> Path:
        """The learner's state file."""
        return self.state / "policy.json"

    @property
    def legacy_feedback(self) -> tuple[Path, ...]:
        """Where an earlier release logged feedback (read only when :attr:`feedback` is absent)."""
        return (self.root / "routing" / "routing_metrics.jsonl", self.state / "routing_metrics.jsonl")
