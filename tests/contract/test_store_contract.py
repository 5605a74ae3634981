"""The MemoryStore contract: every backend, same inputs, same answers."""

from __future__ import annotations

import numpy as np
import pytest

from HoloLoom import MemoryShard, SearchFilter, ShardRecord, StoreClosedError, ValidationError
from HoloLoom.memory import MemoryStore

from .conftest import DIM, Backend


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def record(i: int, namespace: str = "ns", *, vector: np.ndarray | None = None, **kw) -> ShardRecord:
    shard = MemoryShard(
        id=kw.pop("id", f"s{i}"), namespace=namespace, text=kw.pop("text", f"memory number {i}"),
        metadata=kw.pop("metadata", {"i": i}), entities=tuple(kw.pop("entities", ())),
        about=tuple(kw.pop("about", ())), motifs=tuple(kw.pop("motifs", ())),
        created_at=kw.pop("created_at", 1000.0 + i), occurred_at=kw.pop("occurred_at", 1000.0 + i),
    )
    assert not kw, kw
    return ShardRecord(shard, vec(i) if vector is None else vector)


def ids(hits) -> list[str]:
    return [h.id for h in hits]


async def test_add_get_roundtrip(store: MemoryStore) -> None:
    assert isinstance(store, MemoryStore)
    recs = [record(i, entities=("Ada Lovelace",), motifs=("engine",),
                   metadata={"i": i, "nested": {"a": [1, 2.5, None]}, "flag": i % 2 == 0}) for i in range(12)]
    assert await store.add(recs) == [r.shard.id for r in recs]
    assert await store.count("ns") == 12
    assert await store.count() == 12
    got = await store.get(["s7", "missing", "s3"], namespace="ns")
    assert got == [recs[7].shard, recs[3].shard]
    assert await store.existing_ids(["s1", "s2", "nope"], namespace="ns") == {"s1", "s2"}
    vectors = await store.get_vectors(["s5", "nope"], namespace="ns")
    assert set(vectors) == {"s5"}
    np.testing.assert_allclose(vectors["s5"], recs[5].vector, atol=1e-6)
    hits = await store.vector_search(vec(4), SearchFilter("ns"), limit=3)
    assert hits[0].id == "s4" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert await store.namespaces() == ["ns"]
    assert await store.get([], namespace="ns") == [] and await store.add([]) == []


async def test_vector_search_is_exact_and_ordered(store: MemoryStore) -> None:
    recs = [record(i) for i in range(60)]
    await store.add(recs)
    query = vec(1000)
    matrix = np.stack([r.vector for r in recs])
    expected = [f"s{i}" for i in np.argsort(-(matrix @ query))[:10]]
    hits = await store.vector_search(query, SearchFilter("ns"), limit=10)
    assert ids(hits) == expected
    np.testing.assert_allclose([h.score for h in hits], np.sort(matrix @ query)[::-1][:10], atol=1e-4)
    assert await store.vector_search(query, SearchFilter("ns"), limit=0) == []


async def test_idempotent_re_add_replaces(store: MemoryStore) -> None:
    first = record(1, entities=("Old Entity",), metadata={"v": 1})
    await store.add([first, record(2, entities=("Old Entity",))])
    await store.add([first])
    assert await store.count("ns") == 2
    moved = record(1, vector=vec(99), text="changed text", entities=("New Entity",), metadata={"v": 2})
    await store.add([moved])
    assert await store.count("ns") == 2
    assert (await store.get(["s1"], namespace="ns"))[0] == moved.shard
    assert ids(await store.vector_search(vec(99), SearchFilter("ns"), limit=1)) == ["s1"]
    # The graph follows the new version: s1 no longer shares "old entity" with s2.
    assert await store.neighbors(["s1"], SearchFilter("ns")) == []
    assert {l.target for l in await store.entity_lookup(["new entity"], SearchFilter("ns"))} == {"s1"}
    assert ids(await store.vector_search(vec(0), SearchFilter("ns", where={"v": 2}), limit=5)) == ["s1"]
    # Duplicates within one batch: the last one wins.
    await store.add([record(3, text="first"), record(3, text="second")])
    assert (await store.get(["s3"], namespace="ns"))[0].text == "second"


async def test_delete_removes_shards_vectors_and_links(store: MemoryStore) -> None:
    await store.add([record(1, entities=("Shared",)), record(2, entities=("Shared",)), record(3), record(4, "other")])
    assert await store.delete(["s1", "nope"], namespace="ns") == 1
    assert await store.delete(["s1"], namespace="ns") == 0
    assert await store.delete(["s4"], namespace="ns") == 0  # wrong namespace: untouched
    assert await store.get(["s1"], namespace="ns") == []
    assert "s1" not in ids(await store.vector_search(vec(1), SearchFilter("ns"), limit=10))
    assert [(l.target, l.degree) for l in await store.entity_lookup(["shared"], SearchFilter("ns"))] == [("s2", 1)]
    assert await store.neighbors(["s2"], SearchFilter("ns")) == []
    assert await store.delete_namespace("ns") == 2
    assert await store.count("ns") == 0 and await store.count("other") == 1
    assert await store.namespaces() == ["other"]


async def test_time_and_metadata_filters(store: MemoryStore) -> None:
    await store.add([record(i, metadata={"parity": i % 2, "tag": "x" if i < 5 else "y", "flag": i == 3,
                                         "maybe": None if i == 8 else "set", "ratio": 0.5 if i == 9 else 1.0})
                     for i in range(10)])
    q = vec(0)
    found = lambda hits: set(ids(hits))  # noqa: E731
    assert found(await store.vector_search(q, SearchFilter("ns", since=1003.0, until=1006.0), limit=10)) == \
        {"s3", "s4", "s5", "s6"}
    assert found(await store.vector_search(q, SearchFilter("ns", since=1008.0), limit=10)) == {"s8", "s9"}
    assert found(await store.vector_search(q, SearchFilter("ns", until=1000.0), limit=10)) == {"s0"}
    assert found(await store.vector_search(q, SearchFilter("ns", where={"parity": 1, "tag": "y"}), limit=10)) == \
        {"s5", "s7", "s9"}
    assert found(await store.vector_search(q, SearchFilter("ns", where={"tag": ["x"]}), limit=10)) == \
        {f"s{i}" for i in range(5)}
    assert found(await store.vector_search(q, SearchFilter("ns", where={"flag": True}), limit=10)) == {"s3"}
    # JSON typing: true is not 1, 1 is 1.0, "1" is not 1.
    assert found(await store.vector_search(q, SearchFilter("ns", where={"flag": 1}), limit=10)) == set()
    assert found(await store.vector_search(q, SearchFilter("ns", where={"parity": 1.0}), limit=10)) == \
        {"s1", "s3", "s5", "s7", "s9"}
    assert found(await store.vector_search(q, SearchFilter("ns", where={"parity": "1"}), limit=10)) == set()
    assert found(await store.vector_search(q, SearchFilter("ns", where={"maybe": None}), limit=10)) == {"s8"}
    assert found(await store.vector_search(q, SearchFilter("ns", where={"ratio": 0.5}), limit=10)) == {"s9"}
    assert found(await store.vector_search(q, SearchFilter("ns", where={"absent": "x"}), limit=10)) == set()
    # A selective filter still fills the limit with the true nearest matches.
    hits = await store.vector_search(vec(7), SearchFilter("ns", where={"parity": 1}), limit=2)
    assert ids(hits)[0] == "s7" and len(hits) == 2
    assert found(await store.keyword_search("memory", SearchFilter("ns", since=1008.0), limit=10)) == {"s8", "s9"}
    with pytest.raises(ValidationError):
        await store.vector_search(q, SearchFilter("ns", where={"bad key!": 1}), limit=3)


async def test_keyword_search_is_bm25_and_safe(store: MemoryStore) -> None:
    await store.add([
        record(1, text="the aardvark eats ants"), record(2, text="ants ants everywhere in the garden"),
        record(3, text='hostile "quote" AND OR NOT * ( ) NEAR: title:x ~2 ^3 [a TO b] \\ /re/'),
        record(4, text="Café crème at the Hôtel"),
    ])
    hits = await store.keyword_search("aardvark ants", SearchFilter("ns"), limit=5)
    assert hits[0].id == "s1" and set(ids(hits)) == {"s1", "s2"} and all(h.score > 0 for h in hits)
    assert ids(await store.keyword_search('"quote" NEAR( title:x [a TO b] /re/', SearchFilter("ns"), limit=5)) == ["s3"]
    assert ids(await store.keyword_search("cafe hotel", SearchFilter("ns"), limit=5)) == ["s4"]
    assert await store.keyword_search("the of and", SearchFilter("ns"), limit=5) == []
    assert await store.keyword_search("}) DETACH DELETE n //", SearchFilter("ns"), limit=5) == []
    assert await store.count("ns") == 4


async def test_graph_neighbours_and_hub_cap(store: MemoryStore) -> None:
    await store.add([
        record(1, entities=("Maximum Overdrive", "Leland")),
        record(2, about=("Leland, North Carolina",)),
        record(3, about=("Maximum Overdrive",), entities=("Stephen King",)),
        record(4, entities=("Stephen King",), occurred_at=5000.0),
    ])
    links = await store.neighbors(["s1"], SearchFilter("ns"))
    assert {(l.source, l.target, l.entity, l.source_relation, l.target_relation, l.degree) for l in links} == {
        ("s1", "s2", "leland", "mentions", "about", 2),
        ("s1", "s3", "maximum overdrive", "mentions", "about", 2),
    }
    assert {l.target for l in await store.neighbors(["s3"], SearchFilter("ns"))} == {"s1", "s4"}
    assert await store.neighbors(["s3"], SearchFilter("ns"), max_degree=1) == []
    # The time filter applies to targets; the hub degree counts every link in the namespace.
    within = await store.neighbors(["s3"], SearchFilter("ns", until=2000.0))
    assert {l.target for l in within} == {"s1"}
    assert len(await store.neighbors(["s1", "s3"], SearchFilter("ns"), limit=1)) == 1
    assert {l.target for l in await store.neighbors(["s1", "s3"], SearchFilter("ns"))} == {"s2", "s4"}
    assert await store.neighbors(["unknown"], SearchFilter("ns")) == []


async def test_entity_lookup(store: MemoryStore) -> None:
    await store.add([
        record(1, about=("Leland, North Carolina",)),
        record(2, entities=("Leland",)),
        *[record(10 + i, entities=("United States",)) for i in range(5)],
    ])
    links = await store.entity_lookup(["leland", "nobody"], SearchFilter("ns"))
    assert {(l.source, l.target, l.source_relation, l.target_relation, l.degree) for l in links} == {
        ("leland", "s1", "query", "about", 2), ("leland", "s2", "query", "mentions", 2),
    }
    assert links[0].entity == "leland"
    assert await store.entity_lookup(["united states"], SearchFilter("ns"), max_degree=4) == []
    assert len(await store.entity_lookup(["united states"], SearchFilter("ns"), max_degree=5)) == 5
    # Rarest entity first.
    both = await store.entity_lookup(["united states", "leland"], SearchFilter("ns"), max_degree=10)
    assert [l.degree for l in both] == sorted(l.degree for l in both) and both[0].entity == "leland"


async def test_conversation_structure_is_walked_like_entities(store: MemoryStore) -> None:
    """Thread and reply links (reserved keys, see HoloLoom.threads) ride on the same graph."""
    thread = {"thread": "chat-1"}
    await store.add([
        record(1, metadata=thread, about=("Ana",)),
        record(2, metadata={**thread, "reply_to": "s1"}, about=("Ben",)),
        record(3, metadata={**thread, "reply_to": "s2"}, about=("Ana",)),
        record(4, metadata={"thread": "chat-2"}),
    ])
    replies = {(l.target, l.entity, l.source_relation, l.target_relation, l.degree)
               for l in await store.neighbors(["s2"], SearchFilter("ns")) if l.entity.startswith("turn:")}
    assert replies == {("s1", "turn:s1", "mentions", "about", 2), ("s3", "turn:s2", "about", "mentions", 2)}
    session = await store.entity_lookup(["thread:chat-1"], SearchFilter("ns"))
    assert {l.target for l in session} == {"s1", "s2", "s3"} and {l.degree for l in session} == {3}
    answer = await store.entity_lookup(["turn:s1"], SearchFilter("ns"))
    assert {(l.target, l.target_relation) for l in answer} == {("s1", "about"), ("s2", "mentions")}
    await store.delete(["s2"], namespace="ns")
    assert [l.target for l in await store.entity_lookup(["turn:s1"], SearchFilter("ns"))] == ["s1"]


async def test_namespaces_never_leak(store: MemoryStore) -> None:
    await store.add([
        record(1, "alice", entities=("Secret Project",), text="alice secret plans"),
        record(2, "bob", entities=("Secret Project",), text="bob secret plans"),
    ])
    assert ids(await store.vector_search(vec(2), SearchFilter("alice"), limit=10)) == ["s1"]
    assert ids(await store.keyword_search("secret plans", SearchFilter("alice"), limit=10)) == ["s1"]
    assert await store.get(["s2"], namespace="alice") == []
    assert await store.get_vectors(["s2"], namespace="alice") == {}
    assert await store.existing_ids(["s2"], namespace="alice") == set()
    assert await store.neighbors(["s1"], SearchFilter("alice")) == []
    assert {l.target for l in await store.entity_lookup(["secret project"], SearchFilter("bob"))} == {"s2"}
    assert [l.degree for l in await store.entity_lookup(["secret project"], SearchFilter("bob"))] == [1]
    assert await store.delete(["s2"], namespace="alice") == 0
    assert await store.count("bob") == 1
    assert await store.namespaces() == ["alice", "bob"]
    # The same shard id in two namespaces is two shards.
    await store.add([record(9, "alice", id="same", text="alice's"), record(9, "bob", id="same", text="bob's")])
    assert (await store.get(["same"], namespace="alice"))[0].text == "alice's"
    assert await store.delete_namespace("alice") == 2
    assert (await store.get(["same"], namespace="bob"))[0].text == "bob's"


HOSTILE = [
    'it\'s "quoted" and `backticked`',
    "}) DETACH DELETE n //",
    "'}) MATCH (n) DETACH DELETE n //",
    "\\\" OR 1=1 -- ; DROP TABLE shards; /* */",
    "$ns {ns: 'x'} :Shard [r:MENTIONS] ${{injection}}",
    "ünïcödé Ωμέγα 漢字 עברית 🧶🕸️ e\u0301 \u200b zero-width",
    "line\nbreak\ttab\r\nwindows",
]


async def test_unicode_and_hostile_strings_round_trip(store: MemoryStore) -> None:
    recs = [
        record(i, id=f"id-{i}-{text[:12]}", text=text, entities=(text.strip()[:40] or "x", "Plain Name"),
               about=(f"About {text[:20]}",), motifs=(text[:8],),
               metadata={"k": text, "κλειδί": text, "`weird key` })": text, "n": i})
        for i, text in enumerate(HOSTILE)
    ]
    await store.add(recs)
    assert await store.count("ns") == len(HOSTILE)
    got = await store.get([r.shard.id for r in recs], namespace="ns")
    assert got == [r.shard for r in recs]
    for a, b in zip(got, recs):  # byte-for-byte, not just equal after normalisation
        assert a.text.encode("utf-8") == b.shard.text.encode("utf-8")
        assert a.metadata["κλειδί"].encode("utf-8") == b.shard.metadata["κλειδί"].encode("utf-8")
    for i, text in enumerate(HOSTILE):
        hits = await store.vector_search(vec(i), SearchFilter("ns", where={"k": text}), limit=3)
        assert ids(hits) == [recs[i].shard.id]
        await store.keyword_search(text, SearchFilter("ns"), limit=3)  # must not raise
    from HoloLoom.extraction import entity_key

    key = entity_key(HOSTILE[1])
    assert {l.target for l in await store.entity_lookup([key, HOSTILE[1]], SearchFilter("ns"))} >= {recs[1].shard.id}
    assert len(await store.neighbors([r.shard.id for r in recs], SearchFilter("ns"))) == 0  # all linked to each other
    assert {l.target for l in await store.neighbors([recs[0].shard.id], SearchFilter("ns"))} == \
        {r.shard.id for r in recs[1:]}
    assert await store.count("ns") == len(HOSTILE)
    assert await store.delete([recs[1].shard.id], namespace="ns") == 1
    assert await store.count("ns") == len(HOSTILE) - 1


async def test_restart_keeps_data(backend: Backend) -> None:
    async with backend.make() as first:
        await first.add([record(i, entities=("Ada Lovelace",)) for i in range(20)])
    with pytest.raises(StoreClosedError):
        await first.count()
    async with backend.make() as second:
        assert await second.count("ns") == 20
        assert ids(await second.vector_search(vec(7), SearchFilter("ns"), limit=1)) == ["s7"]
        assert len(await second.neighbors(["s1"], SearchFilter("ns"))) == 19
        assert (await second.get(["s3"], namespace="ns"))[0] == record(3, entities=("Ada Lovelace",)).shard


async def test_bad_input_is_refused_before_writing(store: MemoryStore) -> None:
    bad = ShardRecord(record(1).shard, np.ones(10, dtype=np.float32))
    with pytest.raises(ValidationError):
        await store.add([record(2), bad])
    assert await store.count("ns") == 0
    with pytest.raises(ValidationError):
        await store.vector_search(np.ones(5), SearchFilter("ns"), limit=3)
    with pytest.raises(ValidationError):
        await store.get(["x"], namespace="bad namespace!")


async def test_health_and_close(backend: Backend) -> None:
    store = backend.make()
    await store.add([record(1)])
    health = await store.health()
    assert health["ok"] is True and health["backend"] == backend.name.split("-")[0]
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        await store.add([record(2)])
    assert (await store.health())["ok"] is False
