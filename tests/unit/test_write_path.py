import pytest

from HoloLoom import (
    Document,
    HoloLoom,
    InvalidNamespaceError,
    Settings,
    ValidationError,
)
from HoloLoom.ingest import shard_id


async def test_add_one_text_and_get_it_back(loom: HoloLoom) -> None:
    result = await loom.add("Ada Lovelace wrote the first program.", metadata={"source": "notes"})
    assert result.added == 1 and result.unchanged == 0
    shard = await loom.get(result.ids[0])
    assert shard is not None
    assert shard.text == "Ada Lovelace wrote the first program."
    assert shard.metadata == {"source": "notes"}
    assert "Ada Lovelace" in shard.entities
    assert shard.id == shard_id("default", shard.text)


async def test_adding_the_same_content_twice_stores_it_once(loom: HoloLoom, embedder) -> None:
    calls: list[int] = []
    original = embedder.embed_sync
    embedder.embed_sync = lambda texts: calls.append(len(texts)) or original(texts)  # type: ignore[method-assign]
    try:
        first = await loom.add(["alpha memory", "beta memory"])
        second = await loom.add(["alpha memory", "beta memory", "gamma memory"])
    finally:
        del embedder.embed_sync
    assert first.ids == second.ids[:2]
    assert second.added == 1 and second.unchanged == 2
    assert await loom.count() == 3
    assert calls == [2, 1]  # one batch per call, and stored texts are not embedded again


async def test_same_text_in_two_namespaces_is_two_shards(loom: HoloLoom) -> None:
    a = await loom.add("shared sentence", namespace="alice")
    b = await loom.add("shared sentence", namespace="bob")
    assert a.ids != b.ids
    assert await loom.count(namespace="alice") == 1 and await loom.count(namespace="bob") == 1


async def test_documents_with_titles_entities_and_time(loom: HoloLoom) -> None:
    result = await loom.add([
        Document(text="It was filmed in Leland.", title="Maximum Overdrive", entities=("Stephen King",),
                 occurred_at="1986-07-25T00:00:00"),
        {"text": "A dict document.", "metadata": {"k": 1}},
    ])
    first, second = [await loom.get(i) for i in result.ids]
    assert first.about == ("Maximum Overdrive",) and first.metadata["title"] == "Maximum Overdrive"
    assert "Stephen King" in first.entities and "Leland" in first.entities
    assert first.occurred_at == pytest.approx(522633600.0)
    assert second.metadata == {"k": 1}


async def test_long_documents_are_chunked_with_document_ids(loom: HoloLoom) -> None:
    text = " ".join(f"Fact {i} is about the river Thames and London." for i in range(200))
    result = await loom.add(text)
    assert len(result.ids) > 3
    shards = [await loom.get(i) for i in result.ids]
    assert {s.metadata["document_id"] for s in shards} == {shards[0].metadata["document_id"]}
    assert [s.metadata["chunk_index"] for s in shards] == list(range(len(shards)))
    again = await loom.add(text)
    assert again.ids == result.ids and again.added == 0


@pytest.mark.parametrize(
    "bad",
    ["", "   ", None, 42, ["ok", ""], ["ok", 3], [], {"text": "x", "bogus": 1}, Document(text="x", id="")],
)
async def test_bad_input_is_refused_and_writes_nothing(loom: HoloLoom, bad) -> None:
    await loom.add("already here")
    with pytest.raises(ValidationError):
        await loom.add(bad)
    assert await loom.count() == 1


async def test_huge_text_is_refused(home, embedder) -> None:
    async with HoloLoom(settings=Settings(home=home, max_text_chars=1000), embedder=embedder) as lm:
        with pytest.raises(ValidationError, match="limit"):
            await lm.add(["fine", "x" * 1001])
        assert await lm.count() == 0


@pytest.mark.parametrize("namespace", ["", "has space", "semi;colon", "x" * 200, 7, "../etc"])
async def test_invalid_namespace_is_refused(loom: HoloLoom, namespace) -> None:
    with pytest.raises(InvalidNamespaceError):
        await loom.add("text", namespace=namespace)
    assert await loom.count() == 0


async def test_bad_metadata_is_refused(loom: HoloLoom) -> None:
    with pytest.raises(ValidationError):
        await loom.add("text", metadata={"v": object()})
    with pytest.raises(ValidationError):
        await loom.add("text", metadata={"v": float("nan")})
    with pytest.raises(ValidationError):
        await loom.add("text", metadata=["not", "a", "mapping"])  # type: ignore[arg-type]
    assert await loom.count() == 0


async def test_readding_with_new_metadata_updates_in_place(loom: HoloLoom) -> None:
    first = await loom.add("the same words", metadata={"v": 1})
    old = await loom.get(first.ids[0])
    second = await loom.add("the same words", metadata={"v": 2})
    new = await loom.get(first.ids[0])
    assert second.ids == first.ids and second.added == 0
    assert new.metadata == {"v": 2} and new.created_at == old.created_at
    assert await loom.count() == 1


async def test_delete(loom: HoloLoom) -> None:
    result = await loom.add(["one thing", "another thing"])
    assert await loom.delete(result.ids[0]) == 1
    assert await loom.get(result.ids[0]) is None
    assert await loom.delete(result.ids[0]) == 0
    hits = await loom.recall("one thing", complexity="LITE")
    assert result.ids[0] not in [h.id for h in hits]
