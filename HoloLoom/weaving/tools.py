"""Stage 8 (Tool Loom): tools that act on the woven context, with no LLM.

- ``answer``: extractive — the sentence(s) of the retrieved memories that answer the
  query, or an honest "not found" with related memories (see :mod:`.answer`).
- ``search``: the ranked memories themselves.
- ``summarize``: an extractive summary across the retrieved memories — sentences chosen
  for relevance and for covering what the others have not (maximal marginal relevance).

Register your own with ``ToolRegistry.register(name, fn)``: an async function taking a
:class:`ToolContext` and returning a :class:`ToolResult` (for example, one that sends the
context to your LLM). A tool that raises is reported in the Spacetime, not crashed on.

Citations are context rows: ``[n]`` is ``items[n - 1]``, the row the Spacetime lists as n.
"""

from __future__ import annotations

import inspect
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..chunking import split_sentences
from ..plaintext import plain_lines
from ..errors import ValidationError
from ..extraction import entity_key, tokenize
from ..types import Complexity, ScoredShard

__all__ = ["Tool", "ToolContext", "ToolRegistry", "ToolResult", "search_tool", "summarize_tool"]


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool gets: the query, its features and the fused context."""

    query: str
    complexity: Complexity
    items: tuple[ScoredShard, ...]
    keywords: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    namespace: str = "default"
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returns. ``confidence`` in [0, 1] says how well the output is supported."""

    response: str
    confidence: float
    citations: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


Tool = Callable[[ToolContext], Awaitable[ToolResult]]


def _sentences(items: tuple[ScoredShard, ...]) -> list[tuple[int, str]]:
    out = []
    for i, item in enumerate(items):
        for line in plain_lines(item.shard.text):
            for s in split_sentences(line):
                if len(s) > 3:
                    out.append((i, s))
    return out


def _idf(sentences: list[tuple[int, str]]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for _, s in sentences:
        df.update(set(tokenize(s)))
    n = max(1, len(sentences))
    return {t: math.log(1 + n / c) for t, c in df.items()}


def _relevance(query_terms: set[str], query_keys: set[str], sentence: str, idf: dict[str, float], item_score: float) -> float:
    terms = set(tokenize(sentence))
    if not query_terms:
        return item_score
    total = sum(idf.get(t, 1.0) for t in query_terms) or 1.0
    coverage = sum(idf.get(t, 1.0) for t in query_terms & terms) / total
    lower = entity_key(sentence)
    entity_bonus = sum(1 for k in query_keys if k and k in lower) * 0.1
    return coverage + 0.3 * item_score + entity_bonus


async def search_tool(ctx: ToolContext) -> ToolResult:
    """The ranked memories, one line each."""
    if not ctx.items:
        return ToolResult("No memories found.", 0.0)
    lines = []
    for n, item in enumerate(ctx.items, start=1):
        label = f"{item.shard.title}: " if item.shard.title else ""
        plain = " ".join(plain_lines(item.shard.text))
        text = plain if len(plain) <= 160 else plain[:157] + "..."
        lines.append(f"{n}. {label}{text} [{item.score:.2f}]")
    confidence = max(0.0, min(1.0, ctx.items[0].score_parts.get("sim", ctx.items[0].score) / 0.6))
    return ToolResult("\n".join(lines), round(confidence, 4), tuple(i.shard.id for i in ctx.items),
                      {"ids": [i.shard.id for i in ctx.items]})


async def summarize_tool(ctx: ToolContext, *, max_sentences: int = 5) -> ToolResult:
    """An extractive summary: relevant sentences that do not repeat each other."""
    if not ctx.items:
        return ToolResult("Nothing to summarise.", 0.0)
    sentences = _sentences(ctx.items)
    idf = _idf(sentences)
    q_terms = set(tokenize(ctx.query))
    top_item = max(i.score for i in ctx.items) or 1.0
    rel = [_relevance(q_terms, set(), s, idf, ctx.items[i].score / top_item) for i, s in sentences]
    bags = [set(tokenize(s)) for _, s in sentences]
    chosen: list[int] = []
    while len(chosen) < min(max_sentences, len(sentences)):
        best, best_value = -1, -math.inf
        for j in range(len(sentences)):
            if j in chosen:
                continue
            overlap = max((len(bags[j] & bags[c]) / (len(bags[j] | bags[c]) or 1) for c in chosen), default=0.0)
            value = 0.7 * rel[j] - 0.3 * overlap
            if value > best_value:
                best, best_value = j, value
        chosen.append(best)
    chosen.sort()  # keep the memories' own order: it reads better
    citations: list[str] = []
    parts = []
    for j in chosen:
        i, s = sentences[j]
        sid = ctx.items[i].shard.id
        if sid not in citations:
            citations.append(sid)
        parts.append(f"{s} [{i + 1}]")
    covered = set().union(*(bags[j] for j in chosen)) & q_terms
    confidence = len(covered) / len(q_terms) if q_terms else 0.5
    return ToolResult(" ".join(parts), round(confidence, 4), tuple(citations), {"sentences": len(chosen)})


_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")


class ToolRegistry:
    """The tools weave can choose from, by name."""

    def __init__(self) -> None:
        from .answer import answer_tool  # answer.py builds on ToolContext and ToolResult above

        self._tools: dict[str, Tool] = {}
        self.register("answer", answer_tool)
        self.register("search", search_tool)
        self.register("summarize", summarize_tool)

    def register(self, name: str, tool: Tool) -> None:
        """Add (or replace) a tool. Names are lower-case words: ``[a-z][a-z0-9_-]*``."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError(f"tool name {name!r} must match [a-z][a-z0-9_-]* (at most 40 characters)")
        if not callable(tool) or not (inspect.iscoroutinefunction(tool) or inspect.iscoroutinefunction(getattr(tool, "__call__", None))):
            raise ValidationError(f"tool {name!r} must be an async function taking a ToolContext")
        self._tools[name] = tool

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise ValidationError(f"unknown tool {name!r}: registered tools are {', '.join(sorted(self._tools))}") from None

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

