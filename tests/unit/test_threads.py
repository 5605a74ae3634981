"""Conversation structure: speakers, threads, reply links (pure parts, then the write path)."""

import pytest

from HoloLoom import ConfigurationError, Document, HoloLoom, MemoryShard, SearchFilter, Settings
from HoloLoom.memory import shard_entity_keys
from HoloLoom.threads import (
    link_kind,
    metadata_entities,
    speaker_prefix,
    structural_keys,
    thread_key,
    thread_of,
    turn_key,
)


def shard(sid: str, **metadata) -> MemoryShard:
    return MemoryShard(id=sid, namespace="ns", text="hello", metadata=metadata)


def test_a_threaded_turn_links_to_its_thread_and_the_turn_it_answers() -> None:
    assert structural_keys(shard("t2", thread="chat", reply_to="t1")) == [
        ("thread:chat", "about"), ("turn:t1", "mentions"), ("turn:t2", "about")]
    assert structural_keys(shard("t1", thread="chat")) == [("thread:chat", "about"), ("turn:t1", "about")]
    # A caller's own reply structure works without a thread; junk values are ignored.
    assert structural_keys(shard("b", reply_to="a")) == [("turn:a", "mentions"), ("turn:b", "about")]
    assert structural_keys(shard("x", thread=True, reply_to=["a"])) == []
    assert structural_keys(shard("y", thread=7)) == [("thread:7", "about"), ("turn:y", "about")]
    assert structural_keys(shard("x")) == []


def test_structural_keys_never_collide_with_entity_keys() -> None:
    s = MemoryShard(id="t1", namespace="ns", text="x", entities=("Turn: T1", "thread chat"), metadata={"thread": "chat"})
    keys = shard_entity_keys(s)
    assert ("turn t1", "mentions") in keys and ("turn:t1", "about") in keys
    assert [link_kind(k) for k, _ in keys] == ["entity", "entity", "thread", "reply"]
    assert link_kind(turn_key("a b")) == "reply" and link_kind(thread_key("c")) == "thread"


def test_thread_identity_comes_from_the_declared_keys() -> None:
    keys = ("conversation", "session")
    assert thread_of({"conversation": "c1", "session": 3}, keys) == '{"conversation":"c1","session":3}'
    # Key names are part of the identity: session 3 alone is another thread.
    assert thread_of({"session": 3}, keys) == '{"session":3}'
    assert thread_of({"thread": "mine", "session": 3}, keys) == "mine"
    assert thread_of({"speaker": "Ana"}, keys) is None
    assert thread_of({"session": None, "conversation": ""}, keys) is None
    assert thread_of({"thread": 42, "session": 3}, keys) == "42"


def test_speakers_come_from_metadata_or_a_name_prefix() -> None:
    assert metadata_entities({"speaker": " Ana ", "author": ["Ben", "Ana", 3]}, ("speaker", "author")) == ["Ana", "Ben"]
    assert metadata_entities({"speaker": 5}, ("speaker",)) == []
    assert speaker_prefix("Caroline: I went to a support group yesterday.") == "Caroline"
    assert speaker_prefix("Dr. Ana Lima: the results are in") == "Dr. Ana Lima"
    assert speaker_prefix("see https://example.org: nothing") is None
    assert speaker_prefix("I said: fine") is None  # a lower-case word ends a name
    assert speaker_prefix("We met Caroline: she was late") is None


def test_settings_take_entity_and_thread_keys_from_the_environment(tmp_path) -> None:
    s = Settings.from_env({"HOLOLOOM_ENTITY_KEYS": "speaker, author", "HOLOLOOM_THREAD_KEYS": "chat_id"}, home=tmp_path)
    assert s.entity_keys == ("speaker", "author") and s.thread_keys == ("chat_id",)
    assert Settings(home=tmp_path).thread_keys == ("conversation", "session")
    with pytest.raises(ConfigurationError):
        Settings(home=tmp_path, entity_keys="speaker")  # type: ignore[arg-type]


def turns(session: int, *lines: tuple[str, str], start: int = 1) -> list[Document]:
    return [Document(text=f"{who}: {said}", id=f"c1 D{session}:{start + i}", occurred_at="2023-05-08T13:56:00",
                     metadata={"speaker": who, "session": session, "conversation": "c1"})
            for i, (who, said) in enumerate(lines)]


async def test_turns_reply_to_the_previous_turn_of_their_session(loom: HoloLoom) -> None:
    await loom.add([*turns(1, ("Ana", "How often do you train?"), ("Ben", "Three times a week.")),
                    *turns(2, ("Ben", "I moved to Lisbon."))])
    first, second, other = [await loom.get(i) for i in ("c1 D1:1", "c1 D1:2", "c1 D2:1")]
    assert "reply_to" not in first.metadata and second.metadata["reply_to"] == "c1 D1:1"
    assert "reply_to" not in other.metadata  # a new session starts a new thread
    assert first.metadata["thread"] != other.metadata["thread"]
    assert first.about == ("Ana",) and second.about == ("Ben",)
    links = await loom.store.neighbors(["c1 D1:2"], SearchFilter("default"))
    assert ("c1 D1:1", "turn:c1 D1:1") in {(l.target, l.entity) for l in links}


async def test_a_later_add_continues_the_stored_thread_and_re_adding_changes_nothing(loom: HoloLoom) -> None:
    await loom.add(turns(1, ("Ana", "Any plans?"), ("Ben", "A hike.")))
    later = turns(1, ("Ana", "Where?"), ("Ben", "Sintra."), start=3)
    result = await loom.add(later)
    assert result.added == 2
    assert (await loom.get("c1 D1:3")).metadata["reply_to"] == "c1 D1:2"
    assert (await loom.get("c1 D1:4")).metadata["reply_to"] == "c1 D1:3"
    again = await loom.add(later)
    assert again.unchanged == 2 and (await loom.get("c1 D1:3")).metadata["reply_to"] == "c1 D1:2"


async def test_a_callers_reply_to_wins_and_plain_notes_get_no_structure(loom: HoloLoom) -> None:
    await loom.add(turns(1, ("Ana", "One."), ("Ben", "Two.")))
    await loom.add(Document(text="Ana: about one", id="r", metadata={"session": 1, "conversation": "c1",
                                                                       "reply_to": "c1 D1:1"}))
    assert (await loom.get("r")).metadata["reply_to"] == "c1 D1:1"
    assert (await loom.get("r")).about == ("Ana",)  # the "Name:" prefix of a threaded turn
    plain = await loom.get((await loom.add("Note: buy milk")).ids[0])
    assert plain.about == () and "thread" not in plain.metadata and "reply_to" not in plain.metadata
