"""Stage 1 (Loom Command): how hard is the question, and what does that level get?

Complexity is detected with whole-word rules (a greeting is "hi" as a word, never the
"hi" inside "this"): greetings and very short lookups are LITE; plain questions FAST;
multi-part or relational questions (two named entities, "and", "compare", "why",
"how does") FULL; explicit research requests ("analyse", "comprehensive", "in depth",
"all ...") RESEARCH. A caller can always force the level.

A :class:`PatternCard` is the named preset for one level: the crawl plan, the
embedding scales, the tools allowed, the context size and the time budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..crawl import DEFAULT_PLANS, CrawlPlan
from ..extraction import RuleBasedExtractor
from ..types import Complexity

__all__ = ["DEFAULT_CARDS", "PatternCard", "detect_complexity"]


@dataclass(frozen=True, slots=True)
class PatternCard:
    """What one complexity level gets.

    Attributes:
        complexity: the level.
        plan: the crawl plan (passes, limits, thresholds).
        scales: Matryoshka scales computed for the query (coarse to fine).
        tools: the tools the convergence stage may choose from.
        context_limit: how many fused items reach the tool.
        budget_ms: the time budget; stages that find it spent stop early.
    """

    complexity: Complexity
    plan: CrawlPlan
    scales: tuple[int, ...]
    tools: tuple[str, ...]
    context_limit: int
    budget_ms: float
    extras: Mapping[str, object] = field(default_factory=dict)

    def with_budget(self, budget_ms: float) -> "PatternCard":
        return replace(self, budget_ms=budget_ms)


DEFAULT_CARDS: Mapping[Complexity, PatternCard] = {
    # A greeting or a one-word lookup: one pass, coarse features, just answer or list.
    Complexity.LITE: PatternCard(Complexity.LITE, DEFAULT_PLANS[Complexity.LITE], (96, 384),
                                 ("answer", "search"), 5, 50.0),
    Complexity.FAST: PatternCard(Complexity.FAST, DEFAULT_PLANS[Complexity.FAST], (96, 192, 384),
                                 ("answer", "search", "summarize"), 8, 150.0),
    Complexity.FULL: PatternCard(Complexity.FULL, DEFAULT_PLANS[Complexity.FULL], (96, 192, 384),
                                 ("answer", "search", "summarize"), 10, 300.0),
    Complexity.RESEARCH: PatternCard(Complexity.RESEARCH, DEFAULT_PLANS[Complexity.RESEARCH], (96, 192, 384),
                                     ("answer", "search", "summarize"), 12, 600.0),
}

_GREETING = re.compile(r"^\s*(hi|hello|hey|thanks|thank you|good (morning|afternoon|evening)|bye|ok|okay)\b[\s!.,?]*$", re.I)
_RESEARCH = re.compile(r"\b(analy[sz]e|analysis|comprehensive|in[- ]depth|thorough(ly)?|investigate|research|survey|everything|all (the|of|about)|literature|systematic(ally)?)\b", re.I)
_FULL = re.compile(r"\b(compare|comparison|versus|vs|difference|differences|why|how (does|do|did|is|are|was|were)|relationship|related|cause[sd]?|explain|both|which (one|of)|before|after)\b", re.I)
_WORD = re.compile(r"\w+")
_extractor = RuleBasedExtractor()


def detect_complexity(query: str) -> Complexity:
    """The level a query deserves, by whole-word rules (see the module docstring)."""
    words = _WORD.findall(query)
    if _GREETING.match(query) or (len(words) <= 2 and "?" not in query):
        return Complexity.LITE
    if _RESEARCH.search(query):
        return Complexity.RESEARCH
    entities = _extractor.entities(query)
    if _FULL.search(query) or len(entities) >= 2 or len(words) > 18:
        return Complexity.FULL
    return Complexity.FAST
