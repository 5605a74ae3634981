"""One MemoryStore contract, every backend, real engines.

``backend`` is parametrized over embedded, neo4j, qdrant and hybrid, and over the
in-memory ``fake`` (:class:`HoloLoom.testing.FakeStore`, which the unit tests stand on,
so it must keep the real backends' semantics). Neo4j is a real
server: one per test session, started by ``tests/neo4j_harness.py`` (Java 17+ and Maven,
about 15 s), or the server named by ``HOLOLOOM_TEST_NEO4J_URI`` (with
``HOLOLOOM_TEST_NEO4J_PASSWORD``) if set. Without Java the neo4j and hybrid cases are
skipped with the reason. Qdrant runs three ways: local mode in a temporary directory
(``qdrant``), a real server (``qdrant-server``) and a real 3-node cluster on loopback
whose collections have 3 shards and 2 replicas (``qdrant-cluster``), both started once per
session by ``tests/qdrant_harness.py`` from ``../shared/bin/qdrant`` (or
``HOLOLOOM_TEST_QDRANT_BIN``); each test gets its own collection, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from HoloLoom.memory import BaseStore, EmbeddedStore
from HoloLoom.testing import FakeStore

BACKENDS = ("fake", "embedded", "neo4j", "qdrant", "hybrid", "qdrant-server", "qdrant-cluster")
DIM = 384


@dataclass
class Neo4jTarget:
    """A Neo4j server the tests may use; ``server`` is set when the harness owns it."""

    uri: str
    password: str | None
    server: Any = None

    def wipe(self) -> None:
        import neo4j

        auth = None if self.password is None else ("neo4j", self.password)
        with neo4j.GraphDatabase.driver(self.uri, auth=auth) as driver, driver.session() as session:
            session.run("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()


@pytest.fixture(scope="session")
def neo4j_target() -> Iterator[Neo4jTarget]:
    uri = os.environ.get("HOLOLOOM_TEST_NEO4J_URI")
    if uri:
        yield Neo4jTarget(uri, os.environ.get("HOLOLOOM_TEST_NEO4J_PASSWORD"))
        return
    from tests.neo4j_harness import Neo4jServer, java_available

    ok, why = java_available()
    if not ok:
        pytest.skip(f"no Neo4j for the contract tests: {why}")
    server = Neo4jServer(password="contract-secret")
    server.start()
    try:
        yield Neo4jTarget(server.uri, server.password, server)
    finally:
        server.close()


@pytest.fixture(scope="session")
def qdrant_server() -> Iterator[object]:
    from tests.qdrant_harness import QdrantServer

    with QdrantServer() as server:
        yield server


@pytest.fixture(scope="session")
def qdrant_cluster() -> Iterator[object]:
    from tests.qdrant_harness import QdrantCluster

    with QdrantCluster(3) as cluster:
        yield cluster


#: How the cluster's collections are laid out: every shard on two of the three nodes.
CLUSTER_LAYOUT = {"shards": 3, "replication": 2}


@dataclass
class Backend:
    """Builds stores of one backend over the same data, as a restarted process would."""

    name: str
    root: Path
    neo4j: Neo4jTarget | None = None
    options: dict[str, Any] = field(default_factory=dict)
    qdrant_url: str | None = None
    collection: str = field(default_factory=lambda: f"contract_{uuid.uuid4().hex[:12]}")
    first_fake: FakeStore | None = None

    def make(self, **options: Any) -> BaseStore:
        opts = {**self.options, **options}
        if self.name == "fake":  # every FakeStore of a test sees the first one's data
            made = FakeStore(dimension=DIM, shared_with=self.first_fake)
            self.first_fake = self.first_fake or made
            return made
        if self.name == "embedded":
            return EmbeddedStore(self.root / "embedded", dimension=DIM)
        if self.qdrant_url is not None:
            from HoloLoom.memory.qdrant_store import QdrantStore

            return QdrantStore(url=self.qdrant_url, collection=self.collection, dimension=DIM, **opts)
        if self.name == "qdrant":
            from HoloLoom.memory.qdrant_store import QdrantStore

            return QdrantStore(path=self.root / "qdrant", dimension=DIM, **opts)
        from HoloLoom.memory.neo4j_store import Neo4jStore

        assert self.neo4j is not None
        if self.name == "neo4j":
            return Neo4jStore(self.neo4j.uri, password=self.neo4j.password, dimension=DIM, **opts)
        from HoloLoom.memory.hybrid import HybridStore
        from HoloLoom.memory.qdrant_store import QdrantStore

        graph = Neo4jStore(self.neo4j.uri, password=self.neo4j.password, dimension=DIM, vectors=False, **opts)
        return HybridStore(graph, QdrantStore(path=self.root / "qdrant", dimension=DIM))


def _drop_collection(url: str, collection: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{url}/collections/{collection}", method="DELETE")
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - loopback test server
        pass


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    name = request.param
    target = None
    if name in ("neo4j", "hybrid"):
        target = request.getfixturevalue("neo4j_target")
        target.wipe()
    # Short retries: a test that fails should fail in seconds, not hang for the default 30 s.
    options: dict[str, Any] = {"retry_seconds": 5.0} if name in ("neo4j", "hybrid") else {}
    url = None
    if name == "qdrant-server":
        url = request.getfixturevalue("qdrant_server").url
    elif name == "qdrant-cluster":
        url = request.getfixturevalue("qdrant_cluster").url
        options = {**CLUSTER_LAYOUT, "retry_seconds": 20.0}
    chosen = Backend(name, tmp_path, target, options, qdrant_url=url)
    yield chosen
    if url is not None:
        _drop_collection(url, chosen.collection)


@pytest.fixture
async def store(backend: Backend):
    async with backend.make() as st:
        yield st
