"""Bearer-token authentication and per-namespace authorisation.

A request names the namespace it works in; the token must grant it, or the request is
refused with 403 before anything is read or written. Without configured tokens the
server only ever listens on loopback (see ``ServerSettings.check_bind``) and every local
caller may use every namespace.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .errors import ApiError
from .settings import ALL_NAMESPACES, ServerSettings, TokenGrant

__all__ = ["Principal", "TokenTable", "LOCAL_PRINCIPAL"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a log-safe label and the namespaces they may touch."""

    label: str
    namespaces: frozenset[str]
    default_namespace: str

    def namespace(self, requested: str | None) -> str:
        """The namespace this call works in; 403 if the token does not grant it."""
        namespace = requested if requested is not None else self.default_namespace
        if ALL_NAMESPACES not in self.namespaces and namespace not in self.namespaces:
            raise ApiError(403, "Forbidden", f"this token may not use namespace {namespace!r}")
        return namespace

    def visible(self, namespaces: list[str]) -> list[str]:
        """Of ``namespaces``, the ones this caller may see."""
        if ALL_NAMESPACES in self.namespaces:
            return namespaces
        return [ns for ns in namespaces if ns in self.namespaces]


LOCAL_PRINCIPAL = Principal("local", frozenset({ALL_NAMESPACES}), "default")


class TokenTable:
    """Looks a presented bearer token up by its SHA-256 digest, in constant time per entry."""

    def __init__(self, settings: ServerSettings, *, default_namespace: str) -> None:
        self.enabled = settings.auth_enabled
        self._default = default_namespace
        self._grants: list[tuple[bytes, TokenGrant]] = [
            (self._digest(g.secret.get_secret_value()), g) for g in settings.tokens
        ]

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def principal_for(self, authorization: str | None) -> Principal:
        """The caller behind an ``Authorization`` header value; 401 when there is none or it is unknown."""
        if not self.enabled:
            return Principal(LOCAL_PRINCIPAL.label, LOCAL_PRINCIPAL.namespaces, self._default)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Unauthorized", "send 'Authorization: Bearer <token>'",
                           headers={"WWW-Authenticate": "Bearer"})
        digest = self._digest(token.strip())
        found: TokenGrant | None = None
        for known, grant in self._grants:  # compare every entry: the time does not tell which matched
            if hmac.compare_digest(known, digest):
                found = grant
        if found is None:
            raise ApiError(401, "Unauthorized", "unknown token", headers={"WWW-Authenticate": "Bearer"})
        single = sorted(found.namespaces)[0] if len(found.namespaces) == 1 and not found.all_namespaces else self._default
        return Principal(found.label, found.namespaces, single)
