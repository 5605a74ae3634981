"""What kind of question is this? The query type and the intent, from whole-word rules.

The **query type** is the context the router learns in (one set of arm posteriors each)
and decides the level of chit-chat (stage 1). The first rule that matches wins:

==================  ==========================================================================
type                cues (whole words, any case)
==================  ==========================================================================
``conversational``  the whole text is social ("hi", "thanks, that helps", "ok bye"),
                    "how are you", a joke/poem/story request, "brainstorm"
``summary``         summarise, summary, sum up, overview, recap, tl;dr, gist, outline, main points
``temporal``        starts with "when", "what year/date/day/time", "how long ago", "yesterday",
                    "last week", "this month", "since January", "in 2023", "on Monday", ...
``analytical``      why, how does/did/can ..., compare, versus, difference, explain, pros and
                    cons, caused, likely, would ... likely, same, "X first, A or B?"
``multi_hop``       a noun phrase defined by another fact: "the woman who ...", "the band whose
                    ...", "the film directed by ...", "the director of ...", "X's spouse's ..."
``conversational``  a first-person remark with no question in it ("I think I'll go for a walk")
``factual``         everything else: a look-up ("Who directed Maximum Overdrive?", "Heron")
==================  ==========================================================================

The **intent** names the tool that serves a question best by default: ``summarize``
(summary cues), ``search`` ("find", "list", "show me", "look up"), else ``answer``.

``HoloLoom/bench/data/query_types.jsonl`` is a labelled set of 60 queries; ``hololoom
bench routing`` reports the classifier's accuracy on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ValidationError

__all__ = ["INTENTS", "QUERY_TYPES", "QueryClassifier", "classify_query_type", "intent_of"]

#: The built-in query types.
QUERY_TYPES: tuple[str, ...] = ("factual", "temporal", "multi_hop", "analytical", "summary", "conversational")
#: Intents: each names the tool that serves it by default.
INTENTS: tuple[str, ...] = ("answer", "summarize", "search")

_SOCIAL = (r"hi|hello|hey|yo|hiya|thanks|thank|you|thx|cheers|bye|goodbye|good|morning|afternoon|evening|night"
           r"|ok|okay|cool|nice|great|lol|perfect|awesome|sure|got|it|sounds|that|helps|helped|so|much|a|lot|again|there")
_MONTH = (r"january|february|march|april|may|june|july|august|september|october|november|december"
          r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAY = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend"
_ROLE = (r"director|author|writer|founder|creator|owner|wife|husband|spouse|partner|mother|father|son|daughter"
         r"|brother|sister|parent|child|children|capital|birthplace|hometown|headquarters|ceo|president|leader"
         r"|member|singer|star|producer|manager|boss|friend|team|company|publisher|composer|designer|inventor")
_SUMMARY = r"summari[sz]e|summary|sum\s+up|overview|recap|tl;?dr|gist|outline|main\s+points|key\s+points|highlights"

_RULES: tuple[tuple[str, str], ...] = (
    ("conversational", rf"^\W*(?:(?:{_SOCIAL})\b\W*)+$"),
    ("conversational", r"\b(?:how\s+are\s+you|how's\s+it\s+going|what's\s+up|nice\s+to\s+meet\s+you)\b"),
    ("summary", rf"\b(?:{_SUMMARY})\b"),
    ("conversational",
     r"^\W*(?:(?:please|can\s+you|could\s+you)\s+)?(?:tell|write|compose|make\s+up|give)\s+(?:me\s+|us\s+)?"
     r"(?:a|an|some|another)\s+(?:\w+\s+)?(?:jokes?|poems?|haikus?|limericks?|story|stories|songs?|riddles?)\b"
     r"|^\W*(?:let's\s+|lets\s+|can\s+we\s+|help\s+me\s+)?brainstorm\b"),
    ("temporal",
     rf"^\W*when\b|\bwhat\s+(?:year|date|day|month|time)\b|\bhow\s+long\s+ago\b|\b(?:yesterday|today|tonight|tomorrow"
     rf"|recently|ago)\b|\b(?:last|this|next|past)\s+(?:week|month|year|night|time|{_DAY}|{_MONTH})\b"
     rf"|\b(?:since|before|after|in|during|on)\s+(?:(?:early|late|mid)\s+)?(?:{_MONTH}|{_DAY}|(?:19|20)\d\d)\b"),
    ("analytical",
     r"\b(?:why|compare[sd]?|comparison|contrast|versus|vs\.?|differ|differs|difference|differences|explain"
     r"|analy[sz]e|evaluate|assess|pros\s+and\s+cons|trade-?offs?|implications?|impact\s+of|caused?|causes"
     r"|reasons?\s+(?:for|why)|likely|same|similar|both)\b"
     r"|\bhow\s+(?:does|do|did|can|could|would|should|is|are|was|were)\b"
     r"|\b(?:first|earlier|later|older|younger|larger|bigger|smaller|longer|shorter|more|less|fewer)\b[^?]*\bor\b"),
    ("multi_hop",
     r"\b(?:the|a|an|his|her|their|its)\s+(?:[\w'-]+\s+){0,3}?(?:who|whom|whose|that|which|where)\s+\w+"
     rf"|\b(?:the|a|an)\s+(?:[\w'-]+\s+){{0,2}}?[a-z]+ed\s+by\b|\bthe\s+(?:[\w'-]+\s+)?(?:{_ROLE})\s+of\b"
     r"|\b\w+'s\s+(?:[\w-]+\s+)?\w+'s\b"),
    ("conversational",
     r"^\W*(?:i|i'm|i've|i'll|im|we|we're|let's|lets)\b(?![^?]*\b(?:what|who|where|when|which|how|find|show|remind"
     r"|tell|give|list|notes?|remember|recall|look)\b)[^?]*$"),
)


@dataclass(frozen=True, slots=True)
class _Rule:
    query_type: str
    pattern: re.Pattern[str]


class QueryClassifier:
    """Ordered whole-word rules: the first that matches names the query type.

    Args:
        default: the type when no rule matches.
        builtin: start with the built-in rules (module docstring).

    Example:
        >>> c = QueryClassifier()
        >>> c.register("code", r"\\b(?:python|traceback|stack\\s+trace)\\b")
        >>> c.classify("Why does this Python traceback appear?")
        'code'
    """

    def __init__(self, *, default: str = "factual", builtin: bool = True) -> None:
        if not isinstance(default, str) or not default.strip():
            raise ValidationError("default query type must be a non-empty string")
        self.default = default
        self._rules: list[_Rule] = []
        for query_type, pattern in _RULES if builtin else ():
            self._rules.append(_Rule(query_type, re.compile(pattern, re.IGNORECASE)))

    def register(self, query_type: str, pattern: str | re.Pattern[str], *, first: bool = True) -> None:
        """Add a rule, tried before the built-in ones (``first=False``: after them).

        Raises:
            ValidationError: an empty query type or a pattern that does not compile.
        """
        if not isinstance(query_type, str) or not query_type.strip():
            raise ValidationError("query type must be a non-empty string")
        if isinstance(pattern, str):
            try:
                pattern = re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ValidationError(f"invalid pattern {pattern!r}: {exc}") from exc
        elif not isinstance(pattern, re.Pattern):
            raise ValidationError("pattern must be a string or a compiled regular expression")
        rule = _Rule(query_type, pattern)
        if first:
            self._rules.insert(0, rule)
        else:
            self._rules.append(rule)

    def classify(self, text: str) -> str:
        """The query type of ``text``."""
        if not isinstance(text, str):
            raise ValidationError(f"query must be a string, not {type(text).__name__}")
        for rule in self._rules:
            if rule.pattern.search(text):
                return rule.query_type
        return self.default


_default = QueryClassifier()
_SUMMARY_INTENT = re.compile(rf"\b(?:{_SUMMARY})\b", re.IGNORECASE)
_SEARCH_INTENT = re.compile(r"\b(?:find|list|search|show\s+me|look\s+up|which\s+(?:memories|notes|documents))\b", re.IGNORECASE)


def classify_query_type(text: str) -> str:
    """The built-in classifier's query type of ``text``.

    >>> classify_query_type("Summarize Heron"), classify_query_type("What did I discuss last March?")
    ('summary', 'temporal')
    """
    return _default.classify(text)


def intent_of(query: str) -> str:
    """The intent of a query: ``summarize``, ``search`` or ``answer`` (whole-word rules)."""
    if _SUMMARY_INTENT.search(query):
        return "summarize"
    if _SEARCH_INTENT.search(query):
        return "search"
    return "answer"
