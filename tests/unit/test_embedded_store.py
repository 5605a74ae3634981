
import numpy as np
import pytest

from HoloLoom import EmbeddedStore, MemoryShard, SearchFilter, ShardRecord, StoreClosedError, ValidationError
from HoloLoom.memory import MemoryStore


def _vec(seed: int, dim: int = 384) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _record(i: int, namespace: str = "ns", **kw) -> ShardRecord:
    shard = MemoryShard(id=f"s{i}", namespace=namespace, text=kw.pop("text", f"text {i}"),
                        metadata=kw.pop("metadata", {"i": i}), entities=kw.pop("entities", ()),
                        about=kw.pop("about", ()), created_at=1000.0 + i, occurred_at=kw.pop("occurred_at", 1000.0 + i))
    return ShardRecord(shard, _vec(i))


async def test_protocol_and_restart_keeps_everything(tmp_path) -> None:
    store = EmbeddedStore(tmp_path)
    assert isinstance(store, MemoryStore)
    await store.add([_record(i, entities=("Ada Lovelace",)) for i in range(50)])
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.count()
    reopened = EmbeddedStore(tmp_path)
    assert await reopened.count("ns") == 50
    hits = await reopened.vector_search(_vec(7), SearchFilter("ns"), limit=3)
    assert hits[0].id == "s7" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    shard = (await reopened.get(["s7"], namespace="ns"))[0]
    assert shard == _record(7, entities=("Ada Lovelace",)).shard
    await reopened.close()


async def test_namespaces_never_leak(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([_record(1, "alice", entities=("Secret Project",)), _record(2, "bob", entities=("Secret Project",))])
        assert [h.id for h in await store.vector_search(_vec(2), SearchFilter("alice"), limit=10)] == ["s1"]
        assert await store.get(["s2"], namespace="alice") == []
        assert await store.neighbors(["s1"], SearchFilter("alice")) == []
        assert {l.target for l in await store.entity_lookup(["secret project"], SearchFilter("bob"))} == {"s2"}
        assert await store.delete(["s2"], namespace="alice") == 0
        assert await store.count("bob") == 1


async def test_time_and_metadata_filters(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([_record(i, metadata={"parity": i % 2, "tag": "x" if i < 5 else "y"}) for i in range(10)])
        flt = SearchFilter("ns", since=1003.0, until=1006.0)
        ids = {h.id for h in await store.vector_search(_vec(0), flt, limit=10)}
        assert ids == {"s3", "s4", "s5", "s6"}
        ids = {h.id for h in await store.vector_search(_vec(0), SearchFilter("ns", where={"parity": 1, "tag": "y"}), limit=10)}
        assert ids == {"s5", "s7", "s9"}
        ids = {h.id for h in await store.vector_search(_vec(0), SearchFilter("ns", where={"tag": ["x"]}), limit=10)}
        assert ids == {f"s{i}" for i in range(5)}
        with pytest.raises(ValidationError):
            SearchFilter("ns", since=5, until=1)


async def test_keyword_search_is_bm25_and_safe(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([
            _record(1, text="the aardvark eats ants"), _record(2, text="ants ants everywhere"),
            _record(3, text='hostile "quote" AND OR NOT * ( ) NEAR'),
        ])
        hits = await store.keyword_search("aardvark ants", SearchFilter("ns"), limit=5)
        assert hits[0].id == "s1" and all(h.score > 0 for h in hits)
        assert [h.id for h in await store.keyword_search('"quote" NEAR(', SearchFilter("ns"), limit=5)] == ["s3"]
        assert await store.keyword_search("the of and", SearchFilter("ns"), limit=5) == []


async def test_graph_neighbours_and_hub_cap(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([
            _record(1, entities=("Maximum Overdrive", "Leland")),
            _record(2, about=("Leland, North Carolina",)),
            _record(3, about=("Maximum Overdrive",), entities=("Stephen King",)),
            _record(4, entities=("Stephen King",)),
        ])
        links = await store.neighbors(["s1"], SearchFilter("ns"))
        pairs = {(l.target, l.entity, l.source_relation, l.target_relation) for l in links}
        assert ("s2", "leland", "mentions", "about") in pairs
        assert ("s3", "maximum overdrive", "mentions", "about") in pairs
        assert all(l.source == "s1" for l in links)
        assert {l.target for l in await store.neighbors(["s3"], SearchFilter("ns"))} == {"s1", "s4"}
        assert await store.neighbors(["s3"], SearchFilter("ns"), max_degree=1) == []


async def test_upsert_and_delete_update_the_vector_index(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([_record(1), _record(2)])
        moved = ShardRecord(_record(1).shard, _vec(99))
        await store.add([moved])
        assert (await store.vector_search(_vec(99), SearchFilter("ns"), limit=1))[0].id == "s1"
        assert await store.count("ns") == 2
        assert await store.delete(["s1"], namespace="ns") == 1
        assert [h.id for h in await store.vector_search(_vec(99), SearchFilter("ns"), limit=5)] == ["s2"]
        assert await store.neighbors(["s1"], SearchFilter("ns")) == []


async def test_wrong_vector_shape_is_refused(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        bad = ShardRecord(_record(1).shard, np.ones(10, dtype=np.float32))
        with pytest.raises(ValidationError):
            await store.add([_record(2), bad])
        assert await store.count("ns") == 0


async def test_health(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        health = await store.health()
        assert health["ok"] and health["backend"] == "embedded"


async def test_large_namespaces_use_hnsw_with_exact_rerank(tmp_path) -> None:
    # Clustered vectors, like real embeddings: neighbours share their leading dimensions too.
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((20, 384)).astype(np.float32)
    records = []
    for i in range(600):
        v = centres[i % 20] + 0.3 * rng.standard_normal(384).astype(np.float32)
        records.append(ShardRecord(_record(i).shard, v / np.linalg.norm(v)))
    exact = EmbeddedStore(tmp_path / "exact", vector_search="exact")
    coarse = EmbeddedStore(tmp_path / "coarse", exact_below=100)
    for store in (exact, coarse):
        await store.add(records)
    query = records[42].vector
    want = await exact.vector_search(query, SearchFilter("ns"), limit=10)
    got = await coarse.vector_search(query, SearchFilter("ns"), limit=10)
    assert (await exact.health())["vector_search"] == "exact"
    await coarse.settle()  # the graph is built off the write path
    got = await coarse.vector_search(query, SearchFilter("ns"), limit=10)
    assert (await coarse.health())["vector_search"] == "graph"
    assert got[0].id == "s42"
    assert len({h.id for h in got} & {h.id for h in want}) >= 9
    for a, b in zip(got, want):  # scores are exact cosines, whatever the scan
        assert a.score == pytest.approx(float(query @ records[int(a.id[1:])].vector), abs=1e-5)
    await exact.close()
    await coarse.close()


async def test_bm25_statistics_are_per_namespace_and_follow_deletes(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([_record(1, "a", text="zebra stripes"), _record(2, "a", text="zebra zebra"),
                         _record(3, "b", text="zebra alone")])
        first = await store.keyword_search("zebra", SearchFilter("a"), limit=5)
        assert [h.id for h in first] == ["s2", "s1"]
        await store.delete(["s2"], namespace="a")
        await store.add([_record(4, "a", text="a zebra appears later")])
        after = await store.keyword_search("zebra", SearchFilter("a"), limit=5)
        assert {h.id for h in after} == {"s1", "s4"}
        assert [h.id for h in await store.keyword_search("zebra", SearchFilter("b"), limit=5)] == ["s3"]
        # rebuilt from SQLite in a fresh process-like store, the scores are the same
        other = EmbeddedStore(tmp_path)
        again = await other.keyword_search("zebra", SearchFilter("a"), limit=5)
        assert [(h.id, round(h.score, 5)) for h in again] == [(h.id, round(h.score, 5)) for h in after]
        await other.close()
