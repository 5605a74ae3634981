"""The embedded store's indexes: checkpoints and replay, incremental BM25, forced search modes, migration."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections import Counter

import numpy as np
import pytest

from HoloLoom import ConfigurationError, EmbeddedStore, MemoryShard, SearchFilter, ShardRecord
from HoloLoom.memory import lexical_index
from HoloLoom.memory.lexical_index import lexical_terms

WORDS = "amber basalt cobalt delta ember fjord garnet harbor indigo juniper kelp lumen".split()


def _vec(seed: int, dim: int = 384) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _record(i: int, namespace: str = "ns", text: str | None = None) -> ShardRecord:
    shard = MemoryShard(id=f"s{i}", namespace=namespace, text=text or f"text {i}", metadata={"i": i},
                        created_at=1000.0 + i, occurred_at=1000.0 + i)
    return ShardRecord(shard, _vec(i))


def _brute_bm25(docs: dict[str, str], query: str) -> dict[str, float]:
    """BM25 (k1 1.2, b 0.75, Lucene idf) over ``docs``, straight from the definition."""
    bags = {sid: Counter(lexical_terms(text)) for sid, text in docs.items()}
    avgdl = sum(sum(b.values()) for b in bags.values()) / len(bags)
    out: dict[str, float] = {}
    for term in dict.fromkeys(lexical_terms(query)):
        df = sum(1 for b in bags.values() if term in b)
        if not df:
            continue
        idf = math.log1p((len(bags) - df + 0.5) / (df + 0.5))
        for sid, bag in bags.items():
            tf = bag.get(term, 0)
            if tf:
                norm = 1.2 * (1 - 0.75 + 0.75 * sum(bag.values()) / avgdl)
                out[sid] = out.get(sid, 0.0) + idf * tf * 2.2 / (tf + norm)
    return out


async def test_bm25_stays_exact_through_merges_deletes_and_replacements(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(lexical_index, "MERGE_POSTINGS", 40)  # merge every few adds
    rng = np.random.default_rng(3)
    live: dict[str, dict[str, str]] = {"a": {}, "b": {}}
    async with EmbeddedStore(tmp_path) as store:
        for step in range(12):
            batch = []
            for j in range(15):
                i = int(rng.integers(0, 120))  # ids repeat: re-adds replace
                ns = "a" if i % 3 else "b"
                text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 9))))
                batch.append(_record(i, ns, text))
                live[ns][f"s{i}"] = text
            await store.add(batch)
            gone = [f"s{int(k)}" for k in rng.integers(0, 120, size=4)]
            for ns in live:
                await store.delete(gone, namespace=ns)
                for sid in gone:
                    live[ns].pop(sid, None)
            for ns, docs in live.items():
                for query in ("amber cobalt", "fjord fjord kelp", "lumen"):
                    want = _brute_bm25(docs, query)
                    got = await store.keyword_search(query, SearchFilter(ns), limit=200)
                    assert {h.id: round(h.score, 4) for h in got} == {k: round(v, 4) for k, v in want.items()}, step


async def test_reopen_loads_the_checkpoint_and_replays_only_later_changes(tmp_path, monkeypatch) -> None:
    async with EmbeddedStore(tmp_path) as first:
        await first.add([_record(i, text=f"note {i} amber") for i in range(300)])
    assert (tmp_path / "index" / "CURRENT").exists()
    crashed = EmbeddedStore(tmp_path)
    await crashed.add([_record(i, text=f"note {i} basalt") for i in range(300, 350)])
    await crashed.delete(["s5"], namespace="ns")
    crashed._executor.shutdown(wait=True)  # gone without close(): no checkpoint of these changes

    indexed: list[int] = []
    original = lexical_index.LexicalIndex.add
    monkeypatch.setattr(lexical_index.LexicalIndex, "add",
                        lambda self, slots, texts: (indexed.append(len(slots)), original(self, slots, texts))[1])
    async with EmbeddedStore(tmp_path) as reopened:
        assert sum(indexed) == 50  # the 300 came from the checkpoint, not from their text
        assert await reopened.count("ns") == 349
        assert [h.id for h in await reopened.vector_search(_vec(320), SearchFilter("ns"), limit=1)] == ["s320"]
        assert "s5" not in {h.id for h in await reopened.vector_search(_vec(5), SearchFilter("ns"), limit=5)}
        assert len(await reopened.keyword_search("basalt", SearchFilter("ns"), limit=100)) == 50


async def test_a_damaged_checkpoint_costs_a_rebuild_not_data(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([_record(i) for i in range(40)])
    (tmp_path / "index" / "CURRENT").write_text("ckpt-nonexistent")
    async with EmbeddedStore(tmp_path) as store:
        assert [h.id for h in await store.vector_search(_vec(7), SearchFilter("ns"), limit=1)] == ["s7"]
        assert len(await store.keyword_search("text", SearchFilter("ns"), limit=100)) == 40


async def test_forced_ann_and_exact_agree_and_bad_mode_is_refused(tmp_path) -> None:
    records = [_record(i) for i in range(500)]
    async with EmbeddedStore(tmp_path / "a", vector_search="ann") as ann, \
            EmbeddedStore(tmp_path / "e", vector_search="exact") as exact:
        await ann.add(records)
        await exact.add(records)
        await ann.settle()  # the graph is built off the write path
        assert (await ann.health())["vector_search"] == "graph" and (await exact.health())["vector_search"] == "exact"
        flt = SearchFilter("ns", since=1100.0, until=1300.0)
        for q in (3, 150, 499):
            want = await exact.vector_search(_vec(q), flt, limit=5)
            got = await ann.vector_search(_vec(q), flt, limit=5)
            assert [h.id for h in got][:1] == [h.id for h in want][:1]
            assert all(1100.0 <= 1000.0 + int(h.id[1:]) <= 1300.0 for h in got) and len(got) == 5
    with pytest.raises(ConfigurationError):
        EmbeddedStore(tmp_path / "x", vector_search="fast")


async def test_a_store_from_before_the_vector_file_is_migrated(tmp_path) -> None:
    conn = sqlite3.connect(tmp_path / "hololoom.db")
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE shards (row INTEGER PRIMARY KEY, namespace TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
            metadata TEXT NOT NULL, entities TEXT NOT NULL, about TEXT NOT NULL, motifs TEXT NOT NULL,
            created_at REAL NOT NULL, occurred_at REAL NOT NULL, vector BLOB NOT NULL);
        CREATE UNIQUE INDEX shards_ns_id ON shards(namespace, id);
        INSERT INTO meta VALUES ('dimension', '384');
    """)
    for i in range(30):
        conn.execute("INSERT INTO shards VALUES (NULL, 'ns', ?, ?, '{}', '[]', '[]', '[]', 1.0, 1.0, ?)",
                     (f"s{i}", f"old text {i}", _vec(i).tobytes()))
    conn.commit()
    conn.close()
    async with EmbeddedStore(tmp_path) as store:
        assert await store.count("ns") == 30
        assert [h.id for h in await store.vector_search(_vec(12), SearchFilter("ns"), limit=1)] == ["s12"]
        np.testing.assert_allclose((await store.get_vectors(["s3"], namespace="ns"))["s3"], _vec(3), atol=1e-7)
    columns = {r[1] for r in sqlite3.connect(tmp_path / "hololoom.db").execute("PRAGMA table_info(shards)")}
    assert "vector" not in columns and "slot" in columns


async def test_slots_waiting_for_the_graph_are_searched_exactly(tmp_path, monkeypatch) -> None:
    async with EmbeddedStore(tmp_path, exact_below=50) as store:
        await store.add([_record(i) for i in range(100)])
        await store.settle()
        assert (await store.health())["vector_search"] == "graph"
        monkeypatch.setattr(type(store._vectors), "_index_some", lambda self, most: 0)  # the indexer stalls
        await store.add([_record(i) for i in range(100, 110)])
        assert len(store._vectors._pending) and len(store._vectors.ann) == 100
        for i in (5, 104, 109):
            hits = await store.vector_search(_vec(i), SearchFilter("ns"), limit=3)
            assert hits[0].id == f"s{i}" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        hits = await store.vector_search(_vec(107), SearchFilter("ns", since=1105.0), limit=10)
        assert {h.id for h in hits} == {f"s{i}" for i in range(105, 110)}
        monkeypatch.undo()


async def test_close_never_waits_for_the_graph_and_reopen_finishes_it(tmp_path, monkeypatch) -> None:
    async with EmbeddedStore(tmp_path, exact_below=50) as store:
        await store.add([_record(i) for i in range(100)])
        await store.settle()
        monkeypatch.setattr(type(store._vectors), "_index_some", lambda self, most: 0)  # the indexer stalls
        await store.add([_record(i) for i in range(100, 140)])
    monkeypatch.undo()
    async with EmbeddedStore(tmp_path, exact_below=50) as store:
        assert [h.id for h in await store.vector_search(_vec(120), SearchFilter("ns"), limit=1)] == ["s120"]
        await store.settle()
        assert len(store._vectors.ann) == 140  # the 40 the saved graph lacked were indexed after reopening


async def test_a_failing_graph_falls_back_to_exact_and_nothing_waits(tmp_path, monkeypatch, caplog) -> None:
    def broken(self, *args: object) -> None:
        raise MemoryError("no room for the graph")

    monkeypatch.setattr("HoloLoom.memory.ann_index.AnnIndex.add", broken)
    async with EmbeddedStore(tmp_path, exact_below=50) as store:
        await store.add([_record(i) for i in range(100)])
        await asyncio.wait_for(store.settle(), 30)  # returns: no graph will come
        assert (await store.health())["vector_search"] == "exact"
        assert [h.id for h in await store.vector_search(_vec(77), SearchFilter("ns"), limit=1)] == ["s77"]
        await store.add([_record(i) for i in range(100, 120)])
        assert [h.id for h in await store.vector_search(_vec(110), SearchFilter("ns"), limit=1)] == ["s110"]
    assert "searching exactly from now on" in caplog.text
