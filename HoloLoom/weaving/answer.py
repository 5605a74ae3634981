"""The ``answer`` tool: extractive answers a person can check, with no LLM.

It picks the sentence(s) of the retrieved memories that answer the question and cites
each with ``[n]``, where *n* is the memory's row in the Spacetime's context (the row the
CLI, TUI, dashboard and JSON all number the same way). Sentences are read as plain text
(markdown stripped for display; stored text is untouched).

How a sentence is scored: how much of the question's content it covers (words weighted by
rarity, lightly stemmed), how much its memory covers, whether it names the entities the
question names, whether it has the kind of thing asked for (a name for "who", a date for
"when", a number for "how many"), and the memory's similarity to the question. A memory a
newer one supersedes (see :mod:`.supersession`) counts less, and a sentence stating its
outdated claim is replaced by the newer one, unless the question asks about the past.

When the evidence does not support an answer the tool says so ("I found nothing in memory
that answers this.") and lists the closest memories as related, by row. ``confidence`` is
a probability that the answer is right, from a logistic model over the support features
(fitted on the answers benchmark, see ``hololoom bench answers``); the same model decides
"not found". For "when" questions, a sentence with no date of its own is given its
memory's date (or its relative phrase, "yesterday", resolved against that date).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ..chunking import split_sentences
from ..extraction import entity_key, tokenize
from ..plaintext import plain_blocks, plain_lines
from ..timephrases import find_time_phrases
from .supersession import SUPERSEDED_PATH, Claim, claims_in
from .tools import ToolContext, ToolResult

__all__ = ["NOT_FOUND", "answer_probability", "answer_tool"]

NOT_FOUND = "I found nothing in memory that answers this."

# The logistic model of "this answer is right" (see answer_probability): fitted (L2, C=3)
# on the answers benchmark's support features; 5-fold cross-validated there it has ECE
# 0.09 and Brier 0.05. Few features, so that it carries over to other notes.
_WEIGHTS = {"bias": -4.8, "coverage": 2.1, "predicate": 3.2, "entities": 0.9, "sentence_similarity": 0.7,
            "kind": 1.8, "absent": -1.4}
_THRESHOLD = 0.5
_CANDIDATES = 16  # sentences embedded per question (the lexically best; 40 answered no better, at 2.5x the cost)
_STARTS = 3  # sentences an answer chain may start from (the best-scored)
_HOPS = 3  # sentences a chain may add to its start
_HOP_WEIGHT = 0.85  # a chain's extra cover against a start's score: the weight cover has there (0.6 + 0.25)

_QUESTION_WORDS = frozenset("""who whom whose what when where which why how many much long ago tell please know
remember recall anyone anything someone something happen happened happens ever""".split())
_WEAK_WORDS = frozenset("""say said says mention mentioned mentions talk talked discuss discussed note notes noted
think thought decide decided plan planned get got go went make made""".split())
_HISTORY = re.compile(r"\b(?:before|previous(?:ly)?|used\s+to|originally|first|former(?:ly)?|old|initially|prior)\b", re.I)
_CALENDAR = frozenset(m.lower() for m in ("January February March April May June July August September October November "
                                          "December Monday Tuesday Wednesday Thursday Friday Saturday Sunday").split())
_CAPITALISED = re.compile(r"\b[A-Z][a-z][\w'\-]*|\b[A-Z]{2,}\b")
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                     r"hundred|thousand|million|dozen|half)\b", re.I)
_AMOUNT = re.compile(r"[$€£]\s?\d|\d(?:[\d,.]*\d)?\s?(?:k|m|euros?|dollars?|pounds?|usd|eur|gbp|%)\b", re.I)
_RELATION_CUES = {"lives_in": r"live|living|lives|based|home|city|move|moved|reside", "works_at": r"work|works|job|company|employer|join|joined",
                  "reports_to": r"report|reports|manager|boss", "date": r"when|date|day|launch|scheduled|happen|time"}


_IRREGULAR = dict(pair.split(":") for pair in """met:meet spoke:speak spoken:speak went:go gone:go ate:eat eaten:eat
bought:buy paid:pay told:tell said:say took:take taken:take made:make got:get saw:see seen:see ran:run began:begin
begun:begin left:leave found:find gave:give given:give thought:think brought:bring wrote:write written:write chose:choose
chosen:choose sent:send flew:fly flown:fly drove:drive driven:drive won:win lost:lose sold:sell felt:feel kept:keep
held:hold led:lead taught:teach built:build spent:spend hired:hire read:read heard:hear knew:know known:know
became:become came:come swam:swim sang:sing rode:ride broke:break broken:break woke:wake fell:fall""".split())


def _stem(token: str) -> str:
    token = _IRREGULAR.get(token, token)
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ers", ""), ("er", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            token = token[: -len(suffix)] + repl
            break
    return token[:-1] if token.endswith("e") and len(token) > 3 else token


def _terms(text: str) -> set[str]:
    return {_stem(t) for t in tokenize(text)}


def _names(text: str, known: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Capitalised words; a sentence's first word only when a name follows it or it is a known entity."""
    names = set()
    for m in _CAPITALISED.finditer(text):
        word = m.group(0)
        starts = m.start() == 0 or text[: m.start()].rstrip().endswith((".", "!", "?", ":", ";"))
        if starts and not (word.lower() in known or re.match(r"\s+[A-Z]", text[m.end():])):
            continue
        names.add(word.lower())
    return names - _CALENDAR


@dataclass(frozen=True, slots=True)
class _Question:
    text: str
    terms: dict[str, float]  # stemmed content term -> weight (weak words count less)
    entity_terms: frozenset[str]
    entity_keys: tuple[str, ...]
    kind: str  # who, when, where, number, amount, name, other
    about_past: bool
    words: dict[str, str]  # stemmed term -> the word as asked


def _question(ctx: ToolContext) -> _Question:
    q = ctx.query.strip()
    bare = q
    for phrase in reversed(find_time_phrases(q, now=0.0)):  # the window already says when
        bare = bare[:phrase.start_char] + " " + bare[phrase.end_char:]
    words = [t for t in tokenize(bare) if t not in _QUESTION_WORDS]
    terms = {_stem(t): (0.3 if t in _WEAK_WORDS else 1.0) for t in words}
    lower = q.lower()
    if re.match(r"\s*(?:when|what\s+(?:date|day|time|month|year)|which\s+(?:date|day|month|year)|how\s+long\s+ago|since\s+when)\b", lower):
        kind = "when"
    elif re.search(r"\b(?:who|whom|whose)\b", lower):
        kind = "who"
    elif re.match(r"\s*where\b", lower):
        kind = "where"
    elif re.match(r"\s*how\s+much\b", lower) or re.search(r"\b(?:cost|price|budget|charge|pay|paid|quote)\b", lower):
        kind = "amount"
    elif re.match(r"\s*how\s+(?:many|often|long|old|far)\b", lower):
        kind = "number"
    elif re.search(r"\b(?:name|called|which\s+(?:company|restaurant|hotel|book|vendor|city|country|school|team))\b", lower):
        kind = "name"
    else:
        kind = "other"
    entity_keys = tuple(k for k in (re.sub(r" s$", "", entity_key(e)) for e in ctx.entities)  # "Hannah Weiss's"
                        if k and not set(k.split()) <= _CALENDAR)  # "October" is the window's, not an entity
    entity_terms = frozenset(t for k in entity_keys for t in _terms(k)) & set(terms)
    return _Question(q, terms, entity_terms, entity_keys, kind, bool(_HISTORY.search(q)), {_stem(t): t for t in words})


@dataclass(frozen=True, slots=True)
class _Sentence:
    row: int  # 0-based index into ctx.items
    text: str  # plain text, as shown
    terms: frozenset[str]  # its own words
    context: frozenset[str]  # its memory's title and the heading above it


def _sentences(ctx: ToolContext) -> list[_Sentence]:
    out = []
    for row, item in enumerate(ctx.items):
        title = _terms(item.shard.title or "")
        heading: set[str] = set()
        for line, is_heading in plain_blocks(item.shard.text):
            if is_heading:
                heading = _terms(line)
                continue
            for s in split_sentences(line):
                if len(s) > 3:
                    shown = s if len(s) <= 400 else s[:397] + "..."
                    out.append(_Sentence(row, shown, frozenset(_terms(s)), frozenset(title | heading)))
    return out


class _Scorer:
    """Rarity-weighted coverage of the question's terms, over the candidate sentences."""

    def __init__(self, question: _Question, sentences: list[_Sentence]) -> None:
        df: Counter[str] = Counter()
        for s in sentences:
            df.update(s.terms | s.context)
        n = len(sentences)
        self.weights = {t: w * math.log(1 + (n + 1) / (df.get(t, 0) + 0.5)) for t, w in question.terms.items()}
        self.predicate = {t: w for t, w in self.weights.items() if t not in question.entity_terms and question.terms[t] == 1.0}

    def coverage(self, covered: set[str] | frozenset[str], *, predicate_only: bool = False,
                 credit: dict[str, float] | None = None) -> float:
        """The weighted share of terms covered; ``credit`` gives partial cover to the others."""
        weights = self.predicate if predicate_only else self.weights
        total = sum(weights.values())
        credit = credit or {}
        return sum(w * (1.0 if t in covered else credit.get(t, 0.0)) for t, w in weights.items()) / total if total else 1.0


def _kind_match(question: _Question, s: _Sentence, ctx: ToolContext) -> float:
    text = s.text
    if question.kind in ("who", "name"):
        known = _known_names(ctx, s.row)
        return 1.0 if _names(text, known) - _names(question.text, known) - {"i"} else 0.3
    if question.kind == "when":
        return 1.0 if find_time_phrases(text, now=ctx.items[s.row].shard.occurred_at or 0.0) else 0.6
    if question.kind == "where":
        return 1.0 if re.search(r"\b(?:in|at|to|from|near)\s+(?:the\s+)?[A-Z]", text) else 0.4
    if question.kind == "number":
        return 1.0 if _NUMBER.search(text) else 0.3
    if question.kind == "amount":
        return 1.0 if _AMOUNT.search(text) else 0.6 if re.search(r"\d", text) else 0.3
    return 1.0


def _known_names(ctx: ToolContext, row: int) -> set[str]:
    """Words known to be names: written capitalised mid-sentence in the context, or single-word
    entities of the memory that do not read like an ordinary word ("Lena", not "Several")."""
    known = set().union(*(_written_names(item.shard.text) for item in ctx.items))
    for entity in ctx.items[row].shard.entities:
        word = entity.lower()
        if " " not in word and len(word) >= 3 and not re.search(r"(?:al|ly|ing|ed|ous|ive|ful|ic|able|less|est)$", word):
            known.add(word)
    return known


@functools.lru_cache(maxsize=4096)
def _written_names(text: str) -> frozenset[str]:
    """The names a memory's text writes (asked for every sentence a "who" question scores)."""
    return frozenset(_names(text))


def _similarity(ctx: ToolContext, row: int) -> float:
    parts = ctx.items[row].score_parts
    return float(parts.get("sim", parts.get("vector", 0.0)) or 0.0)


def _stored_vector(ctx: ToolContext, s: _Sentence) -> np.ndarray | None:
    """The memory's stored vector when the sentence is the whole memory and that is what was embedded.

    A memory without a title is embedded from its text alone (``ingest.py``), so a
    one-sentence memory's stored vector is its sentence's: no need to encode it again.
    """
    item = ctx.items[s.row]
    if item.shard.title or s.text != item.shard.text:
        return None
    return (ctx.extras.get("item_vectors") or {}).get(item.id)


async def _sentence_similarity(ctx: ToolContext, sentences: list[_Sentence]) -> dict[int, float]:
    """Cosine of each sentence to the question, when the weave passed its embedder."""
    embedder, query_vector = ctx.extras.get("embedder"), ctx.extras.get("query_vector")
    if embedder is None or query_vector is None or not sentences:
        return {}
    stored = {id(s): v for s in sentences if (v := _stored_vector(ctx, s)) is not None}
    todo = [s for s in sentences if id(s) not in stored]
    encoded = list(await embedder.embed([s.text for s in todo])) if todo else []
    by_id = {**stored, **{id(s): v for s, v in zip(todo, encoded)}}
    vectors = np.asarray([by_id[id(s)] for s in sentences], dtype=np.float32)
    sims = vectors @ np.asarray(query_vector, dtype=np.float32)
    return {id(s): float(v) for s, v in zip(sentences, sims)}


async def _synonym_credit(ctx: ToolContext, question: _Question, scorer: _Scorer, covered: set[str],
                          chosen: list[_Sentence]) -> dict[str, float]:
    """Partial cover for a question word the answer says in other words ("travel" ~ "trip").

    Word vectors from the same embedder; a cosine of 0.5 gives nothing, 0.7 or more full
    cover. Only the predicate words the answer does not already contain are compared.
    """
    embedder = ctx.extras.get("embedder")
    missing = [t for t in scorer.predicate if t not in covered and t in question.words]
    if embedder is None or not missing:
        return {}
    answer_words = sorted({w for s in chosen for w in tokenize(s.text) if len(w) > 2})[:60]
    if not answer_words:
        return {}
    vectors = np.asarray(await embedder.embed([question.words[t] for t in missing] + answer_words), dtype=np.float32)
    sims = vectors[: len(missing)] @ vectors[len(missing):].T
    return {t: float(np.clip((sims[i].max() - 0.5) / 0.2, 0.0, 1.0)) for i, t in enumerate(missing)}


def answer_probability(features: dict[str, float]) -> float:
    """P(the answer is right) from the support features (a logistic model; see _WEIGHTS)."""
    z = _WEIGHTS["bias"] + sum(_WEIGHTS[k] * v for k, v in features.items() if k in _WEIGHTS)
    return 1.0 / (1.0 + math.exp(-z))


def _superseding(ctx: ToolContext) -> dict[int, int]:
    """row of a superseded memory -> row of the memory that supersedes it."""
    rows = {item.id: n for n, item in enumerate(ctx.items)}
    out = {}
    for n, item in enumerate(ctx.items):
        for path in item.paths:
            if path.startswith(SUPERSEDED_PATH) and path[len(SUPERSEDED_PATH):] in rows:
                out[n] = rows[path[len(SUPERSEDED_PATH):]]
    return out


def _asked(claim: Claim, question: _Question) -> bool:
    """Whether the question asks for this claim's subject and relation."""
    words = set(re.findall(r"[\w$-]+", question.text.lower()))
    subject = set(claim.subject.split())
    if not subject or not subject <= words | {w.rstrip("s") for w in words}:
        return False
    cue = _RELATION_CUES.get(claim.relation)
    if cue is not None:
        return bool(re.search(rf"\b(?:{cue})\b", question.text.lower()))
    return claim.relation == "holder" or set(claim.relation.split()) <= words


def _names_the_value(claim: Claim, words: set[str]) -> bool:
    return any(len(w) > 2 and w in words for w in claim.value.split())


def _claim_bonus(question: _Question, sentences: list[_Sentence], ctx: ToolContext) -> dict[int, float]:
    """The newest sentence stating what the question asks gets ahead; older values fall back.

    A question about the past ("before", "previously") prefers the oldest instead, and a
    claim whose value the question already names ("... before Sofia?") is its reference
    point, not its answer.
    """
    asked: dict[int, Claim] = {}
    for s in sentences:
        for claim in claims_in(s.text):
            if _asked(claim, question):
                asked[id(s)] = claim
                break
    words = set(re.findall(r"[\w$-]+", question.text.lower()))
    keyed: dict[tuple[str, str], list[float]] = {}
    for s in sentences:
        claim = asked.get(id(s))
        if claim is not None and not _names_the_value(claim, words):
            keyed.setdefault((claim.subject, claim.relation), []).append(ctx.items[s.row].shard.occurred_at)
    pick = min if question.about_past else max
    bonus: dict[int, float] = {}
    for s in sentences:
        claim = asked.get(id(s))
        if claim is None:
            continue
        times = keyed.get((claim.subject, claim.relation))
        if _names_the_value(claim, words) or not times:
            bonus[id(s)] = -0.3
        else:
            bonus[id(s)] = 0.3 if ctx.items[s.row].shard.occurred_at == pick(times) else -0.2
    return bonus


def _date_note(s: _Sentence, ctx: ToolContext) -> str:
    """For "when" questions: the date a sentence means, when it does not say it itself."""
    occurred = ctx.items[s.row].shard.occurred_at
    if not occurred:
        return ""
    phrases = find_time_phrases(s.text, now=occurred)
    relative = [p for p in phrases if not re.search(r"\d|" + "|".join(_CALENDAR), p.text.lower())]
    if phrases and not relative:
        return ""  # the sentence names its date
    day = relative[0].anchor if relative else datetime.fromtimestamp(occurred, tz=timezone.utc)
    return f" (on {day.strftime('%B')} {day.day}, {day.year}; {day.date().isoformat()})"
async def _choose(question: _Question, sentences: list[_Sentence], ctx: ToolContext) -> tuple[list[_Sentence], dict[str, float]]:
    """The answer sentence(s) and the features that say how well they are supported."""
    scorer = _Scorer(question, sentences)
    superseded = {} if question.about_past else _superseding(ctx)
    top_score = max((item.score for item in ctx.items), default=0.0) or 1.0

    def lexical(s: _Sentence) -> float:
        item = ctx.items[s.row]
        value = 0.6 * scorer.coverage(s.terms | s.context) + 0.25 * scorer.coverage(s.terms)
        value += 0.15 * _entity_share(question, ctx, [s.row])
        value = (value + 0.2 * max(0.0, item.score) / top_score) * (0.6 + 0.4 * _kind_match(question, s, ctx))
        outside = "outside-window" in item.paths
        return value * (0.6 if s.row in superseded else 1.0) * (0.7 if outside else 1.0)

    candidates = sorted(sentences, key=lexical, reverse=True)[:_CANDIDATES]
    semantic = await _sentence_similarity(ctx, candidates)
    bonus = _claim_bonus(question, candidates, ctx)

    def score(s: _Sentence) -> float:
        return lexical(s) + 0.5 * semantic.get(id(s), 0.0) + bonus.get(id(s), 0.0)

    ranked = sorted(candidates, key=score, reverse=True)
    best = ranked[0]
    chosen, covered = [best], set(best.terms | best.context)
    if not question.terms:  # "What did I do last weekend?": the window's memories are the answer
        chosen += [s for s in ranked[1:] if s.row != best.row and "outside-window" not in ctx.items[s.row].paths][:1]
    else:
        chain = _Chains(question, scorer, ranked + [s for s in sentences if id(s) not in {id(c) for c in ranked}],
                        ctx, superseded)
        chosen = chain.best([best, *ranked[1:_STARTS]], score)
        covered = set().union(*(s.terms | s.context for s in chosen))
    chosen = list({id(part): part for s in chosen for part in _with_next_if_fragment(s, sentences)}.values())
    rows = sorted({s.row for s in chosen})
    everything = set().union(*(s.terms | s.context for s in sentences))
    credit = await _synonym_credit(ctx, question, scorer, covered, chosen)
    features = {
        "coverage": scorer.coverage(covered, credit=credit),
        "predicate": 1.0 if bonus.get(id(best), 0.0) > 0 else scorer.coverage(covered, predicate_only=True, credit=credit),
        "entities": _entity_share(question, ctx, rows),
        "sentence_similarity": max((semantic.get(id(s), 0.0) for s in chosen), default=0.0),
        "kind": max(_kind_match(question, s, ctx) for s in chosen),
        "absent": 1.0 - scorer.coverage(everything),
    }
    return chosen, features


class _Chains:
    """Answers that take more than one sentence: a chain through a shared name.

    "Who directed the film shot in Leland?" is answered by two sentences: one names the
    film ("Maximum Overdrive ... was shot in Leland"), another, in the film's own memory,
    names its director. A chain starts at one of the best-scored sentences and adds, up
    to :data:`_HOPS` times, the sentence that covers most of the question's remaining
    terms, among those linked to it: in the same memory, or naming a name (or a memory's
    title) the chain named that the question did not. A sentence is added only when it
    covers a word of what is asked (not a name in the question, not a weak word such as
    "said") that the chain did not: an unlinked or idle sentence would answer by collage.
    Another start's chain wins over the best start's only when the cover its hops add,
    weighted as cover is in a sentence's score, outweighs its start's lower score.
    """

    def __init__(self, question: _Question, scorer: _Scorer, pool: list[_Sentence], ctx: ToolContext,
                 superseded: dict[int, int]) -> None:
        self.scorer = scorer
        self.pool = [s for s in pool if s.row not in superseded]
        self._known = _known_names(ctx, 0) if ctx.items else set()  # names written mid-sentence anywhere
        # A name most of the context's memories carry (the two people of a conversation)
        # links everything to everything, so it is no bridge; nor is a name the question asks.
        rows: dict[str, set[int]] = {}
        for row, item in enumerate(ctx.items):
            for name in self._stemmed_names(f"{item.shard.title or ''}. {item.shard.text}"):
                rows.setdefault(name, set()).add(row)
        hub = max(2, len(ctx.items) // 2)
        self.asked = self._stemmed_names(question.text) | {"i"} | {n for n, r in rows.items() if len(r) > hub}
        # What a hop must add: a word of what is asked, not a name the question anchors on
        # ("Caroline: Yep!" covers "Caroline" and nothing asked).
        self.predicate = {t for t in scorer.predicate if len(t) > 1} - self.asked
        self._names: dict[int, set[str]] = {}
        self._titles = {row: self._stemmed_names(item.shard.title or "") - self.asked for row, item in enumerate(ctx.items)}

    def _stemmed_names(self, text: str) -> set[str]:
        # "Franciscan" links to "the Franciscans", "Melanie's" to "Melanie"
        return {_stem(re.sub(r"['’]s$", "", n)) for n in _names(text, self._known)}

    def names(self, s: _Sentence) -> set[str]:
        if id(s) not in self._names:
            self._names[id(s)] = self._stemmed_names(s.text) - self.asked
        return self._names[id(s)]

    def _linked(self, s: _Sentence, named: set[str], rows: set[int]) -> bool:
        return s.row in rows or bool(self.names(s) & named) or bool(self._titles[s.row] and self._titles[s.row] <= named)

    def grow(self, start: _Sentence) -> tuple[list[_Sentence], float]:
        chain, covered = [start], set(start.terms | start.context)
        named, rows = set(self.names(start)) | self._titles[start.row], {start.row}
        value = self.scorer.coverage(covered)
        for _ in range(_HOPS):
            pick, pick_gain = None, 0.0
            for s in self.pool:
                if s in chain or not (self.predicate & (s.terms | s.context)) - covered or not self._linked(s, named, rows):
                    continue
                gain = self.scorer.coverage(covered | s.terms | s.context) - value
                if gain > pick_gain:
                    pick, pick_gain = s, gain
            if pick is None:
                break
            chain.append(pick)
            covered |= pick.terms | pick.context
            named |= self.names(pick) | self._titles[pick.row]
            rows.add(pick.row)
            value = self.scorer.coverage(covered)
        return chain, value

    def best(self, starts: list[_Sentence], score: Callable[[_Sentence], float]) -> list[_Sentence]:
        """The best start's chain, unless another start's hops reach so much more of the
        question that it makes up for its start's lower score."""
        grown = [self.grow(s) for s in starts]
        first = grown[0][1]

        def value(start: _Sentence, covered: float) -> float:
            # Only what the hops add beyond the start's own cover (already in its score) and
            # beyond the best start's chain counts: a start that merely names more of the
            # question ("... before Sofia?" naming Sofia) is not a better chain.
            own = self.scorer.coverage(start.terms | start.context)
            return score(start) + _HOP_WEIGHT * max(0.0, covered - max(own, first))

        valued = [value(s, covered) for s, (_, covered) in zip(starts, grown)]
        return grown[valued.index(max(valued))][0]


def _with_next_if_fragment(s: _Sentence, sentences: list[_Sentence]) -> list[_Sentence]:
    """A fragment ("Lazy Sunday.") says little alone: the sentence after it comes along."""
    if len(s.text.split()) > 4:
        return [s]
    index = next(i for i, other in enumerate(sentences) if other is s)
    following = sentences[index + 1] if index + 1 < len(sentences) else None
    return [s, following] if following is not None and following.row == s.row else [s]


def _entity_share(question: _Question, ctx: ToolContext, rows: list[int]) -> float:
    if not question.entity_keys:
        return 1.0
    text = "".join(_padded_key(ctx.items[r].shard.text + " " + (ctx.items[r].shard.title or "")) for r in rows)
    return sum(1 for k in question.entity_keys if f" {k} " in text) / len(question.entity_keys)


@functools.lru_cache(maxsize=4096)
def _padded_key(text: str) -> str:
    """A memory's text as entity keys, spaced for whole-key matching (asked of every sentence scored)."""
    return f" {entity_key(text)} "


def _not_found(ctx: ToolContext, confidence: float, features: dict[str, float], *, candidate: str = "") -> ToolResult:
    related = []
    for row, item in enumerate(ctx.items[:3], start=1):
        lines = plain_lines(item.shard.text)
        label = item.shard.title or (lines[0] if lines else "")
        related.append((row, label if len(label) <= 100 else label[:97] + "..."))
    text = NOT_FOUND
    if related:
        text += " Related: " + "; ".join(f"{label} [{row}]" for row, label in related) + "."
    return ToolResult(text, round(confidence, 4), (), {"found": False, "related_rows": [r for r, _ in related],
                                                      "candidate": candidate, "features": features, "calibrated": True})


async def answer_tool(ctx: ToolContext) -> ToolResult:
    """The best-supported sentences, cited by context row; or an honest "not found"."""
    sentences = _sentences(ctx) if ctx.items else []
    if not sentences:
        return ToolResult(NOT_FOUND, 0.0, (), {"found": False, "related_rows": [], "calibrated": True})
    question = _question(ctx)
    chosen, features = await _choose(question, sentences, ctx)
    confidence = answer_probability(features)
    parts, citations, cited = [], [], []
    for s in chosen:
        note = _date_note(s, ctx) if question.kind == "when" else ""
        parts.append(f"{s.text.rstrip()}{note} [{s.row + 1}]")
        cited.append({"text": s.text, "row": s.row + 1, "id": ctx.items[s.row].shard.id})
        if ctx.items[s.row].shard.id not in citations:
            citations.append(ctx.items[s.row].shard.id)
    features = {k: round(v, 4) for k, v in features.items()}
    if confidence < _THRESHOLD:
        return _not_found(ctx, confidence, features, candidate=" ".join(parts))
    return ToolResult(" ".join(parts), round(confidence, 4), tuple(citations),
                      {"found": True, "sentences": cited, "rows": sorted({c["row"] for c in cited}),
                       "features": features, "calibrated": True})
