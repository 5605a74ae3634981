"""A node of a 3-node Qdrant cluster stops mid-run: no acknowledged write is lost, replicas serve reads.

The cluster is its own (started here, about 5 s), so stopping a node never disturbs the
session's shared cluster. Collections have 3 shards with 2 replicas each, so every shard
keeps a copy on the two nodes that stay up.
"""

from __future__ import annotations

import numpy as np

from HoloLoom import Document, HoloLoom, SearchFilter, Settings
from HoloLoom.memory.qdrant_store import QdrantStore

from .conftest import CLUSTER_LAYOUT, DIM
from .test_crawl_congruence import _rankings
from .test_store_contract import record

TOTAL = 600
BATCH = 50


async def test_a_stopped_node_loses_no_acknowledged_write(embedder, tmp_path) -> None:
    from tests.qdrant_harness import QdrantCluster

    with QdrantCluster(3) as cluster:
        survivor, other, doomed = cluster.nodes
        acknowledged: list[str] = []
        async with QdrantStore(url=survivor.url, collection="failover", dimension=DIM, retry_seconds=30.0,
                               **CLUSTER_LAYOUT) as store:
            for start in range(0, TOTAL, BATCH):
                if start == TOTAL // 2:
                    doomed.kill()  # mid-run, without warning
                batch = [record(i, entities=(f"Entity {i % 40}",), text=f"memory number {i} about topic {i % 7}")
                         for i in range(start, start + BATCH)]
                acknowledged += await store.add(batch)
            assert not doomed.is_running and len(acknowledged) == TOTAL

            # Every acknowledged write is readable, through both nodes that are still up.
            async with QdrantStore(url=other.url, collection="failover", dimension=DIM, retry_seconds=30.0) as second:
                for reader in (store, second):
                    assert await reader.count("ns") == TOTAL
                    got = await reader.get(acknowledged, namespace="ns")
                    assert [s.id for s in got] == acknowledged
                    vectors = await reader.get_vectors(acknowledged[::37], namespace="ns")
                    for sid, vector in vectors.items():
                        np.testing.assert_allclose(vector, record(int(sid[1:])).vector, atol=1e-6)
                    for i in (3, 299, 300, 599):  # written before and after the node stopped
                        hits = await reader.vector_search(record(i).vector, SearchFilter("ns"), limit=3)
                        assert hits[0].id == f"s{i}"
                    assert {l.target for l in await reader.entity_lookup(["entity 5"], SearchFilter("ns"))} == \
                        {f"s{i}" for i in range(5, TOTAL, 40)}
                    assert len(await reader.keyword_search("topic 3", SearchFilter("ns"), limit=200)) >= TOTAL // 7

        # The crawler still ranks as the embedded default does, with one node down.
        async with HoloLoom(settings=Settings(home=tmp_path / "reference", routing="fixed"), embedder=embedder) as ref:
            expected = await _rankings(ref)
        degraded = QdrantStore(url=other.url, collection="congruence", dimension=DIM, retry_seconds=30.0,
                               **CLUSTER_LAYOUT)
        async with HoloLoom(settings=Settings(home=tmp_path / "degraded", routing="fixed"), store=degraded,
                            embedder=embedder) as loom:
            assert await _rankings(loom) == expected
