"""Updated facts: a newer memory that gives a new value for the same subject and relation
supersedes the older one.

Rule-based and explainable, no LLM. Each sentence of a retrieved memory may state a
*claim* ``(subject, relation, value)``; the rules cover the facts people's notes update:

- who holds a role: "Lena is the VP of Engineering", "Sofia Alvarez confirmed as permanent
  VP of Engineering", "Our new CTO is Omar", "Sofia replaces Lena as VP of Engineering",
  "Lena stepped down as VP of Engineering" (the role, ``holder``, the person or nobody);
- where someone lives or works and to whom they report: "Priya moved to Lisbon", "Jonas
  now works at Helix Labs", "Mina reports to Carlos";
- an attribute: "Priya's phone number is ...", "The budget for Atlas is $120k", "The
  Atlas launch was pushed to June 12" (the thing, the attribute, the value).

Roles count only when they name one seat ("the VP of Engineering", "our CTO", "head of
design"), not a kind of job ("an engineer"). Within one weave's context, a memory whose
claim has the same subject and relation as an *older* memory's, but another value,
supersedes it: it is ranked above it, and the older one stays in the context with the
path ``superseded-by:<id>`` (its provenance says so). Equal dates supersede nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..chunking import split_sentences
from ..plaintext import plain_lines
from ..types import ScoredShard

__all__ = ["Claim", "Supersession", "apply_supersession", "claims_in", "supersessions"]

SUPERSEDED_PATH = "superseded-by:"

_CONNECTOR = (r"(?:and|but|from|starting|effective|as|since|after|before|until|because|while|when|in|on|at|for|with|last|"
              r"this|next|yesterday|today|tomorrow|earlier|recently|now)")
_NAME = r"[A-Z][\w'\-]+(?:\s+(?:van|von|de|da|del|der|la|le|di)?\s*[A-Z][\w'\-]+){0,3}"
_QUALIFIER = r"(?:(?:the|our|their|his|her|its|a\s+new|new|interim|acting|permanent|full-time|official|current)\s+)*"
_ROLE_HEAD = (r"(?:vp|svp|evp|vice[\s-]+president|president|ceo|cto|cfo|coo|cio|cmo|cpo|chief\s+\w+(?:\s+officer)?|head|"
              r"director|manager|lead|leader|owner|chair(?:person)?|coordinator|editor|captain|coach|treasurer|secretary|"
              r"point\s+of\s+contact|principal|dean|founder|maintainer|organi[sz]er|landlord|dentist|doctor|therapist|"
              r"accountant|lawyer|mentor|advisor|tech\s+lead|team\s+lead|product\s+owner|scrum\s+master)")
_ROLE = (rf"(?P<role>(?:[A-Za-z][\w&-]*\s+){{0,2}}?{_ROLE_HEAD}"
         rf"(?:\s+(?:of|for|at)\s+(?:the\s+)?[\w&-]+(?:\s+(?!{_CONNECTOR}\b)[\w&-]+){{0,3}}?)?)")
_BECOME = (r"(?:is|was|has\s+been|had\s+been|became|becomes|will\s+be|is\s+now|was\s+now|remains|"
           r"(?:was|has\s+been|is|got|will\s+be)?\s*(?:named|appointed|made|promoted\s+to|confirmed\s+as|announced\s+as|"
           r"hired\s+as|elected|elected\s+as|chosen\s+as|picked\s+as)|"
           r"takes\s+over\s+as|took\s+over\s+as|stepped\s+in\s+as|steps\s+in\s+as|joins\s+as|joined\s+as|starts\s+as|"
           r"started\s+as|will\s+start\s+as|is\s+taking\s+over\s+as|will\s+take\s+over\s+as)")
_VALUE = r"(?P<value>[^,;.!?()]+?)"
_END = rf"\s*(?:[,;.!?()]|$|\s+{_CONNECTOR}\b)"


@dataclass(frozen=True, slots=True)
class Claim:
    """A fact one sentence states: ``subject``'s ``relation`` is ``value`` (all normalised)."""

    subject: str
    relation: str
    value: str
    sentence: str


@dataclass(frozen=True, slots=True)
class Supersession:
    """``newer`` gives another value than ``older`` for the same subject and relation."""

    older: str
    newer: str
    subject: str
    relation: str
    old_value: str
    new_value: str

    def to_dict(self) -> dict[str, str]:
        return {"older": self.older, "newer": self.newer, "subject": self.subject, "relation": self.relation,
                "old_value": self.old_value, "new_value": self.new_value}


_ROLE_ALIASES = {"vice president": "vp", "vice-president": "vp", "chairperson": "chair", "leader": "lead"}
_ARTICLES = re.compile(r"^(?:the|our|their|his|her|its|my|a|an|new|interim|acting|permanent|current|official)\s+")


def _norm(text: str) -> str:
    text = re.sub(r"[^\w$€£%:/\-\s]", " ", text.lower())
    text = re.sub(r"\s+", " ", text).strip()
    while (stripped := _ARTICLES.sub("", text)) != text:
        text = stripped
    for alias, canonical in _ROLE_ALIASES.items():
        text = re.sub(rf"\b{alias}\b", canonical, text)
    return text


def _person(value: str) -> str | None:
    value = value.strip()
    return value if re.fullmatch(_NAME, value) else None


def _rules() -> list[tuple[re.Pattern[str], str]]:
    """(pattern, kind): kind says which groups make the claim."""
    flags = re.I
    # Names must be capitalised, so the name parts are compiled case-sensitively inline.
    name = rf"(?-i:{_NAME})"
    return [
        (re.compile(rf"(?P<value>{name})\s+(?:(?:will\s+)?(?:replaces?|replaced|succeeds?|succeeded|will\s+replace|"
                    rf"will\s+succeed))\s+(?P<old>{name})\s+as\s+{_QUALIFIER}{_ROLE}{_END}", flags), "role"),
        (re.compile(rf"(?P<value>{name})\s+(?:stepped|steps|will\s+step|has\s+stepped)\s+down\s+(?:as|from)\s+"
                    rf"{_QUALIFIER}{_ROLE}{_END}", flags), "vacate"),
        (re.compile(rf"(?P<value>{name})\s+(?:is\s+no\s+longer|left\s+(?:the\s+role\s+of|(?:her|his|their)\s+role\s+as))\s+"
                    rf"{_QUALIFIER}{_ROLE}{_END}", flags), "vacate"),
        (re.compile(rf"(?P<value>{name}),?\s+(?:\w+\s+)?{_BECOME}\s+{_QUALIFIER}{_ROLE}{_END}", flags), "role"),
        (re.compile(rf"(?:^|\b)(?P<qual>{_QUALIFIER}){_ROLE}\s+(?:is|will\s+be|is\s+now|has\s+become)\s+(?P<value>{name}){_END}",
                    flags), "role_first"),
        (re.compile(rf"(?P<subject>{name})\s+(?:now\s+|still\s+)?(?:lives|is\s+living|lived|has\s+moved|moved|is\s+moving|"
                    rf"relocated|will\s+move)\s+(?:back\s+)?(?:in|to)\s+(?P<value>(?-i:[A-Z][\w'\-]*(?:\s+[A-Z][\w'\-]*)*)){_END}",
                    flags), "lives_in"),
        (re.compile(rf"(?P<subject>{name})\s+(?:now\s+|still\s+)?(?:works|is\s+working|worked|started|starts|joined|"
                    rf"has\s+joined|will\s+join|moved)\s+(?:(?:at|for|with)\s+)?(?P<value>(?-i:[A-Z][\w&'\-]*(?:\s+[A-Z][\w&'\-]*)*))"
                    rf"(?:\s+as\s+[^,.;]+)?{_END}", flags), "works_at"),
        (re.compile(rf"(?P<subject>{name})\s+(?:now\s+)?reports?\s+(?:directly\s+)?to\s+(?P<value>{name}){_END}", flags),
         "reports_to"),
        (re.compile(rf"(?P<subject>{name}|(?:the|our)\s+[\w\- ]{{2,40}}?)'s?\s+(?P<attr>[a-z][\w\- ]{{1,30}}?)\s+"
                    rf"(?:is|was|has\s+been|is\s+now|changed\s+to|moved\s+to|will\s+be)\s+(?:now\s+)?{_VALUE}{_END}", flags),
         "attribute"),
        (re.compile(rf"(?:^|\b)the\s+(?P<attr>[a-z][\w\- ]{{1,30}}?)\s+(?:of|for)\s+(?P<subject>[\w\-' ]{{2,40}}?)\s+"
                    rf"(?:is|was|has\s+been|is\s+now|will\s+be)\s+(?:now\s+)?(?:(?:moved|pushed|changed|set|raised|increased|"
                    rf"cut|reduced|lowered|bumped|updated|revised|rescheduled|postponed|delayed)\s+)?(?:to\s+|at\s+|for\s+)?"
                    rf"{_VALUE}{_END}", flags), "attribute"),
        (re.compile(rf"(?:^|\b)(?P<subject>(?:the|our)\s+[\w\-' ]{{2,40}}?)\s+(?:is|was|has\s+been|will\s+be)\s+(?:now\s+)?"
                    rf"(?P<verb>moved|pushed|rescheduled|postponed|delayed|scheduled|planned|set|booked|brought\s+forward)\s+"
                    rf"(?:back\s+)?(?:to|for|until|on)\s+{_VALUE}{_END}", flags), "schedule"),
    ]


_RULES = _rules()


def claims_in(text: str) -> list[Claim]:
    """The claims the sentences of ``text`` state (markdown is read as plain text)."""
    return list(_claims_of(text))


@functools.lru_cache(maxsize=8192)
def _claims_of(text: str) -> tuple[Claim, ...]:
    # Pure in its text, and the same memories come back weave after weave: read them once.
    claims: list[Claim] = []
    for line in plain_lines(text):
        for sentence in split_sentences(line):
            claims.extend(_sentence_claims(sentence))
    return tuple(claims)


def _sentence_claims(sentence: str) -> list[Claim]:
    found: list[Claim] = []
    for pattern, kind in _RULES:
        for m in pattern.finditer(sentence):
            claim = _claim(m, kind, sentence)
            if claim is not None and all((c.subject, c.relation) != (claim.subject, claim.relation) for c in found):
                found.append(claim)
    return found


def _claim(m: re.Match[str], kind: str, sentence: str) -> Claim | None:
    if kind in ("role", "vacate", "role_first"):
        role = _norm(m["role"])
        if kind == "role_first" and not (m["qual"] or "").strip():
            return None  # "VP of Engineering is Sofia" reads oddly; "The VP ..." does not
        before_role = sentence[max(0, m.start("role") - 4):m.start("role")].lower()
        if re.match(r"an?\s", m["role"], re.I) or re.search(r"\ban?\s+$", before_role):
            return None  # "an engineering manager": a kind of job, not one seat
        person = "nobody" if kind == "vacate" else _person(m["value"])
        return Claim(role, "holder", _norm(person), sentence) if person else None
    if kind == "attribute":
        subject, attr = _norm(m["subject"]), _norm(m["attr"])
        if not subject or not attr or subject in ("it", "this", "that", "there"):
            return None
        return Claim(subject, attr, _norm(m["value"]), sentence)
    if kind == "schedule":
        return Claim(_norm(m["subject"]), "date", _norm(m["value"]), sentence)
    return Claim(_norm(m["subject"]), kind, _norm(m["value"]), sentence)


def _same_value(a: str, b: str) -> bool:
    """Equal, or one names the other more fully ("sofia" / "sofia alvarez")."""
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


def supersessions(items: Sequence[ScoredShard]) -> list[Supersession]:
    """Every (older, newer) pair among ``items`` where the newer updates the older's claim."""
    claims = [(item, claims_in(item.shard.text)) for item in items]
    found: dict[tuple[str, str], Supersession] = {}
    for old_item, old_claims in claims:
        for new_item, new_claims in claims:
            if new_item.shard.occurred_at <= old_item.shard.occurred_at or new_item.id == old_item.id:
                continue
            for old in old_claims:
                for new in new_claims:
                    if (old.subject, old.relation) == (new.subject, new.relation) and not _same_value(old.value, new.value):
                        key = (old_item.id, new_item.id)
                        if key not in found:
                            found[key] = Supersession(old_item.id, new_item.id, old.subject, old.relation, old.value, new.value)
    return list(found.values())


def apply_supersession(items: Sequence[ScoredShard]) -> tuple[list[ScoredShard], list[Supersession]]:
    """Rank each superseding memory above what it supersedes and mark the older one.

    The older memory keeps its place relative to everything else and gains the path
    ``superseded-by:<newest id>``; the newest memory that supersedes it moves just above it
    when it ranked lower.
    """
    pairs = supersessions(items)
    if not pairs:
        return list(items), []
    by_id = {item.id: item for item in items}
    newest: dict[str, str] = {}
    for pair in pairs:
        current = newest.get(pair.older)
        if current is None or by_id[pair.newer].shard.occurred_at > by_id[current].shard.occurred_at:
            newest[pair.older] = pair.newer
    order = [item.id for item in items]
    for older, newer in sorted(newest.items(), key=lambda kv: by_id[kv[0]].shard.occurred_at):
        if order.index(newer) > order.index(older):
            order.remove(newer)
            order.insert(order.index(older), newer)
    marked = {older: replace(by_id[older], paths=tuple(by_id[older].paths) + (f"{SUPERSEDED_PATH}{newer}",))
              for older, newer in newest.items()}
    return [marked.get(i, by_id[i]) for i in order], pairs
