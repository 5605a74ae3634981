"""The HTTP API in process (FastAPI's TestClient, real model, embedded store): auth,
namespaces, every endpoint, JSON errors, limits, and tokens kept out of logs."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from HoloLoom import HoloLoom, Settings  # noqa: E402
from HoloLoom.server import ServerSettings, create_app  # noqa: E402
from HoloLoom.server.settings import parse_tokens  # noqa: E402

ALICE = "alice-token-http-000000001"
BOB = "bob-token-http-0000000002"
ADMIN = "admin-token-http-00000003"
METRICS = "metrics-token-http-000004"
A = {"Authorization": f"Bearer {ALICE}"}
B = {"Authorization": f"Bearer {BOB}"}
ROOT = {"Authorization": f"Bearer {ADMIN}"}


def _client(tmp_path, embedder, **settings) -> TestClient:
    tokens = parse_tokens(f"{ALICE}:alice;{BOB}:bob;{ADMIN}:*;{METRICS}:@metrics", source="test")
    server = ServerSettings(tokens=tuple(tokens), **settings)
    app = create_app(settings=server, loom_factory=lambda: HoloLoom(
        settings=Settings(home=tmp_path / "home", routing="fixed", seed=7), embedder=embedder))
    return TestClient(app)


@pytest.fixture
def client(tmp_path, embedder):
    with _client(tmp_path, embedder) as c:
        yield c


DOCS = [
    {"text": "Maximum Overdrive is a 1986 film directed by Stephen King.", "title": "Maximum Overdrive"},
    {"text": "Stephen King was born in Portland, Maine.", "metadata": {"source": "wiki", "year": 1947}},
    {"text": "The Leland shoot happened in the summer of 1985.", "occurred_at": "1985-07-01"},
]


def test_memories_round_trip_and_namespaces_never_cross(client: TestClient) -> None:
    r = client.post("/v1/memories", json={"memories": DOCS, "metadata": {"batch": "one"}}, headers=A)
    assert r.status_code == 200, r.text
    added = r.json()
    assert added["namespace"] == "alice" and added["added"] == 3 and len(added["ids"]) == 3
    again = client.post("/v1/memories", json={"memories": DOCS[:1], "metadata": {"batch": "one"}}, headers=A).json()
    assert again["added"] == 0 and again["unchanged"] == 1  # idempotent
    client.post("/v1/memories", json={"memories": [{"text": "Bob's Stephen King notes are private."}]}, headers=B)

    shard = client.get(f"/v1/memories/{added['ids'][1]}", headers=A).json()
    assert shard["metadata"] == {"batch": "one", "source": "wiki", "year": 1947}
    # Bob's token cannot read, write, recall, weave, delete or forget in alice's namespace.
    for method, path, kwargs in [
        ("get", f"/v1/memories/{added['ids'][1]}?namespace=alice", {}),
        ("post", "/v1/memories", {"json": {"namespace": "alice", "memories": [{"text": "intruder"}]}}),
        ("post", "/v1/recall", {"json": {"namespace": "alice", "query": "Stephen King"}}),
        ("post", "/v1/weave", {"json": {"namespace": "alice", "query": "Stephen King"}}),
        ("delete", f"/v1/memories/{added['ids'][0]}?namespace=alice", {}),
        ("delete", "/v1/namespaces/alice", {}),
    ]:
        r = getattr(client, method)(path, headers=B, **kwargs)
        assert r.status_code == 403 and r.json()["error"]["type"] == "Forbidden", (method, path)
    # Bob's own view: his memory only; his default namespace is his only one.
    bob_hits = client.post("/v1/recall", json={"query": "Stephen King"}, headers=B).json()
    assert bob_hits["namespace"] == "bob" and {i["shard"]["namespace"] for i in bob_hits["items"]} == {"bob"}
    assert client.get(f"/v1/memories/{added['ids'][1]}?namespace=bob", headers=B).status_code == 404
    assert client.get("/v1/stats", headers=A).json()["namespaces"] == {"alice": 3}
    assert client.get("/v1/stats", headers=ROOT).json()["namespaces"] == {"alice": 3, "bob": 1}

    assert client.delete(f"/v1/memories/{added['ids'][2]}", headers=A).json() == {"namespace": "alice", "deleted": 1}
    assert client.delete("/v1/namespaces/alice", headers=A).json()["deleted"] == 2
    assert client.get("/v1/stats", headers=ROOT).json()["namespaces"] == {"bob": 1}


def test_weave_feedback_and_recall(client: TestClient) -> None:
    client.post("/v1/memories", json={"memories": DOCS}, headers=A)
    r = client.post("/v1/weave", json={"query": "Where was the director of Maximum Overdrive born?", "complexity": "FULL"},
                    headers=A)
    assert r.status_code == 200, r.text
    st = r.json()
    assert "Portland" in st["response"] and st["complexity"] == "FULL" and len(st["stages"]) >= 9
    assert client.post("/v1/feedback", json={"spacetime_id": st["id"], "useful": True}, headers=B).status_code == 404
    fb = client.post("/v1/feedback", json={"spacetime_id": st["id"], "reward": 0.8}, headers=A)
    assert fb.status_code == 200 and fb.json()["reward"] == 0.8
    bad = client.post("/v1/feedback", json={"spacetime_id": st["id"], "reward": 0.8, "useful": True}, headers=A)
    assert bad.status_code == 422 and bad.json()["error"]["type"] == "InvalidFeedbackError"
    hits = client.post("/v1/recall", json={"query": "Stephen King birthplace", "limit": 2}, headers=A).json()["items"]
    assert len(hits) == 2 and hits[0]["paths"]


def test_bad_input_is_a_json_4xx_never_a_500(client: TestClient) -> None:
    cases = [
        ({"memories": []}, "/v1/memories"),
        ({"memories": [{"text": ""}]}, "/v1/memories"),
        ({"memories": [{"text": "x", "metadata": {"n": 2**60}}]}, "/v1/memories"),
        ({"memories": [{"text": "x", "occurred_at": "not a date"}]}, "/v1/memories"),
        ({"memories": [{"text": "x\x00y"}]}, "/v1/memories"),
        ({"memories": [{"text": "x", "colour": "red"}]}, "/v1/memories"),
        ({"query": "   "}, "/v1/recall"),
        ({"query": "q", "complexity": "HARD"}, "/v1/recall"),
        ({"query": "q", "since": "yesterday-ish"}, "/v1/weave"),
        ({"query": "q", "tool": "no-such-tool"}, "/v1/weave"),
        ({"query": "q" * 5000}, "/v1/weave"),
        ({"spacetime_id": "nope", "useful": True}, "/v1/feedback"),
        ({"namespace": "../etc", "query": "q"}, "/v1/recall"),
    ]
    for body, path in cases:
        r = client.post(path, json=body, headers=ROOT)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        error = r.json()["error"]
        assert error["status"] == r.status_code and error["message"] and "Traceback" not in r.text
    r = client.post("/v1/recall", content=b"{not json", headers={**ROOT, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "RequestValidationError"


def test_auth_errors_limits_and_metrics(tmp_path, embedder) -> None:
    with _client(tmp_path, embedder, max_texts=2, max_body_bytes=2000, rate_limit="5/minute") as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready", "backend": "embedded"}
        r = c.get("/v1/stats")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/stats", headers={"Authorization": "Bearer wrong-token-000000000"}).status_code == 401
        r = c.post("/v1/memories", json={"memories": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}, headers=A)
        assert r.status_code == 422 and "limit is 2" in r.json()["error"]["message"]
        r = c.post("/v1/memories", json={"memories": [{"text": "x" * 3000}]}, headers=A)
        assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLarge"
        codes = [c.get("/v1/stats", headers=B).status_code for _ in range(6)]
        assert codes[-1] == 429 and 200 in codes
        assert c.get("/v1/stats", headers=A).status_code == 200  # limits are per token
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=A).status_code == 403
        body = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"}).text
        assert "hololoom_http_requests_total" in body and 'status="429"' in body
        assert c.get("/v1/stats", headers={"Authorization": f"Bearer {METRICS}"}).status_code == 403


def test_tokens_never_reach_logs_errors_or_openapi(tmp_path, embedder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with _client(tmp_path, embedder) as c:
        seen = [c.get("/v1/stats", headers={"Authorization": "Bearer not-a-real-token-000000"}).text,
                c.post("/v1/recall", json={"query": ""}, headers=A).text,
                c.post("/v1/recall", json={"namespace": "bob", "query": "q"}, headers=A).text,
                c.get("/openapi.json").text]
    text = " ".join(seen) + caplog.text
    for token in (ALICE, BOB, ADMIN, METRICS, "not-a-real-token-000000"):
        assert token not in text


def test_without_tokens_only_loopback_is_allowed(tmp_path, embedder) -> None:
    from HoloLoom import ConfigurationError
    from HoloLoom.server import serve

    with pytest.raises(ConfigurationError, match="refusing to listen on 0.0.0.0"):
        serve(ServerSettings(host="0.0.0.0"))
    app = create_app(settings=ServerSettings(), loom_factory=lambda: HoloLoom(
        settings=Settings(home=tmp_path / "home", routing="fixed"), embedder=embedder))
    with TestClient(app) as c:  # loopback without tokens: every namespace, no header needed
        r = c.post("/v1/memories", json={"namespace": "anyone", "memories": [{"text": "local note"}]})
        assert r.status_code == 200 and r.json()["namespace"] == "anyone"
