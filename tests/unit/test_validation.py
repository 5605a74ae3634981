"""The validation layer: every bad input the issue found is refused with the right HoloLoomError
subclass, a message naming the argument and the rule, and nothing written."""

from __future__ import annotations

import math

import pytest

from HoloLoom import HoloLoom
from HoloLoom.errors import (
    HoloLoomError,
    InvalidComplexityError,
    InvalidFeedbackError,
    InvalidNamespaceError,
    InvalidQueryError,
    ValidationError,
)
from HoloLoom.validation import Instant, Limit, Metadata, Query, ShardId, Where, check

HEX = "0123456789abcdef0123456789abcdef"

# (method, args, kwargs, error class, words the message must hold)
CASES = [
    ("add", ("\ud800 text",), {}, ValidationError, ["text", "Unicode"]),
    ("weave", ("Where \ud800?",), {}, InvalidQueryError, ["query", "Unicode"]),
    ("recall", ("Where \ud800?",), {}, InvalidQueryError, ["query", "Unicode"]),
    ("recall", ("q",), {"where": "speaker"}, ValidationError, ["where", "mapping"]),
    ("recall", ("q",), {"where": 5}, ValidationError, ["where", "mapping"]),
    ("recall", ("q",), {"where": {"k": {"nested": 1}}}, ValidationError, ["where", "scalar"]),
    ("add", ("x",), {"entities": 5}, ValidationError, ["entities", "list"]),
    ("add", ("x",), {"entities": "a string"}, ValidationError, ["entities", "list"]),
    ("delete", (None,), {}, ValidationError, ["ids"]),
    ("delete", ([],), {}, ValidationError, ["ids", "at least 1"]),
    ("recall", ("q",), {"since": 10**400}, ValidationError, ["since", "year"]),
    ("recall", ("q",), {"until": float("inf")}, ValidationError, ["until"]),
    ("weave", ("q",), {"budget_ms": 10**400}, ValidationError, ["budget_ms", "(0, 3.6e+06]"]),
    ("weave", ("q",), {"budget_ms": -1}, ValidationError, ["budget_ms"]),
    ("feedback", (HEX,), {"reward": 10**400}, InvalidFeedbackError, ["reward", "[0, 1]"]),
    ("feedback", (HEX,), {"reward": math.nan}, InvalidFeedbackError, ["reward", "finite"]),
    ("feedback", ("xyz",), {"useful": True}, InvalidFeedbackError, ["spacetime_id", "hexadecimal"]),
    ("feedback", (HEX,), {"useful": "yes"}, InvalidFeedbackError, ["useful", "bool"]),
    ("get", (10**400,), {}, ValidationError, ["id", "string"]),
    ("get", (["a"],), {}, ValidationError, ["id", "string"]),
    ("get", (0,), {}, ValidationError, ["id", "string"]),
    ("get", (None,), {}, ValidationError, ["id", "string"]),
    ("get", (math.nan,), {}, ValidationError, ["id", "string"]),
    ("weave", ("q",), {"tool": ["x"]}, ValidationError, ["tool", "string"]),
    ("weave", ("q",), {"complexity": "MEGA"}, InvalidComplexityError, ["complexity", "LITE"]),
    ("add", ("x",), {"title": "t" * 10_000_000}, ValidationError, ["title", "at most 1000"]),
    ("add", ("x",), {"id": "a\x00b"}, ValidationError, ["id", "control"]),
    ("add", ("x",), {"title": "a\x00b"}, ValidationError, ["title", "control"]),
    ("add", ("x",), {"entities": ["ok", "a\x00b"]}, ValidationError, ["entities[1]", "control"]),
    ("add", ("x",), {"metadata": {"k\x1b": 1}}, ValidationError, ["metadata", "control"]),
    ("add", ("x",), {"metadata": {"k": 10**30}}, ValidationError, ["metadata", "64 bits"]),
    ("add", ("x",), {"metadata": {"k": "v" * 70_000}}, ValidationError, ["metadata", "bytes"]),
    ("add", ("x",), {"metadata": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}, ValidationError,
     ["metadata", "nest"]),
    ("add", ({"text": "x", "metadata": "a string"},), {}, ValidationError, ["metadata", "mapping"]),
    ("add", ("x",), {"occurred_at": True}, ValidationError, ["occurred_at"]),
    ("recall", ("q",), {"limit": True}, ValidationError, ["limit", "integer"]),
    ("recall", ("q",), {"limit": 0}, ValidationError, ["limit", "greater than 0"]),
    ("recall", ("q",), {"limit": 10**400}, ValidationError, ["limit"]),
    ("recall", ("q",), {"namespace": "a b"}, InvalidNamespaceError, ["namespace", "A-Za-z0-9"]),
    ("count", (), {"namespace": 5}, InvalidNamespaceError, ["namespace"]),
    ("forget_namespace", ("../etc",), {}, InvalidNamespaceError, ["namespace"]),
    ("crawl", ("",), {}, InvalidQueryError, ["query", "at least 1"]),
    ("recall", ("q" * 10_001,), {}, InvalidQueryError, ["query", "at most 10000"]),
    ("recall", ("q",), {"bogus": 1}, ValidationError, ["bogus", "not an argument"]),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "error", "words"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
async def test_bad_input_is_refused_by_name_and_rule(loom: HoloLoom, method, args, kwargs, error, words) -> None:
    await loom.add("already here", metadata={"speaker": "Ana"})
    before = await loom.count()
    with pytest.raises(error) as caught:
        await getattr(loom, method)(*args, **kwargs)
    assert type(caught.value) is error  # the most specific subclass, not just a HoloLoomError
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert len(message) < 400  # a 10 MB value is previewed, not echoed
    assert await loom.count() == before


def test_register_tool_is_validated(loom: HoloLoom) -> None:
    with pytest.raises(ValidationError, match="name"):
        loom.register_tool("bad\x1bname", lambda ctx: None)
    with pytest.raises(ValidationError, match="tool"):
        loom.register_tool("fine", 42)  # type: ignore[arg-type]


@pytest.mark.parametrize(("argument", "error"), [
    ("query", InvalidQueryError), ("namespace", InvalidNamespaceError), ("complexity", InvalidComplexityError),
    ("spacetime_id", InvalidFeedbackError), ("reward", InvalidFeedbackError), ("useful", InvalidFeedbackError),
    ("limit", ValidationError), ("where", ValidationError),
])
def test_each_argument_maps_to_its_error_class(argument: str, error: type) -> None:
    from HoloLoom.validation import Level, Namespace, Reward, SpacetimeId, Useful

    kinds = {"query": Query, "namespace": Namespace, "complexity": Level, "spacetime_id": SpacetimeId,
             "reward": Reward, "useful": Useful, "limit": Limit, "where": Where}
    with pytest.raises(error) as caught:
        check(argument, object(), kinds[argument])
    assert type(caught.value) is error and isinstance(caught.value, HoloLoomError)
    assert str(caught.value).startswith(argument)


def test_valid_values_come_back_normalised() -> None:
    assert check("since", "2024-01-01", Instant) == 1704067200.0
    assert check("since", 5, Instant) == 5.0
    assert check("where", {"speaker": ("Ana", "Bo")}, Where) == {"speaker": ["Ana", "Bo"]}
    assert check("metadata", {"a": (1, 2.5, None)}, Metadata) == {"a": [1, 2.5, None]}
    assert check("id", "doc-1#0", ShardId) == "doc-1#0"
    assert check("query", "Where is Leland? \x1b[31m", Query)  # stored/asked text may hold controls; only ids may not


@pytest.mark.parametrize("value", ["a\ud800", "\udfff", "x\x00"])
def test_queries_with_surrogates_or_nul_are_refused(value: str) -> None:
    with pytest.raises(InvalidQueryError):
        check("query", value, Query)
