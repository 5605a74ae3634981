"""Entities and motifs from plain text, with no LLM and no network.

Entities are the nodes that connect memories in the graph, so the extractor favours
precision on proper names: runs of capitalised words (allowing a few lower-case
connectors such as "of" or "de" inside a name), quoted titles, and acronyms. Words
that are capitalised only because they start a sentence are dropped unless they are
known names elsewhere in the text. Motifs are the text's salient content words.

``entity_key`` is the normal form used to match names across memories and backends.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Protocol, runtime_checkable

__all__ = [
    "EntityExtractor",
    "RuleBasedExtractor",
    "STOPWORDS",
    "about_keys",
    "entity_key",
    "tokenize",
]

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    one two also may might must shall many much new first last well however since though although
    whose another every either neither yes yet us via per among upon within without ever
    """.split()
)

# Lower-case words allowed *inside* a multi-word name ("Haymo of Faversham", "Leonardo da Vinci").
_CONNECTORS = frozenset({"of", "the", "de", "da", "di", "del", "der", "van", "von", "la", "le", "du", "y", "bin", "al"})

# Words that open a chat turn or a sentence and are never names ("Hey John" is John).
_DISCOURSE = frozenset(
    "hey hi hello thanks thank wow yeah yes yep yup oh ok okay congrats congratulations bye sorry please haha lol let"
    .split()
)
# "I'm", "you're", "we've", "they'll", "I'd", "can't": a pronoun or a verb, never a name.
_CONTRACTION_RE = re.compile(r"^(\w+)['’](?:m|re|ve|ll|d|t|s)$", re.IGNORECASE)

_WORD_RE = re.compile(r"[\w][\w'’\-\.]*", re.UNICODE)
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_QUOTED_RE = re.compile(r"[\"“”«»]([^\"“”«»]{2,80})[\"“”«»]")
_PAREN_RE = re.compile(r"\s*\([^)]*\)\s*")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")


def _fold(text: str) -> str:
    if text.isascii():  # nothing to decompose (most text): skip the per-character pass
        return text.casefold()
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def entity_key(name: str) -> str:
    """The normal form of an entity name: accents folded, case folded, punctuation dropped.

    ``entity_key("Leland, North Carolina") == "leland north carolina"``.
    """
    return " ".join(_TOKEN_RE.findall(_fold(name).replace("_", " ")))


def about_keys(title: str) -> list[str]:
    """The keys under which a titled memory can be reached.

    A Wikipedia-like title "Lilu (mythology)" is reached by "lilu (mythology)" and
    "lilu"; "Leland, North Carolina" also by "leland".
    """
    keys: list[str] = []
    variants = [title, _PAREN_RE.sub(" ", title)]
    if "," in title:
        variants.append(_PAREN_RE.sub(" ", title).split(",", 1)[0])
    for variant in variants:
        key = entity_key(variant)
        if key and key not in keys:
            keys.append(key)
    return keys


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords (for motifs and lexical features)."""
    return [t for t in _TOKEN_RE.findall(_fold(text)) if t not in STOPWORDS and not t.isdigit() or (t.isdigit() and len(t) == 4)]


@runtime_checkable
class EntityExtractor(Protocol):
    """Finds entity names and motifs in text. Implement it to plug in spaCy, GLiNER or an LLM."""

    def entities(self, text: str) -> list[str]:
        """Entity names in order of first appearance, without duplicates."""
        ...

    def motifs(self, text: str, limit: int = 8) -> list[str]:
        """The text's most salient keywords."""
        ...


class RuleBasedExtractor:
    """Capitalised spans, quoted titles and acronyms; motifs by frequency.

    Args:
        max_entities: at most this many entities per text (most frequent first, then order).
        min_length: shortest entity name kept.
    """

    def __init__(self, *, max_entities: int = 48, min_length: int = 2) -> None:
        self.max_entities = max_entities
        self.min_length = min_length

    def entities(self, text: str) -> list[str]:
        found: list[str] = []
        for match in _QUOTED_RE.finditer(text):
            inner = match.group(1).strip()
            words = inner.split()
            capitalised = sum(1 for w in words if w[:1].isupper() or w.casefold() in _CONNECTORS)
            # Quoted *titles* ("The Shining") are names; quoted sentences are not.
            if inner[:1].isupper() and len(words) <= 8 and capitalised * 2 > len(words) + (len(words) > 2):
                found.append(inner)
        found.extend(self._capitalised_spans(text))
        seen: dict[str, str] = {}
        counts: Counter[str] = Counter()
        for name in found:
            key = entity_key(name)
            if len(key) < self.min_length or key in STOPWORDS:
                continue
            counts[key] += 1
            seen.setdefault(key, name)
        if len(seen) <= self.max_entities:
            return list(seen.values())
        order = {k: i for i, k in enumerate(seen)}
        keep = sorted(seen, key=lambda k: (-counts[k], order[k]))[: self.max_entities]
        return [seen[k] for k in sorted(keep, key=order.__getitem__)]

    def motifs(self, text: str, limit: int = 8) -> list[str]:
        counts = Counter(t for t in tokenize(text) if len(t) > 2 and not t.isdigit())
        return [word for word, _ in counts.most_common(limit)]

    def _capitalised_spans(self, text: str) -> list[str]:
        spans: list[str] = []
        sentence_start_words: list[str] = []
        words = list(_WORD_RE.finditer(text))
        current: list[str] = []
        current_starts_sentence = False
        pending: list[str] = []  # connectors waiting to see whether the name continues

        def flush() -> None:
            nonlocal current, pending, current_starts_sentence
            if current:
                if current_starts_sentence and len(current) == 1:
                    sentence_start_words.append(current[0])
                else:
                    spans.append(" ".join(current))
            current, pending, current_starts_sentence = [], [], False

        prev_end = 0
        for i, m in enumerate(words):
            word = m.group(0).rstrip(".'’-")
            gap = text[prev_end : m.start()]
            prev_end = m.end()
            at_sentence_start = i == 0 or bool(_SENTENCE_END.search(text[: m.start()][-3:])) or "\n" in gap
            breaks = any(ch in gap for ch in ",;:()[]\"“”!?") or "\n" in gap or (
                gap.strip() == "." if gap else False
            )
            if current and breaks:
                flush()
            if not word:
                flush()
                continue
            contraction = _CONTRACTION_RE.match(word)
            if contraction and (not word.endswith(("s", "S")) or contraction.group(1).casefold() in STOPWORDS | _DISCOURSE):
                flush()  # "It's", "Let's", "I'm": not a possessive of a name
                continue
            if not current and at_sentence_start and word.casefold() in _DISCOURSE:
                continue
            is_cap = word[0].isupper() or (word.isupper() and len(word) > 1)
            if is_cap and word.casefold() not in STOPWORDS | {"i"} or (is_cap and current):
                if current and pending:
                    current.extend(pending)
                    pending = []
                if not current:
                    current_starts_sentence = at_sentence_start and word.casefold() not in _CONNECTORS
                    if word.casefold() in STOPWORDS:
                        continue
                current.append(word)
                if m.group(0).endswith(".") and not _is_abbreviation(m.group(0)):
                    flush()
            elif current and word.casefold() in _CONNECTORS and len(pending) < 2:
                pending.append(word)
            else:
                flush()
        flush()
        # A capitalised word that only starts a sentence is a name unless the text also
        # uses it in lower case ("Demons are ..." next to "a demon").
        lower_words = {t for t in _TOKEN_RE.findall(text) if t.islower()}
        spans.extend(
            w for w in sentence_start_words
            if len(w) > 2 and w.casefold() not in lower_words and w.casefold().removesuffix("s") not in lower_words
        )
        return spans


def _is_abbreviation(token: str) -> bool:
    """'St.', 'Dr.', 'U.S.' end with a dot that does not end the name."""
    core = token.rstrip(".")
    return len(core) <= 3 and core[:1].isupper() or "." in core
