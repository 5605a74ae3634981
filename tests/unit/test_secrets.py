"""No secret value in a repr, a str, an error, the weave log or /metrics (`stats --json`: tests/e2e)."""

from __future__ import annotations

import json

import pytest

from HoloLoom import HoloLoom, Settings
from HoloLoom.credentials import SecretStr, redact_uri, scrub, uri_secrets
from HoloLoom.errors import HoloLoomError

from tests.secret_values import API_KEY, ENV, PASSWORD, URI_PASSWORD, assert_no_secret


def test_settings_repr_and_str_mask_secrets_and_uri_userinfo() -> None:
    settings = Settings.from_env(ENV)
    assert_no_secret(repr(settings))
    assert_no_secret(str(settings))
    assert "bolt://127.0.0.1:1" in repr(settings) and "http://127.0.0.1:1" in repr(settings)
    assert isinstance(settings.neo4j_password, SecretStr)
    assert settings.neo4j_password.get_secret_value() == PASSWORD  # the driver still gets it
    assert settings.qdrant_api_key.get_secret_value() == API_KEY
    assert Settings(neo4j_password="").neo4j_password is None


@pytest.mark.parametrize(("uri", "shown"), [
    ("bolt://neo4j:pw@host:7687", "bolt://host:7687"),
    ("neo4j+s://u@db.example:7687/x?y=1", "neo4j+s://db.example:7687/x?y=1"),
    ("bolt://a:b@c@host:notaport", "bolt://host:notaport"),  # malformed: still cut, never echoed whole
    ("http://host:6333", "http://host:6333"),
])
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def test_scrub_removes_given_secrets_and_any_uri_userinfo() -> None:
    text = f"failed at bolt://neo4j:{URI_PASSWORD}@h:1 with {PASSWORD}; raw {URI_PASSWORD}"
    cleaned = scrub(text, SecretStr(PASSWORD), *uri_secrets(f"bolt://neo4j:{URI_PASSWORD}@h:1"))
    assert_no_secret(cleaned)
    assert "bolt://h:1" in cleaned


async def test_store_errors_never_show_credentials() -> None:
    from HoloLoom.memory.neo4j_store import Neo4jStore
    from HoloLoom.memory.qdrant_store import QdrantStore

    settings = Settings.from_env(ENV)
    neo = Neo4jStore(settings.neo4j_uri, password=settings.neo4j_password, retry_seconds=0.2, connection_timeout=0.5)
    qd = QdrantStore(url=settings.qdrant_url, api_key=settings.qdrant_api_key, retry_seconds=0.2, timeout=1)
    for store in (neo, qd):
        assert_no_secret(repr(store))
        health = await store.health()  # what stats() shows
        assert health["ok"] is False
        assert_no_secret(json.dumps(health, default=str))
        with pytest.raises(HoloLoomError) as caught:
            await store.count("default")
        assert_no_secret(str(caught.value))
        assert_no_secret(repr(caught.value))
        await store.close()
    with pytest.raises(HoloLoomError) as caught:
        Neo4jStore(f"neo4j:{URI_PASSWORD}@host")  # no scheme: refused without echoing it
    assert_no_secret(str(caught.value))


async def test_stats_weave_log_and_metrics_hold_no_secret(home, embedder, monkeypatch) -> None:
    from HoloLoom.telemetry import LoomMetrics

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOLOLOOM_HOME", str(home))
    monkeypatch.setenv("HOLOLOOM_ROUTING", "fixed")
    async with HoloLoom(settings=Settings.from_env(), embedder=embedder) as loom:
        metrics = LoomMetrics()
        detach = metrics.attach(loom)
        await loom.add("Leland is a town in North Carolina.")
        spacetime = await loom.weave("Where is Leland?")
        await metrics.refresh()
        exposition = metrics.exposition().decode()
        detach()
        assert_no_secret(json.dumps(await loom.stats(), default=str))
        assert_no_secret(spacetime.to_json())
    assert "hololoom_queries" in exposition
    assert_no_secret(exposition)
    logs = list(home.rglob("*.jsonl"))
    assert logs, "the weave log was written"
    for path in logs:
        assert_no_secret(path.read_text(encoding="utf-8"))
