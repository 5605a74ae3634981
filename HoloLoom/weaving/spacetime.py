"""Spacetime: the result of a weave, with its complete, timed provenance.

A Spacetime says what was asked, how hard HoloLoom judged it, which backend and
strategy served it, which tool answered, the response and its confidence, every context
item with how it was found, each stage's timing and key data (built from the event
stream), and whether anything degraded. It round-trips through JSON and renders itself
with rich.

Confidence (0..1): the ``answer`` tool's is calibrated, the probability that its answer
is right (its model already weighs retrieval). Any other tool's own confidence is
multiplied by the retrieval confidence (the best item's query similarity, scaled so that
a cosine of 0.6 or more counts as fully supported), so a fluent answer built from weak
evidence still reads as uncertain.

Citations are rows: ``[n]`` in the response is ``context[n - 1]``, listed as row n in the
sources table (and in the TUI, the dashboard's trace and the JSON's ``context`` list).
A memory a newer one supersedes says so in its paths (``superseded-by:<id>``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..plaintext import plain_lines
from ..rendering import inert, safe_text
from ..types import Complexity, ScoredShard
from .events import Stage, StageEnded
from .supersession import SUPERSEDED_PATH

__all__ = ["Spacetime", "StageRecord", "plain", "render_trace_tree"]


def plain(value: Any) -> Any:
    """``value`` as plain JSON values (tuples and sets become lists, numpy scalars numbers, enums
    their values, anything else its ``str``), so a record equals its own JSON round trip.

    One walk over the data, instead of encoding and decoding it.
    """
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):  # subclasses of the plain types (numpy's float64 is a float)
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage of one weave, as the event stream recorded it."""

    stage: Stage
    started_at: float
    duration_ms: float
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "loom_name": self.stage.loom_name, "started_at": self.started_at,
                "duration_ms": self.duration_ms, "data": dict(self.data), "error": self.error, "skipped": self.skipped}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StageRecord":
        return cls(stage=Stage(d["stage"]), started_at=float(d["started_at"]), duration_ms=float(d["duration_ms"]),
                   data=dict(d.get("data") or {}), error=d.get("error"), skipped=bool(d.get("skipped")))

    @classmethod
    def of(cls, event: StageEnded) -> "StageRecord":
        """The record of a stage's end event."""
        return cls(stage=event.stage, started_at=event.started_at, duration_ms=event.duration_ms,
                   data=event.data, error=event.error, skipped=event.skipped)


@dataclass(frozen=True, slots=True)
class Spacetime:
    """The woven result of one question. See the module docstring for ``confidence``."""

    id: str
    query: str
    namespace: str
    complexity: Complexity
    backend: str
    strategy: str
    tool: str
    response: str
    confidence: float
    context: tuple[ScoredShard, ...]
    stages: tuple[StageRecord, ...]
    created_at: float
    duration_ms: float
    citations: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    degraded: bool = False
    routing: Mapping[str, Any] = field(default_factory=dict)
    tool_output: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cited_rows(self) -> list[int]:
        """The 1-based context rows the response cites (``[n]``), in row order."""
        cited = set(self.citations)
        return [n for n, item in enumerate(self.context, start=1) if item.shard.id in cited]

    def source_rows(self, top: int = 5) -> list[int]:
        """The rows worth showing: the first ``top``, every cited one, every one shown as related."""
        related = {int(r) for r in self.tool_output.get("related_rows", ()) if isinstance(r, int)}
        wanted = set(range(1, min(top, len(self.context)) + 1)) | set(self.cited_rows) | related
        return sorted(n for n in wanted if 1 <= n <= len(self.context))

    @property
    def timings(self) -> dict[str, float]:
        """Milliseconds per stage, by stage name."""
        return {r.stage.value: r.duration_ms for r in self.stages}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "query": self.query, "namespace": self.namespace, "complexity": self.complexity.value,
            "backend": self.backend, "strategy": self.strategy, "tool": self.tool, "response": self.response,
            "confidence": self.confidence, "context": [c.to_dict() for c in self.context],
            "stages": [s.to_dict() for s in self.stages], "created_at": self.created_at,
            "duration_ms": self.duration_ms, "citations": list(self.citations), "warnings": list(self.warnings),
            "errors": list(self.errors), "degraded": self.degraded, "routing": dict(self.routing),
            "tool_output": dict(self.tool_output), "cited_rows": self.cited_rows,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Spacetime":
        return cls(
            id=d["id"], query=d["query"], namespace=d["namespace"], complexity=Complexity.parse(d["complexity"]),
            backend=d["backend"], strategy=d["strategy"], tool=d["tool"], response=d["response"],
            confidence=float(d["confidence"]), context=tuple(ScoredShard.from_dict(c) for c in d.get("context", ())),
            stages=tuple(StageRecord.from_dict(s) for s in d.get("stages", ())), created_at=float(d["created_at"]),
            duration_ms=float(d["duration_ms"]), citations=tuple(d.get("citations", ())),
            warnings=tuple(d.get("warnings", ())), errors=tuple(d.get("errors", ())), degraded=bool(d.get("degraded")),
            routing=dict(d.get("routing") or {}), tool_output=dict(d.get("tool_output") or {}),
        )

    @classmethod
    def from_json(cls, text: str) -> "Spacetime":
        return cls.from_dict(json.loads(text))

    def __rich__(self) -> Panel:
        # Stored text and the query are user data: every piece is an inert Text, never markup.
        header = Text.assemble(
            (f"{self.complexity.value}", "bold cyan"), "  backend ", (inert(self.backend), "bold"), "  strategy ",
            (inert(self.strategy), "bold"), "  tool ", (inert(self.tool), "bold"), "  confidence ",
            (f"{self.confidence:.2f}", "bold green" if self.confidence >= 0.5 else "bold yellow"),
            f"  {self.duration_ms:.0f} ms", ("  DEGRADED" if self.degraded else "", "bold red"),
        )
        sources = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
        for col in ("#", "score", "pass", "found by", "memory"):
            sources.add_column(col, overflow="fold")
        cited = set(self.cited_rows)
        for i in self.source_rows():
            item = self.context[i - 1]
            label = (f"{item.shard.title}: " if item.shard.title else "") + " ".join(plain_lines(item.shard.text))
            paths = sorted({p.split(":", 1)[0].split("<-", 1)[0] for p in item.paths if not p.startswith(SUPERSEDED_PATH)})
            newer = [p[len(SUPERSEDED_PATH):] for p in item.paths if p.startswith(SUPERSEDED_PATH)]
            if newer:
                label = f"(superseded by {newer[0][:12]}) {label}"
            sources.add_row(Text(f"[{i}]", style="bold" if i in cited else ""), f"{item.score:.2f}", str(item.found_in_pass),
                            safe_text(",".join(paths)), safe_text(label, limit=110))
        stages = Text("  ".join(f"{r.stage.number}.{r.stage.loom_name} {r.duration_ms:.1f}ms" for r in self.stages), style="dim")
        parts: list[Any] = [header, Text(""), safe_text(self.response or "(no response)"), Text(""), sources, stages]
        for w in self.warnings:
            parts.append(safe_text(f"warning: {w}", style="yellow"))
        for e in self.errors:
            parts.append(safe_text(f"error: {e}", style="red"))
        return Panel(Group(*parts), title=Text(f"Spacetime {self.id[:12]}"),
                     subtitle=safe_text(self.query, keep_newlines=False, limit=80), expand=True)


def render_trace_tree(spacetime: Spacetime) -> Tree:
    """The provenance trace as a tree: stages, then crawl passes, paths and score parts."""
    # Every label is a Text built from inert pieces: queries, entity paths and stored text never act as markup.
    root = Tree(Text.assemble(("Spacetime", "bold"), f" {spacetime.id[:12]} — ",
                              safe_text(spacetime.query, keep_newlines=False, limit=60)))
    for record in spacetime.stages:
        label = Text(f"{record.stage.number}. {record.stage.loom_name} ({record.stage.value}) {record.duration_ms:.1f} ms")
        if record.skipped:
            label.append(" skipped", style="yellow")
        if record.error:
            label.append(" " + inert(record.error, keep_newlines=False), style="red")
        node = root.add(label)
        if record.stage is Stage.CRAWL:
            for p in record.data.get("passes", []):
                node.add(safe_text(f"pass {p['number']}: +{p['new']} new, kept {p['kept']}, "
                                   f"dropped {p['dropped_by_threshold']} by threshold, {p['elapsed_ms']:.1f} ms, "
                                   f"paths {p['paths']}", keep_newlines=False))
        else:
            shown = {k: v for k, v in record.data.items() if k not in ("skipped",)}
            if shown:
                node.add(safe_text(", ".join(f"{k}={v}" for k, v in list(shown.items())[:6]), style="dim",
                                   keep_newlines=False, limit=160))
    ctx = root.add(Text("context", style="bold"))
    for item in spacetime.context:
        leaf = ctx.add(safe_text(f"{item.score:.3f} pass {item.found_in_pass} {(item.shard.title or item.shard.text)[:50]!r}",
                                 keep_newlines=False))
        leaf.add(safe_text("paths: " + "; ".join(item.paths), style="dim", keep_newlines=False, limit=200))
        leaf.add(Text("score: " + ", ".join(f"{k}={v:.3f}" for k, v in item.score_parts.items()), style="dim"))
    return root
