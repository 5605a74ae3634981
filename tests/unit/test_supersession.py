"""Updated facts: which newer memories supersede which older ones, and which must not."""

from __future__ import annotations

import pytest

from HoloLoom.types import MemoryShard, ScoredShard
from HoloLoom.weaving.supersession import apply_supersession, claims_in, supersessions

DAY = 86400.0


def _item(sid: str, text: str, day: int, score: float = 0.5) -> ScoredShard:
    shard = MemoryShard(id=sid, namespace="t", text=text, occurred_at=1_750_000_000.0 + day * DAY)
    return ScoredShard(shard=shard, score=score, paths=("vector",))


# (older text, newer text): the newer must supersede the older.
UPDATES = [
    ("Lena is the VP of Engineering.", "Sofia Alvarez confirmed as permanent VP of Engineering."),
    ("Lena Fischer is our VP of Engineering.", "Sofia Alvarez was made interim VP of Engineering after Lena left."),
    ("Marco is the head of design.", "Ines took over as head of design in June."),
    ("Our CTO is Omar Haddad.", "Dana Kim was appointed CTO on Monday."),
    ("Tomas is the project lead for Atlas.", "Ravi replaces Tomas as project lead for Atlas."),
    ("Ana is the treasurer of the book club.", "Ana stepped down as treasurer of the book club."),
    ("Priya lives in Berlin.", "Priya moved to Lisbon last month."),
    ("Jonas works at Helix Labs.", "Jonas joined Northwind as a data engineer."),
    ("Mina reports to Carlos.", "Mina now reports to Beatrix after the reorg."),
    ("Priya's phone number is 555-0101.", "Priya's phone number is now 555-0199."),
    ("The budget for Project Atlas is $120k.", "The budget for Project Atlas was cut to $90k."),
    ("The Atlas launch is scheduled for May 5.", "The Atlas launch was pushed to June 12."),
    ("The offsite is planned for March 3.", "The offsite was moved to March 10."),
    ("Kestrel's contact person is Gil Morton.", "Kestrel's contact person is Hannah Weiss."),
    ("The dentist for Noor is Dr Patel.", "The dentist for Noor is Dr Romero."),
    ("Hugo is the coach of the under-12 team.", "Leah became coach of the under-12 team."),
    ("The rent for the flat is 1200 euros.", "The rent for the flat was raised to 1350 euros."),
]

# (older text, newer text): the newer must NOT supersede the older.
NOT_UPDATES = [
    ("Lena is the VP of Engineering.", "Marco is the VP of Sales."),                       # another role
    ("Priya lives in Berlin.", "Jonas lives in Munich."),                                  # another person
    ("Priya lives in Berlin.", "Priya works at Helix Labs."),                              # another relation
    ("Lena is an engineering manager.", "Sofia is an engineering manager."),              # a kind of job, not a seat
    ("The budget for Atlas is $120k.", "The budget for Kestrel is $40k."),                 # another subject
    ("Priya's phone number is 555-0101.", "Priya's email is priya@example.com."),          # another attribute
    ("Sofia is the interim VP of Engineering.", "Sofia Alvarez is the VP of Engineering."),  # the same person, more fully named
    ("The Atlas launch is scheduled for May 5.", "The Kestrel demo was moved to May 9."),   # another event
    ("Mina reports to Carlos.", "Carlos reports to Beatrix."),                             # another subject
    ("Hugo is the coach of the under-12 team.", "Hugo is the coach of the under-12 team."),  # the same fact again
    ("We met Priya for coffee.", "We met Jonas for lunch."),                               # no claim at all
]


@pytest.mark.parametrize(("older", "newer"), UPDATES)
def test_a_newer_value_supersedes(older: str, newer: str) -> None:
    old, new = _item("old", older, 0, score=0.9), _item("new", newer, 30, score=0.4)
    ranked, pairs = apply_supersession([old, new])
    assert [(p.older, p.newer) for p in pairs] == [("old", "new")], (claims_in(older), claims_in(newer))
    assert [i.id for i in ranked] == ["new", "old"]
    assert "superseded-by:new" in ranked[1].paths and ranked[1].shard.text == older  # the older one stays, marked


@pytest.mark.parametrize(("older", "newer"), NOT_UPDATES)
def test_other_subjects_relations_and_values_do_not_supersede(older: str, newer: str) -> None:
    old, new = _item("old", older, 0, score=0.9), _item("new", newer, 30, score=0.4)
    ranked, pairs = apply_supersession([old, new])
    assert pairs == [], [p.to_dict() for p in pairs]
    assert [i.id for i in ranked] == ["old", "new"] and ranked[0].paths == ("vector",)


def test_an_older_memory_never_supersedes_a_newer_one() -> None:
    old = _item("old", "Priya moved to Lisbon.", 30)
    new = _item("new", "Priya lives in Berlin.", 0)
    assert [(p.older, p.newer) for p in supersessions([old, new])] == [("new", "old")]
    same_day = _item("same", "Priya lives in Porto.", 30)
    assert not any(p.newer == "same" and p.older == "old" for p in supersessions([old, same_day]))


def test_a_chain_of_updates_ranks_newest_first_and_keeps_every_memory() -> None:
    items = [
        _item("lena", "Lena is the VP of Engineering.", 0, score=0.9),
        _item("interim", "Sofia Alvarez was made interim VP of Engineering.", 40, score=0.8),
        _item("other", "The Kestrel contract was signed.", 45, score=0.7),
        _item("permanent", "Sofia Alvarez confirmed as permanent VP of Engineering.", 90, score=0.3),
    ]
    ranked, pairs = apply_supersession(items)
    assert {(p.older, p.newer) for p in pairs} == {("lena", "interim"), ("lena", "permanent")}
    ids = [i.id for i in ranked]
    assert ids.index("permanent") < ids.index("lena") and len(ids) == 4
    assert "superseded-by:permanent" in ranked[ids.index("lena")].paths


def test_claims_read_markdown_as_plain_text() -> None:
    [claim] = claims_in("## Org\n- **Lena** is the *VP of Engineering*.")
    assert (claim.subject, claim.relation, claim.value) == ("vp of engineering", "holder", "lena")
