"""Stage 7 (Convergence Engine): choose a tool by Thompson sampling over Beta posteriors.

The query's features put it in an *intent* bucket — ``answer`` (a question),
``summarize`` ("summarise", "overview", "recap"), ``search`` ("find", "list", "show me")
— and each bucket keeps one Beta(alpha, beta) posterior per tool. The tool the features
point to starts with a prior of Beta(3, 1), the others Beta(1, 1); feedback adds the
reward to alpha and its complement to beta. Sampling (seeded) picks the tool, so a tool
users dislike loses traffic while others are still tried now and then. Until an intent
has had feedback, its own tool serves it (a question gets ``answer``): learning never
makes the default path worse.

State is a small JSON file under ``HOLOLOOM_HOME``, written atomically, merged with what
another process wrote since (so concurrent processes do not erase each other's updates).
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ToolChooser", "intent_of"]

_SUMMARIZE = re.compile(r"\b(summari[sz]e|summary|overview|recap|tl;?dr|gist|outline)\b", re.I)
_SEARCH = re.compile(r"\b(find|list|search|show me|look up|which (memories|notes|documents))\b", re.I)
INTENTS = ("answer", "summarize", "search")


def intent_of(query: str) -> str:
    """The intent bucket of a query (whole-word rules)."""
    if _SUMMARIZE.search(query):
        return "summarize"
    if _SEARCH.search(query):
        return "search"
    return "answer"


class ToolChooser:
    """Thompson sampling over tools, one set of Beta posteriors per intent.

    Args:
        state_path: JSON file for the posteriors (None: in memory only).
        seed: seeds the sampler, for reproducible choices.
    """

    def __init__(self, state_path: str | Path | None = None, *, seed: int | None = None) -> None:
        self.state_path = Path(state_path) if state_path else None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        # intent -> tool -> [alpha, beta]; only *feedback* counts are stored (priors are derived).
        self._counts: dict[str, dict[str, list[float]]] = self._read()

    def _read(self) -> dict[str, dict[str, list[float]]]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return {i: {t: [float(a), float(b)] for t, (a, b) in tools.items()} for i, tools in data.get("counts", {}).items()}
        except (OSError, ValueError, TypeError):
            return {}  # a corrupt file must not stop weaving; it is rewritten on the next update

    @staticmethod
    def prior(intent: str, tool: str) -> tuple[float, float]:
        return (3.0, 1.0) if tool == intent else (1.0, 1.0)

    def posterior(self, intent: str, tool: str) -> tuple[float, float]:
        a0, b0 = self.prior(intent, tool)
        a, b = self._counts.get(intent, {}).get(tool, [0.0, 0.0])
        return a0 + a, b0 + b

    def choose(self, query: str, tools: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """Pick a tool among ``tools``; returns it and what the choice was based on."""
        intent = intent_of(query)
        samples: dict[str, float] = {}
        with self._lock:
            for tool in tools:
                a, b = self.posterior(intent, tool)
                samples[tool] = self._rng.betavariate(a, b)
            untaught = not any(a + b for a, b in self._counts.get(intent, {}).values())
        chosen = max(tools, key=lambda t: (samples[t], t == intent))
        if untaught and intent in tools:
            chosen = intent  # no feedback for this intent yet: serve the tool its words ask for, never a coin toss
        return chosen, {"intent": intent, "samples": {t: round(v, 4) for t, v in samples.items()},
                        "posteriors": {t: self.posterior(intent, t) for t in tools}}

    def update(self, query_or_intent: str, tool: str, reward: float) -> tuple[float, float]:
        """Credit ``tool`` with ``reward`` in [0, 1] for this query's intent; returns the new posterior."""
        intent = query_or_intent if query_or_intent in INTENTS else intent_of(query_or_intent)
        with self._lock:
            self._merge_from_disk()
            counts = self._counts.setdefault(intent, {}).setdefault(tool, [0.0, 0.0])
            counts[0] += reward
            counts[1] += 1.0 - reward
            self._write()
            return self.posterior(intent, tool)

    def _merge_from_disk(self) -> None:
        """Adopt counts another process wrote since we read them (counts only grow)."""
        disk = self._read()
        for intent, tools in disk.items():
            mine = self._counts.setdefault(intent, {})
            for tool, (a, b) in tools.items():
                cur = mine.setdefault(tool, [0.0, 0.0])
                if a + b > cur[0] + cur[1]:
                    mine[tool] = [a, b]

    def _write(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".tools-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "counts": self._counts}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def stats(self) -> dict[str, dict[str, dict[str, float]]]:
        out: dict[str, dict[str, dict[str, float]]] = {}
        for intent in INTENTS:
            tools = set(self._counts.get(intent, {})) | {intent}
            out[intent] = {}
            for tool in sorted(tools):
                a, b = self.posterior(intent, tool)
                out[intent][tool] = {"alpha": a, "beta": b, "mean": a / (a + b)}
        return out
