"""Body-size and rate limits as ASGI pieces, without a model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

from HoloLoom import ConfigurationError  # noqa: E402
from HoloLoom.server.errors import ApiError  # noqa: E402
from HoloLoom.server.limits import BodySizeLimit, RateLimiter  # noqa: E402


async def _echo_app(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _call(app, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_body_limit_checks_the_declared_and_the_received_length() -> None:
    app = BodySizeLimit(_echo_app, max_bytes=10)
    assert await _call(app, [b"12345"], [(b"content-length", b"5")]) == (200, b"12345")
    status, body = await _call(app, [b"x" * 11], [(b"content-length", b"11")])
    assert status == 413 and json.loads(body)["error"]["type"] == "PayloadTooLarge"
    status, _ = await _call(app, [b"123456", b"789012"], [])  # chunked, no content-length
    assert status == 413


async def test_rate_limit_answers_429_with_retry_after() -> None:
    limiter = RateLimiter("3/minute")
    for _ in range(3):
        await limiter.check("token-a")
    with pytest.raises(ApiError) as err:
        await limiter.check("token-a")
    assert err.value.status == 429 and int(err.value.headers["Retry-After"]) >= 1
    await limiter.check("token-b")  # per token
    await RateLimiter("0").check("token-a")  # off


def test_a_bad_rate_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="HOLOLOOM_API_RATE_LIMIT"):
        RateLimiter("fast please")
