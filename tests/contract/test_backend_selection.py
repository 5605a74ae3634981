"""Choosing a backend by configuration alone, missing extras, and the error mapping."""

from __future__ import annotations

import httpx
import pytest
from neo4j import exceptions as neo4j_errors
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from HoloLoom import (
    ConfigurationError,
    HoloLoom,
    MissingDependencyError,
    SearchFilter,
    Settings,
    StoreError,
    StoreUnavailableError,
)
from HoloLoom.memory import HybridStore, Neo4jStore, QdrantStore, create_store
from HoloLoom.memory import neo4j_store, qdrant_store

from .test_store_contract import record


def test_backend_from_environment(tmp_path) -> None:
    env = {"HOLOLOOM_HOME": str(tmp_path), "HOLOLOOM_BACKEND": "qdrant"}
    store = create_store(Settings.from_env(env), dimension=384)
    assert isinstance(store, QdrantStore) and store.path == str(tmp_path / "qdrant") and store.url is None

    store = create_store(Settings.from_env({**env, "HOLOLOOM_QDRANT_PATH": str(tmp_path / "q")}), dimension=384)
    assert store.path == str(tmp_path / "q")
    store = create_store(Settings.from_env({**env, "HOLOLOOM_QDRANT_URL": "http://qdrant:6333",
                                            "HOLOLOOM_QDRANT_COLLECTION": "mine"}), dimension=384)
    assert store.url == "http://qdrant:6333" and store.collection == "mine" and store.path is None
    with pytest.raises(ConfigurationError, match="not both"):
        create_store(Settings.from_env({**env, "HOLOLOOM_QDRANT_URL": "http://q:6333",
                                        "HOLOLOOM_QDRANT_PATH": "/x"}), dimension=384)

    neo = {"HOLOLOOM_HOME": str(tmp_path), "HOLOLOOM_BACKEND": "neo4j"}
    with pytest.raises(ConfigurationError, match="HOLOLOOM_NEO4J_URI"):
        create_store(Settings.from_env(neo), dimension=384)
    neo |= {"HOLOLOOM_NEO4J_URI": "bolt://db:7687", "HOLOLOOM_NEO4J_USER": "loom",
            "HOLOLOOM_NEO4J_PASSWORD": "hunter2", "HOLOLOOM_NEO4J_DATABASE": "memories"}
    store = create_store(Settings.from_env(neo), dimension=384)
    assert isinstance(store, Neo4jStore) and store.vectors
    assert (store.uri, store.user, store.database) == ("bolt://db:7687", "loom", "memories")
    assert "hunter2" not in repr(store)

    store = create_store(Settings.from_env({**neo, "HOLOLOOM_BACKEND": "hybrid"}), dimension=384)
    assert isinstance(store, HybridStore) and not store.graph.vectors
    assert store.vectors.path == str(tmp_path / "qdrant")


async def test_loom_runs_on_a_backend_chosen_by_settings(tmp_path, embedder) -> None:
    settings = Settings.from_env({"HOLOLOOM_HOME": str(tmp_path), "HOLOLOOM_BACKEND": "qdrant"})
    async with HoloLoom(settings=settings, embedder=embedder) as loom:
        await loom.add("Maximum Overdrive was filmed in Leland, North Carolina.", title="Maximum Overdrive")
        hits = await loom.recall("Where was Maximum Overdrive filmed?", complexity="FAST")
        assert hits and "Leland" in hits[0].shard.text
        assert isinstance(loom.store, QdrantStore)


def test_missing_extras_name_the_pip_command(monkeypatch) -> None:
    monkeypatch.setattr(neo4j_store, "neo4j", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'HoloLoom\[neo4j\]'"):
        Neo4jStore("bolt://localhost:7687")
    monkeypatch.setattr(qdrant_store, "AsyncQdrantClient", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'HoloLoom\[qdrant\]'"):
        QdrantStore(path=":memory:")


def test_bad_configuration_is_refused_before_connecting() -> None:
    with pytest.raises(ConfigurationError):
        Neo4jStore("localhost:7687")
    with pytest.raises(ConfigurationError):
        QdrantStore()
    with pytest.raises(ConfigurationError):
        QdrantStore(url="http://q:6333", path="/tmp/x")
    with pytest.raises(ConfigurationError):
        QdrantStore(path=":memory:", collection="bad name; drop")


@pytest.mark.parametrize(("error", "expected"), [
    (neo4j_errors.ServiceUnavailable("gone"), StoreUnavailableError),
    (neo4j_errors.SessionExpired("expired"), StoreUnavailableError),
    (neo4j_errors.IncompleteCommit("unknown outcome"), StoreUnavailableError),
    (neo4j_errors.ConnectionAcquisitionTimeoutError("pool"), StoreUnavailableError),
    (neo4j_errors.AuthError("no"), StoreUnavailableError),
    (neo4j_errors.TransientError("deadlock"), StoreError),
    (neo4j_errors.ClientError("syntax"), StoreError),
    (neo4j_errors.DatabaseError("boom"), StoreError),
    (neo4j_errors.DriverError("driver"), StoreError),
    (OSError("reset"), StoreUnavailableError),
])
def test_every_neo4j_error_becomes_a_hololoom_error(error: Exception, expected: type) -> None:
    store = Neo4jStore("bolt://user:pw@db:7687", password="hunter2")
    mapped = store._error(error, "testing")
    assert type(mapped) is expected
    assert "bolt://db:7687" in str(mapped) and "hunter2" not in str(mapped) and "pw@" not in str(mapped)


@pytest.mark.parametrize(("error", "expected"), [
    (ResponseHandlingException(httpx.ConnectError("refused")), StoreUnavailableError),
    (UnexpectedResponse(503, "Service Unavailable", b"", httpx.Headers()), StoreUnavailableError),
    (UnexpectedResponse(401, "Unauthorized", b"", httpx.Headers()), StoreUnavailableError),
    (UnexpectedResponse(400, "Bad Request", b"bad", httpx.Headers()), StoreError),
    (ValueError("local mode says no"), StoreError),
])
def test_every_qdrant_error_becomes_a_hololoom_error(error: Exception, expected: type) -> None:
    store = QdrantStore(url="http://qdrant:6333", api_key="key-123")
    mapped = store._error(error, "testing")
    assert type(mapped) is expected
    assert "http://qdrant:6333" in str(mapped) and "key-123" not in str(mapped)


async def test_local_qdrant_directory_is_locked_to_one_store(tmp_path) -> None:
    async with QdrantStore(path=tmp_path / "q") as first:
        await first.add([record(1)])
        second = QdrantStore(path=tmp_path / "q")
        with pytest.raises(StoreUnavailableError, match="local Qdrant"):
            await second.count()
        await second.close()
        assert [h.id for h in await first.vector_search(record(1).vector, SearchFilter("ns"), limit=1)] == ["s1"]
