"""Stage 1 (Loom Command): how hard is the question, and what does that level get?

A caller can always force the level. Without one, the level follows what the benchmarks
show (``hololoom bench quality``, recall@5 of each level's crawl on the same questions):

=================  ======  ======  ======  ========
data               LITE    FAST    FULL    RESEARCH
=================  ======  ======  ======  ========
hotpotqa-100       0.825   0.930   0.945   0.950
locomo-dev         0.530   0.540   0.534   0.528
=================  ======  ======  ======  ========

FULL is never clearly worse than FAST and is better on multi-hop questions, which
surface rules cannot tell from simple ones (most hotpotqa questions have no "compare"
or "why"; a question like "Who founded the order that Haymo led?" reads as simple). At
100k memories it costs about 20 ms more than FAST. So every question gets **FULL**;
chit-chat (query type ``conversational``: "hi", "thanks", "tell me a joke") gets
**LITE**; an explicit request for thoroughness ("comprehensive", "in depth", "analyse",
"everything about ...") gets **RESEARCH**. FAST stays a preset for callers who trade
recall for latency.

A :class:`PatternCard` is the named preset for one level, built by keyword with one
comment each: the crawl plan, the tools allowed, the context size and the time budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..crawl import DEFAULT_PLANS, CrawlPlan
from ..types import Complexity
from .query_types import classify_query_type

__all__ = ["DEFAULT_CARDS", "PatternCard", "detect_complexity"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternCard:
    """What one complexity level gets.

    Attributes:
        complexity: the level.
        plan: the crawl plan (passes, limits, thresholds).
        tools: the tools the convergence stage may choose from (the first is the fallback
            when the budget is spent).
        context_limit: how many fused items reach the tool.
        budget_ms: the time budget; stages that find it spent stop early.
        extras: anything a custom stage or tool wants to read from the card.
    """

    complexity: Complexity
    plan: CrawlPlan
    tools: tuple[str, ...]
    context_limit: int
    budget_ms: float
    extras: Mapping[str, object] = field(default_factory=dict)

    def with_budget(self, budget_ms: float) -> "PatternCard":
        return replace(self, budget_ms=budget_ms)


_TOOLS = ("answer", "search", "summarize")

#: The named presets, one per level.
DEFAULT_CARDS: Mapping[Complexity, PatternCard] = {
    # A greeting or a one-word lookup: one pass, a short context, just answer or list.
    Complexity.LITE: PatternCard(complexity=Complexity.LITE, plan=DEFAULT_PLANS[Complexity.LITE],
                                 tools=("answer", "search"), context_limit=5, budget_ms=50.0),
    # Latency first: two passes; a caller's choice, never detected.
    Complexity.FAST: PatternCard(complexity=Complexity.FAST, plan=DEFAULT_PLANS[Complexity.FAST],
                                 tools=_TOOLS, context_limit=8, budget_ms=150.0),
    # Every question by default: three passes reach the bridge of a two-hop question.
    Complexity.FULL: PatternCard(complexity=Complexity.FULL, plan=DEFAULT_PLANS[Complexity.FULL],
                                 tools=_TOOLS, context_limit=10, budget_ms=300.0),
    # An explicit request for thoroughness: four passes, the widest context.
    Complexity.RESEARCH: PatternCard(complexity=Complexity.RESEARCH, plan=DEFAULT_PLANS[Complexity.RESEARCH],
                                     tools=_TOOLS, context_limit=12, budget_ms=600.0),
}

_RESEARCH = re.compile(r"\b(analy[sz]e|analysis|comprehensive|in[- ]depth|thorough(ly)?|investigate|research|survey|everything|all (the|of|about)|literature|systematic(ally)?)\b", re.I)


def detect_complexity(query: str, *, query_type: str | None = None) -> Complexity:
    """The level a query gets when the caller does not choose one (see the module docstring).

    ``query_type``: the query's type when it is known already (a weave classifies once).
    """
    if (query_type or classify_query_type(query)) == "conversational":
        return Complexity.LITE
    if _RESEARCH.search(query):
        return Complexity.RESEARCH
    return Complexity.FULL
