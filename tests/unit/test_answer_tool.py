"""The answer tool without a model: row citations, not-found, dates for "when", updated facts, markdown."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from rich.console import Console

from HoloLoom.types import Complexity, MemoryShard, ScoredShard
from HoloLoom.weaving.answer import NOT_FOUND, answer_tool
from HoloLoom.weaving.spacetime import Spacetime
from HoloLoom.weaving.supersession import apply_supersession
from HoloLoom.weaving.tools import ToolContext, summarize_tool


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def _item(n: int, text: str, *, title: str | None = None, day: float = _ts(2026, 1, 1), score: float = 0.5,
          sim: float = 0.4) -> ScoredShard:
    meta = {"title": title} if title else {}
    shard = MemoryShard(id=f"{n:032x}", namespace="t", text=text, metadata=meta, occurred_at=day)
    return ScoredShard(shard=shard, score=score, paths=("vector",), score_parts={"sim": sim})


FILLER = [_item(i, f"Filler note {i} about the garden, the weather and groceries.", score=0.9 - i * 0.01) for i in range(6)]


def _ctx(query: str, items: list[ScoredShard], entities: tuple[str, ...] = ()) -> ToolContext:
    return ToolContext(query=query, complexity=Complexity.FAST, items=tuple(items), entities=entities)


def _cited_rows(response: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", response)]


async def test_citation_numbers_are_context_rows_even_past_the_fifth() -> None:
    answer = _item(42, "# Kestrel vendor\n\nTheir quote was **$40k** for six robot arms.", title="Kestrel vendor", score=0.3)
    items = [*FILLER, answer]  # the answer is row 7
    result = await answer_tool(_ctx("How much did Kestrel quote for the robot arms?", items, ("Kestrel",)))
    assert _cited_rows(result.response) == [7] and result.citations == (answer.id,)
    assert "**" not in result.response and "#" not in result.response  # markdown stripped for display
    assert result.response.startswith("Their quote was $40k for six robot arms.")
    assert answer.shard.text.startswith("# Kestrel vendor")  # never from what is stored
    assert result.data["rows"] == [7] and result.data["sentences"][0]["row"] == 7


async def test_spacetime_lists_cited_rows_with_the_same_numbers_in_rich_and_json() -> None:
    answer = _item(42, "Their quote was $40k for six robot arms.", title="Kestrel vendor", score=0.3)
    items = tuple([*FILLER, answer])
    result = await answer_tool(_ctx("How much did Kestrel quote for the robot arms?", list(items), ("Kestrel",)))
    st = Spacetime(id="a" * 32, query="q", namespace="t", complexity=Complexity.FAST, backend="embedded", strategy="s",
                   tool="answer", response=result.response, confidence=result.confidence, context=items, stages=(),
                   created_at=0.0, duration_ms=1.0, citations=result.citations, tool_output=result.data)
    assert st.cited_rows == [7] and st.source_rows() == [1, 2, 3, 4, 5, 7]
    data = st.to_dict()
    assert data["cited_rows"] == [7] and data["context"][6]["shard"]["id"] == answer.id
    console = Console(width=140, record=True)
    console.print(st)
    text = console.export_text()
    row = next(line for line in text.splitlines() if "[7]" in line and "Kestrel vendor" in line)
    assert "quote was $40k" in row and "[6]" not in text
    assert Spacetime.from_json(st.to_json()).cited_rows == [7]


async def test_not_found_says_so_and_lists_related_rows() -> None:
    items = [_item(1, "Priya Shah moved to Lisbon last month.", title="Priya news", sim=0.45),
             _item(2, "Priya wants to move into product management.", title="Priya 1:1", sim=0.4)]
    result = await answer_tool(_ctx("What is Priya Shah's phone number?", items, ("Priya Shah",)))
    assert result.response.startswith(NOT_FOUND)
    assert "Priya news [1]" in result.response and "Priya 1:1 [2]" in result.response
    assert result.citations == () and result.confidence < 0.5 and result.data["related_rows"] == [1, 2]
    assert result.data["candidate"]  # the held-back answer, for calibration


async def test_no_memories_is_not_found_with_zero_confidence() -> None:
    result = await answer_tool(_ctx("Who is the CFO?", []))
    assert result.response == NOT_FOUND and result.confidence == 0.0


async def test_when_questions_get_the_memorys_date_or_their_relative_phrase_resolved() -> None:
    signed = _item(1, "Signed the Kestrel contract today for the six robot arms.", title="Kestrel contract",
                   day=_ts(2026, 3, 4, 15), sim=0.7)
    result = await answer_tool(_ctx("When did we sign the Kestrel contract?", [signed], ("Kestrel",)))
    assert "March 4, 2026" in result.response and "2026-03-04" in result.response and result.response.endswith("[1]")
    met = _item(2, "We met the Kestrel team yesterday in Rotterdam.", day=_ts(2026, 3, 10), sim=0.7)
    result = await answer_tool(_ctx("When did we meet the Kestrel team?", [met], ("Kestrel",)))
    assert "March 9, 2026" in result.response
    dated = _item(3, "The Atlas launch was pushed to June 12.", day=_ts(2026, 4, 1), sim=0.7)
    result = await answer_tool(_ctx("When is the Atlas launch?", [dated], ("Atlas",)))
    assert "(on" not in result.response and "June 12" in result.response  # the sentence names its date


async def test_the_newer_fact_answers_and_the_older_is_kept_but_marked() -> None:
    old = _item(1, "Lena is the VP of Engineering.", day=_ts(2025, 7, 10), score=0.9, sim=0.7)
    new = _item(2, "Sofia Alvarez confirmed as permanent VP of Engineering.", day=_ts(2026, 4, 6), score=0.5, sim=0.6)
    ranked, updates = apply_supersession([old, new])
    assert [i.id for i in ranked] == [new.id, old.id] and len(updates) == 1
    result = await answer_tool(_ctx("Who is the VP of Engineering?", ranked, ("VP of Engineering",)))
    assert result.response.startswith("Sofia Alvarez confirmed as permanent VP of Engineering.") and "[1]" in result.response
    past = await answer_tool(_ctx("Who was the VP of Engineering before Sofia?", ranked, ("VP of Engineering", "Sofia")))
    assert "Lena" in past.response


async def test_summarize_cites_rows_too() -> None:
    items = [*FILLER[:3], _item(9, "The offsite was moved to March 10. Same place, Quinta do Vale.", sim=0.6)]
    result = await summarize_tool(_ctx("summarise the offsite", items))
    rows = {int(n) for n in re.findall(r"\[(\d+)\]", result.response)}
    assert 4 in rows and all(1 <= r <= 4 for r in rows)


async def test_a_two_hop_answer_chains_through_the_bridge_name() -> None:
    film = _item(1, "Maximum Overdrive is a 1986 horror film. Most of it was shot in Leland.", title="Maximum Overdrive",
                 score=0.9, sim=0.6)
    director = _item(2, "Maximum Overdrive was written and directed by Stephen King.", title="Maximum Overdrive (film)",
                     score=0.4, sim=0.3)
    born = _item(3, "Stephen King was born in Portland, Maine.", title="Stephen King", score=0.3, sim=0.2)
    unrelated = _item(4, "Greta Lind was born in Oslo, where she directed a film festival.", title="Greta Lind", score=0.35)
    items = [film, *FILLER[:2], director, unrelated, born]
    result = await answer_tool(_ctx("Where was the man who directed the film shot in Leland born?", items, ("Leland",)))
    assert "Portland" in result.response and "Oslo" not in result.response
    assert set(result.citations) == {film.id, director.id, born.id}
    assert _cited_rows(result.response) == [1, 4, 6]  # in the order of the chain: film, director, birthplace


async def test_a_sentence_that_shares_no_name_with_the_answer_is_not_chained_to_it() -> None:
    asked = _item(1, "Noor started piano lessons in October.", score=0.9, sim=0.6)
    stranger = _item(2, "Leo has a new teacher at school, Mr Okafor.", score=0.5, sim=0.3)
    result = await answer_tool(_ctx("Who is Noor's piano teacher?", [asked, stranger, *FILLER[:3]], ("Noor",)))
    assert result.data["found"] is False and "Okafor" not in result.data["candidate"]  # "Related:" may still list it


async def test_the_two_people_of_a_conversation_are_no_bridge_between_its_turns() -> None:
    turns = [
        _item(1, "Melanie: Caroline, I've been running farther to de-stress.", score=0.9, sim=0.6),
        _item(2, "Caroline: Wow, Melanie! That sounds great.", score=0.8),
        _item(3, "Caroline: Did you start the pottery class, Melanie?", score=0.7),
        _item(4, "Melanie: Thanks, Caroline! I painted a lake at sunrise.", score=0.6),
        _item(5, "Caroline: Melanie, your lake painting is lovely.", score=0.5),
    ]
    result = await answer_tool(_ctx("Why did Melanie start running?", turns, ("Melanie",)))
    rows = [s["row"] for s in result.data.get("sentences") or []] or [int(n) for n in re.findall(r"\[(\d+)\]", result.data["candidate"])]
    assert rows == [1], result.response  # no hop to "start the pottery class" through "Caroline"


async def test_a_sentence_is_quoted_once_even_when_a_fragment_brings_it_along() -> None:
    turn = _item(1, "Caroline: That's awesome, Melanie! Your reason for running sounds great.", score=0.9, sim=0.6)
    result = await answer_tool(_ctx("What is Melanie's reason for running?", [turn, *FILLER[:3]], ("Melanie",)))
    quoted = [s["text"] for s in result.data.get("sentences") or []]
    assert quoted and len(quoted) == len(set(quoted)), result.response
