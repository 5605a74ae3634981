"""Server settings: where to listen, who may call, and how much one call may ask.

Read from ``HOLOLOOM_API_*`` environment variables (never at import time):

    HOLOLOOM_API_HOST            interface to bind (default 127.0.0.1)
    HOLOLOOM_API_PORT            port (default 8000)
    HOLOLOOM_API_TOKENS          bearer tokens and their namespaces: "TOKEN:ns1,ns2;TOKEN2:*"
    HOLOLOOM_API_TOKENS_FILE     a file of the same entries, one per line ("#" starts a comment)
    HOLOLOOM_API_METRICS_TOKEN   a token that may read /metrics and nothing else (for Prometheus)
    HOLOLOOM_API_MAX_BODY_BYTES  largest request body (default 4 MiB)
    HOLOLOOM_API_MAX_TEXTS       most memories in one add (default 256)
    HOLOLOOM_API_MAX_QUERY_CHARS longest query (default 4000)
    HOLOLOOM_API_RATE_LIMIT      requests per token, e.g. "600/minute"; "0" turns limiting off

A token's namespaces are the tenants it may read and write; ``*`` grants every namespace
(and ``/metrics``); ``@metrics`` grants only ``/metrics``, whose gauges name namespaces.
Tokens are held as :class:`pydantic.SecretStr` and named in logs only by a fingerprint.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from ..errors import ConfigurationError

__all__ = ["ALL_NAMESPACES", "METRICS_GRANT", "ServerSettings", "TokenGrant", "is_loopback", "parse_tokens"]

ALL_NAMESPACES = "*"
METRICS_GRANT = "@metrics"  # not a valid namespace, so it can never open one
MIN_TOKEN_CHARS = 16


def fingerprint(token: str) -> str:
    """A short, log-safe name for a token (a prefix of its SHA-256, never the token)."""
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class TokenGrant:
    """One bearer token and the namespaces it may touch."""

    secret: SecretStr
    namespaces: frozenset[str]
    label: str

    @property
    def all_namespaces(self) -> bool:
        return ALL_NAMESPACES in self.namespaces

    def allows(self, namespace: str) -> bool:
        return self.all_namespaces or namespace in self.namespaces


def parse_tokens(text: str, *, source: str) -> list[TokenGrant]:
    """Parse ``TOKEN:ns1,ns2`` entries separated by ``;`` or newlines.

    Errors name the entry by position and never echo the token.
    """
    grants: list[TokenGrant] = []
    entries = [e.split("#", 1)[0].strip() for e in text.replace(";", "\n").splitlines()]
    for number, entry in enumerate((e for e in entries if e), start=1):
        token, sep, spaces = entry.partition(":")
        token = token.strip()
        namespaces = frozenset(n.strip() for n in spaces.split(",") if n.strip())
        if not sep or not namespaces:
            raise ConfigurationError(f"{source}: entry {number} must look like TOKEN:namespace[,namespace...]")
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise ConfigurationError(
                f"{source}: entry {number} has a token shorter than {MIN_TOKEN_CHARS} characters or with spaces"
            )
        grants.append(TokenGrant(SecretStr(token), namespaces, fingerprint(token)))
    return grants


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative")
    return value


@dataclass(frozen=True)
class ServerSettings:
    """How the HTTP API listens, authenticates and limits requests."""

    host: str = "127.0.0.1"
    port: int = 8000
    tokens: tuple[TokenGrant, ...] = field(default=(), repr=False)
    max_body_bytes: int = 4 * 1024 * 1024
    max_texts: int = 256
    max_query_chars: int = 4000
    rate_limit: str = "600/minute"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "ServerSettings":
        """Build from ``HOLOLOOM_API_*`` variables; keyword overrides (not None) win."""
        env = os.environ if environ is None else environ
        tokens = parse_tokens(env.get("HOLOLOOM_API_TOKENS", ""), source="HOLOLOOM_API_TOKENS")
        token_file = env.get("HOLOLOOM_API_TOKENS_FILE", "")
        if token_file:
            try:
                text = Path(token_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"cannot read HOLOLOOM_API_TOKENS_FILE {token_file}: {exc.strerror}") from None
            tokens += parse_tokens(text, source=token_file)
        metrics_token = env.get("HOLOLOOM_API_METRICS_TOKEN", "").strip()
        if metrics_token:
            tokens += parse_tokens(f"{metrics_token}:{METRICS_GRANT}", source="HOLOLOOM_API_METRICS_TOKEN")
        values: dict[str, object] = {
            "host": env.get("HOLOLOOM_API_HOST") or cls.host,
            "port": _int(env, "HOLOLOOM_API_PORT", cls.port),
            "tokens": tuple(tokens),
            "max_body_bytes": _int(env, "HOLOLOOM_API_MAX_BODY_BYTES", cls.max_body_bytes),
            "max_texts": _int(env, "HOLOLOOM_API_MAX_TEXTS", cls.max_texts),
            "max_query_chars": _int(env, "HOLOLOOM_API_MAX_QUERY_CHARS", cls.max_query_chars),
            "rate_limit": env.get("HOLOLOOM_API_RATE_LIMIT") or cls.rate_limit,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port must be in 0..65535, got {self.port}")
        for name in ("max_body_bytes", "max_texts", "max_query_chars"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")
        labels = [g.label for g in self.tokens]
        if len(set(labels)) != len(labels):
            raise ConfigurationError("the same API token is configured twice")

    @property
    def auth_enabled(self) -> bool:
        return bool(self.tokens)

    def check_bind(self) -> None:
        """Refuse to serve an unauthenticated API on anything but loopback."""
        if not self.auth_enabled and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to listen on {self.host} without API tokens: set HOLOLOOM_API_TOKENS "
                "(or HOLOLOOM_API_TOKENS_FILE), or bind 127.0.0.1"
            )
