"""What kind of question is this? Whole-word rules, extensible, and the rule-based baseline.

:class:`QueryClassifier` holds ordered rules ``(query_type, regex, priority)``; the
matching rule with the highest priority wins (ties: the earlier rule). Patterns are
matched case-insensitively and should use ``\\b`` word boundaries, so "hi" never matches
inside "machine" and "Define machine learning" is factual, not conversational.

Default rules, strongest first:

=========  ===============  ===================================================
priority   query type       cues
=========  ===============  ===================================================
40         conversational   the whole text is a greeting/thanks/goodbye; "how are you"
30         creative         write, compose, imagine, invent, brainstorm, poem, story ...
20         analytical       why, compare, contrast, analyse, explain, evaluate, versus,
                            pros and cons, trade-off, "how does/do/did/can ..."
15         conversational   a first-person statement without a question mark: "I think ...",
                            "let's ...", "my day ..."
10         factual          what, who, when, where, which, define, how many/much, list ...
=========  ===============  ===================================================

Anything else is ``factual`` (a memory system is mostly asked about things).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ValidationError
from ..types import Complexity

__all__ = [
    "DEFAULT_RULES",
    "QUERY_TYPES",
    "QueryClassifier",
    "classify_query_type",
    "default_classifier",
    "register_query_pattern",
    "rule_based_routing",
]

#: The built-in query types, one bandit each.
QUERY_TYPES: tuple[str, ...] = ("factual", "analytical", "creative", "conversational")


@dataclass(frozen=True, slots=True)
class _Rule:
    query_type: str
    pattern: re.Pattern[str]
    priority: int


_DEFAULT_PATTERNS: tuple[tuple[str, str, int], ...] = (
    ("conversational",
     r"^\W*(?:hi|hello|hey|yo|hiya|thanks|thank\s+you|thx|cheers|bye|goodbye|good\s+(?:morning|afternoon|evening|night)"
     r"|ok(?:ay)?|cool|nice|great|lol)(?:\s+(?:there|again|so\s+much|a\s+lot))?\W*$", 40),
    ("conversational", r"\b(?:how\s+are\s+you|how's\s+it\s+going|what's\s+up|nice\s+to\s+meet\s+you|who\s+are\s+you)\b", 40),
    ("creative",
     r"\b(?:write|compose|draft|imagine|invent|brainstorm|poem|poems|story|stories|haiku|lyrics|slogan|tagline"
     r"|fiction|fictional|creative|come\s+up\s+with|make\s+up)\b", 30),
    ("analytical",
     r"\b(?:why|compare|compared|comparison|contrast|analy[sz]e|analysis|explain|evaluate|assess|differences?"
     r"|differ|versus|vs\.?|pros\s+and\s+cons|trade-?offs?|implications?|impact\s+of|relationship\s+between"
     r"|how\s+(?:does|do|did|can|could|would|should)|what\s+(?:causes|caused)|reasons?\s+for)\b", 20),
    ("factual",
     r"\b(?:what|who|whom|whose|when|where|which|define|definition|meaning\s+of|how\s+(?:many|much|old|long|far|tall)"
     r"|list|name|is|are|was|were|did|does)\b", 10),
    ("conversational", r"^\W*(?:i|i'm|im|i've|we|let's|lets|my|me)\b[^?]*$", 15),
)


class QueryClassifier:
    """Ordered whole-word rules that map a query's text to a query type.

    Args:
        default: the type when no rule matches.
        builtin: start with the default rules (module docstring).

    Example:
        >>> c = QueryClassifier()
        >>> c.register("code", r"\\b(?:python|traceback|stack\\s+trace)\\b", priority=35)
        >>> c.classify("Why does this Python traceback appear?")
        'code'
    """

    def __init__(self, *, default: str = "factual", builtin: bool = True) -> None:
        if not isinstance(default, str) or not default.strip():
            raise ValidationError("default query type must be a non-empty string")
        self.default = default
        self._rules: list[_Rule] = []
        if builtin:
            for query_type, pattern, priority in _DEFAULT_PATTERNS:
                self.register(query_type, pattern, priority=priority)

    def register(self, query_type: str, pattern: str | re.Pattern[str], *, priority: int = 25) -> None:
        """Add a rule; a string pattern is compiled case-insensitively.

        Raises:
            ValidationError: empty query type or a pattern that does not compile.
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
        rule = _Rule(query_type, pattern, int(priority))
        # Keep rules sorted by priority (stable: equal priorities keep registration order).
        at = len(self._rules)
        while at > 0 and self._rules[at - 1].priority < rule.priority:
            at -= 1
        self._rules.insert(at, rule)

    @property
    def query_types(self) -> tuple[str, ...]:
        """Every type this classifier can return, the default included."""
        seen = dict.fromkeys(r.query_type for r in self._rules)
        seen[self.default] = None
        return tuple(seen)

    def classify(self, text: str) -> str:
        """The query type of ``text``."""
        if not isinstance(text, str):
            raise ValidationError(f"query must be a string, not {type(text).__name__}")
        for rule in self._rules:
            if rule.pattern.search(text):
                return rule.query_type
        return self.default


default_classifier = QueryClassifier()


def classify_query_type(text: str, classifier: QueryClassifier | None = None) -> str:
    """factual / analytical / creative / conversational (or a registered type) for ``text``.

    >>> classify_query_type("Define machine learning")
    'factual'
    >>> classify_query_type("Compare Neo4j and Qdrant")
    'analytical'
    """
    return (classifier or default_classifier).classify(text)


def register_query_pattern(query_type: str, pattern: str | re.Pattern[str], *, priority: int = 25) -> None:
    """Add a rule to the default classifier (used by :func:`classify_query_type`)."""
    default_classifier.register(query_type, pattern, priority=priority)


#: The rule-based baseline: (query type, complexity) -> arm; a query type alone covers
#: every complexity. Vector search for look-ups and chat, graph hops for relations at low
#: cost, the full hybrid crawl once the question is marked hard.
DEFAULT_RULES: Mapping[tuple[str, str] | str, str] = {
    ("factual", "LITE"): "vector",
    ("factual", "FAST"): "vector",
    ("factual", "FULL"): "hybrid",
    ("factual", "RESEARCH"): "hybrid",
    ("analytical", "LITE"): "graph",
    ("analytical", "FAST"): "graph",
    ("analytical", "FULL"): "hybrid",
    ("analytical", "RESEARCH"): "hybrid",
    "creative": "vector",
    "conversational": "vector",
}


def rule_based_routing(
    query_type: str,
    complexity: Complexity | str = Complexity.FAST,
    *,
    rules: Mapping[tuple[str, str] | str, str] | None = None,
    arms: tuple[str, ...] | list[str] | None = None,
) -> str:
    """The arm a fixed rule table picks.

    ``rules`` (keys ``(query_type, COMPLEXITY)`` or ``query_type``) are looked up first, then
    :data:`DEFAULT_RULES`; an unknown query type gets ``"vector"``. When ``arms`` is given and the rule names an arm outside it, the first
    of ``arms`` is used, so the baseline always returns something playable.
    """
    level = Complexity.parse(complexity).value
    arm = None
    for table in (rules, DEFAULT_RULES):
        if table:
            arm = table.get((query_type, level)) or table.get(query_type)
            if arm:
                break
    arm = arm or "vector"
    if arms is not None and arm not in arms:
        return arms[0]
    return arm
