"""What only a real Neo4j server can show: outages, credentials, the ANN index path."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from HoloLoom import ConfigurationError, SearchFilter, StoreUnavailableError
from HoloLoom.memory.hybrid import HybridStore, HybridWriteError
from HoloLoom.memory.neo4j_store import Neo4jStore
from HoloLoom.memory.qdrant_store import QdrantStore

from .conftest import DIM, Neo4jTarget
from .test_store_contract import record, vec

pytestmark = pytest.mark.neo4j


def _store(target: Neo4jTarget, **options) -> Neo4jStore:
    return Neo4jStore(target.uri, password=target.password, dimension=DIM, **options)


async def test_server_goes_away_then_recovers_without_losing_acknowledged_writes(
    neo4j_target: Neo4jTarget, tmp_path
) -> None:
    server = neo4j_target.server
    if server is None:
        pytest.skip("needs the harness-owned server (HOLOLOOM_TEST_NEO4J_URI is set)")
    neo4j_target.wipe()
    store = _store(neo4j_target, retry_seconds=1.0, connection_timeout=2.0)
    graph = _store(neo4j_target, vectors=False, retry_seconds=1.0, connection_timeout=2.0)
    hybrid = HybridStore(graph, QdrantStore(path=tmp_path / "qdrant", dimension=DIM))
    await store.open()
    await hybrid.open()

    acknowledged: list[str] = []
    errors: list[Exception] = []
    stop = asyncio.Event()
    recovered = asyncio.Event()

    async def writer() -> None:
        batch = 0
        while not stop.is_set():
            recs = [record(batch * 10 + j, entities=(f"Entity {batch}",)) for j in range(10)]
            try:
                await store.add(recs)
            except StoreUnavailableError as exc:
                errors.append(exc)
            else:
                acknowledged.extend(r.shard.id for r in recs)
                if errors:
                    recovered.set()
            batch += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(writer())
    while len(acknowledged) < 50:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(server.kill)  # a crash, not a clean shutdown
    while not errors:
        await asyncio.sleep(0.05)

    # While it is gone: clear errors that name the server and never the password.
    message = str(errors[0])
    assert server.uri in message and "unreachable" in message and neo4j_target.password not in message
    with pytest.raises(StoreUnavailableError):
        await store.vector_search(vec(1), SearchFilter("ns"), limit=3)
    health = await store.health()
    assert health["ok"] is False and neo4j_target.password not in str(health)
    # A hybrid write that cannot reach Neo4j is rolled back in Qdrant and reported.
    with pytest.raises(HybridWriteError) as failed:
        await hybrid.add([record(900), record(901)])
    assert failed.value.rolled_back and failed.value.failed == ["neo4j"]
    assert await hybrid.vectors.count("ns") == 0

    await asyncio.to_thread(server.start)
    await asyncio.wait_for(recovered.wait(), timeout=60)
    stop.set()
    await task

    # Every acknowledged write survived the crash; the same store objects work again.
    assert await store.existing_ids(acknowledged, namespace="ns") == set(acknowledged)
    assert (await store.health())["ok"] is True
    await hybrid.add([record(900), record(901)])
    assert await hybrid.existing_ids(["s900", "s901"], namespace="ns") == {"s900", "s901"}
    await store.close()
    await hybrid.close()


async def test_index_path_matches_exact_search(neo4j_target: Neo4jTarget) -> None:
    neo4j_target.wipe()
    rng = np.random.default_rng(7)
    # Clustered vectors, like real embeddings, in two namespaces of different sizes.
    centres = rng.standard_normal((8, DIM))
    big = [record(i, "big", vector=_unit(centres[i % 8] + 0.6 * rng.standard_normal(DIM)), metadata={"p": i % 50})
           for i in range(400)]
    small = [record(i, "small", vector=_unit(centres[i % 8] + 0.6 * rng.standard_normal(DIM))) for i in range(100)]
    async with _store(neo4j_target, exact_search_max=0, candidates=60) as store:
        await store.add(big + small)
        recall = []
        for q in range(10):
            query = _unit(centres[q % 8] + 0.6 * rng.standard_normal(DIM))
            for name, recs in (("big", big), ("small", small)):
                hits = await store.vector_search(query, SearchFilter(name), limit=10)
                matrix = np.stack([r.vector for r in recs])
                exact = {recs[i].shard.id for i in np.argsort(-(matrix @ query))[:10]}
                recall.append(len(exact & {h.id for h in hits}) / 10)
                by_id = {r.shard.id: r.vector for r in recs}
                for h in hits:  # scores are exact cosines even when the index found the candidates
                    assert h.score == pytest.approx(float(by_id[h.id] @ query), abs=1e-5)
        assert np.mean(recall) >= 0.95
        assert store.search_stats["index"] >= 10
        # A filter the index's candidates cannot satisfy falls back to an exact scan.
        hits = await store.vector_search(vec(1), SearchFilter("big", where={"p": 7}), limit=10)
        assert {h.id for h in hits} == {f"s{i}" for i in range(400) if i % 50 == 7}
        assert store.search_stats["fallback"] >= 1


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


async def test_wrong_credentials_are_reported_without_the_password(neo4j_target: Neo4jTarget) -> None:
    # Another user name: Neo4j rate-limits failed logins per user, and the suite logs in as neo4j.
    store = Neo4jStore(neo4j_target.uri, user="intruder", password="not-the-password-42", retry_seconds=0.5)
    with pytest.raises(StoreUnavailableError) as failed:
        await store.open()
    assert "credentials" in str(failed.value) and neo4j_target.uri in str(failed.value)
    assert "not-the-password-42" not in str(failed.value)
    await store.close()


async def test_unreachable_server_fails_fast_and_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = Neo4jStore(f"bolt://127.0.0.1:{port}", password="s3cret-pw", retry_seconds=0.5, connection_timeout=1.0)
    with pytest.raises(StoreUnavailableError) as failed:
        await store.count()
    assert f"bolt://127.0.0.1:{port}" in str(failed.value) and "s3cret-pw" not in str(failed.value)
    assert (await store.health())["ok"] is False
    await store.close()


async def test_dimension_mismatch_is_a_configuration_error(neo4j_target: Neo4jTarget) -> None:
    async with _store(neo4j_target) as store:
        await store.count()  # the schema exists with 384-d vectors
    other = Neo4jStore(neo4j_target.uri, password=neo4j_target.password, dimension=128, retry_seconds=1.0)
    with pytest.raises(ConfigurationError, match="384-d"):
        await other.open()
    await other.close()
