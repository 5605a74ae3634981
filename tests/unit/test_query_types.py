"""Query types and intents: whole-word rules that mean something, measured on labelled queries."""

from __future__ import annotations

import pytest

from HoloLoom import ValidationError
from HoloLoom.weaving.query_types import QUERY_TYPES, QueryClassifier, classify_query_type, intent_of


@pytest.mark.parametrize("text, expected", [
    ("Summarize Heron", "summary"),
    ("What did I discuss last March?", "temporal"),
    ("Who directed Maximum Overdrive?", "factual"),
    ("Where was the film directed by Stephen King shot?", "multi_hop"),
    ("Compare Neo4j and Qdrant", "analytical"),
    ("hi", "conversational"),
    ("Define machine learning", "factual"),
    ("What creative activity does Nate joke about?", "factual"),  # a question about a joke, not a request for one
])
def test_query_types(text: str, expected: str) -> None:
    assert classify_query_type(text) == expected
    assert expected in QUERY_TYPES


def test_rules_match_whole_words_only() -> None:
    assert classify_query_type("this machine") == "factual"  # "hi" inside "this", "machine"
    assert classify_query_type("whenever you like") != "temporal"
    assert classify_query_type("the summarized whyever") == "factual"


def test_the_classifier_is_extensible_and_checks_its_input() -> None:
    c = QueryClassifier()
    c.register("code", r"\b(?:python|traceback)\b")
    assert c.classify("Why does this Python traceback appear?") == "code"
    c.register("late", r"\bzebra\b", first=False)
    assert c.classify("Why a zebra?") == "analytical" and c.classify("zebra") == "late"
    assert QueryClassifier(builtin=False, default="other").classify("Summarize Heron") == "other"
    with pytest.raises(ValidationError):
        c.register("bad", "(")
    with pytest.raises(ValidationError):
        c.classify(3)  # type: ignore[arg-type]


def test_intents() -> None:
    assert intent_of("summarise the meeting") == "summarize"
    assert intent_of("find notes about Paris") == "search"
    assert intent_of("who is Ada?") == "answer"
