"""Hypothesis strategies for what an attacker or a careless user hands HoloLoom.

Every argument is drawn from a mix of values that should be accepted (so the valid path
is exercised with odd but legal input: escapes, markup, Unicode) and values that must be
refused (wrong types, lone surrogates, NUL, control characters, huge numbers, NaN,
unhashable containers, oversized strings).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Seeded (derandomize), no example database, no deadline: the same cases on every run.
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True, suppress_health_check=list(HealthCheck))


def fuzz(examples: int) -> settings:
    """The suite's settings with ``examples`` generated cases."""
    return settings(FUZZ, max_examples=examples)


#: The terminal/markup samples of issue 13, plus other text that has hurt similar tools.
ESCAPES = ["\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31mred\x1b[0m", "[/oops]", "[link=http://evil.example]click[/link]",
           "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "\u202eevil", "\x9b31m", "[bold]x", ":smile:"]
NASTY_STRINGS = ["", " ", "\t\n", "\x00", "a\x00b", "\ud800", "x\udfff", "\ufeff", "\u0000" * 3, "💥" * 3,
                 "../../etc/passwd", "NaN", "null", "{}", "[]", "x" * 10_001, "é" * 300, *ESCAPES]

# Any code point, lone surrogates and controls included.
any_char = st.characters(codec=None, exclude_categories=())
nasty_text = st.one_of(st.text(any_char, max_size=40), st.sampled_from(NASTY_STRINGS))
plain_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)

huge_numbers = st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, -1e308, 5e-324])
numbers = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), huge_numbers,
                    st.sampled_from([0, -1, 1, 0.5, math.nan, math.inf, -math.inf]))
scalars = st.one_of(st.none(), st.booleans(), numbers, nasty_text, st.binary(max_size=8))


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(children, max_size=3), st.tuples(children), st.sets(st.integers(), max_size=2),
                     st.dictionaries(st.one_of(nasty_text, st.integers(), st.none()), children, max_size=3))


#: Anything at all: scalars, containers of them (nested a little), objects that are not data.
anything = st.one_of(
    scalars,
    st.recursive(scalars, _containers, max_leaves=6),
    st.builds(object),
    st.just(datetime(1, 1, 1, tzinfo=timezone.utc)),
    st.just(datetime.max),
    st.just(lambda: None),
)


def maybe(valid: st.SearchStrategy, *, bad_weight: int = 1, good_weight: int = 3) -> st.SearchStrategy:
    """Mostly ``valid``, sometimes anything (the weights keep some calls fully valid).

    (Not ``st.one_of(valid, anything)``: one_of flattens nested one_ofs into branches
    chosen uniformly, so ``anything``'s many branches would drown ``valid``.)
    """
    choice = st.sampled_from([True] * good_weight + [False] * bad_weight)
    return choice.flatmap(lambda good: valid if good else anything)


questions = st.one_of(st.sampled_from(["Where is Leland?", "Who directed Maximum Overdrive?", "What is Paris?"]),
                      plain_text.filter(str.strip), st.sampled_from(ESCAPES).map(lambda s: f"Where is {s} Leland?"))
levels = st.sampled_from([None, "LITE", "fast", "FULL", "RESEARCH"])
namespaces_read = st.sampled_from([None, "default", "fuzz", "empty-ns"])
instants = st.one_of(st.none(), st.sampled_from(["2020-01-01", "2030-12-31T23:59:59", 0, 1.7e9, datetime(2024, 5, 1)]))
wheres = st.one_of(st.none(), st.sampled_from([{}, {"speaker": "Ana"}, {"speaker": ["Ana", "Bo"]}, {"n": 3}]))
limits = st.one_of(st.none(), st.integers(1, 20))
budgets = st.one_of(st.none(), st.floats(1.0, 5000.0))
tools = st.one_of(st.none(), st.sampled_from(["answer", "search", "summarize"]))
metadata = st.one_of(st.none(), st.dictionaries(plain_text.filter(lambda k: k.isprintable()),
                                                st.one_of(st.integers(-5, 5), plain_text, st.none()), max_size=3))
entity_lists = st.one_of(st.none(), st.lists(plain_text.filter(lambda k: k.isprintable() and k.strip()), max_size=3))
titles = st.one_of(st.none(), plain_text.filter(lambda k: k.isprintable() and k.strip()))
ids = plain_text.filter(lambda k: k.isprintable() and k.strip())
