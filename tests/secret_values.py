"""Secret values planted in settings and the environment, and the check that none leaks (shared by test levels)."""

from __future__ import annotations

PASSWORD = "pw-Zq81-neo4j-secret"
URI_PASSWORD = "uri-Xk44-secret"
API_KEY = "key-Jr07-qdrant-secret"
SECRETS = (PASSWORD, URI_PASSWORD, API_KEY)
ENV = {
    "HOLOLOOM_NEO4J_URI": f"bolt://neo4j:{URI_PASSWORD}@127.0.0.1:1",
    "HOLOLOOM_NEO4J_PASSWORD": PASSWORD,
    "HOLOLOOM_QDRANT_URL": f"http://admin:{URI_PASSWORD}@127.0.0.1:1",
    "HOLOLOOM_QDRANT_API_KEY": API_KEY,
}


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
