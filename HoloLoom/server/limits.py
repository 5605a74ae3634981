"""Request limits: the size of a body (before it is read) and the rate per token."""

from __future__ import annotations

import json
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ConfigurationError
from .errors import ApiError, error_body

__all__ = ["BodySizeLimit", "RateLimiter"]


class BodySizeLimit:
    """ASGI middleware answering 413 when a body exceeds ``max_bytes``.

    Checks ``Content-Length`` first, then counts the bytes actually received, so a
    chunked upload cannot get past it either.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(error_body(413, "PayloadTooLarge", f"request body is larger than {self.max_bytes} bytes")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class RateLimiter:
    """A moving-window limit per caller (``limits``), e.g. ``"600/minute"``; ``"0"`` is off."""

    def __init__(self, spec: str) -> None:
        self.item: RateLimitItem | None = None
        if spec.strip() not in ("", "0", "off", "none"):
            try:
                self.item = parse(spec)
            except ValueError as exc:
                raise ConfigurationError(f"HOLOLOOM_API_RATE_LIMIT {spec!r} is not a rate like '600/minute'") from exc
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, key: str) -> None:
        """Count one request for ``key``; 429 with ``Retry-After`` when over the limit."""
        if self.item is None:
            return
        if not await self._limiter.hit(self.item, key):
            stats = await self._limiter.get_window_stats(self.item, key)
            retry = max(1, int(stats.reset_time - time.time()) + 1)
            raise ApiError(429, "RateLimited", f"more than {self.item} for this token; retry in {retry} s",
                           headers={"Retry-After": str(retry)})
