"""Secrets stay secret: a masked type for them, URIs shown without their userinfo.

Passwords and API keys are held as pydantic ``SecretStr`` (its ``repr``/``str`` print
``**********``; the value is read only where a driver needs it, with
``get_secret_value()``). A URI may carry credentials too (``bolt://neo4j:PW@host``):
:func:`redact_uri` drops the ``user:password@`` part before a URI reaches an error, a
log line, ``stats``, a trace or a metric label, and :func:`scrub` removes every known
secret (and any URI userinfo) from text that came from a driver.
"""

from __future__ import annotations

import re

from pydantic import SecretStr

__all__ = ["SecretStr", "as_secret", "redact_uri", "reveal", "scrub", "uri_secrets"]

# scheme://userinfo@  (userinfo: anything up to the last '@' before the host part ends)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*@)")
MASK = "***"


def as_secret(value: object) -> SecretStr | None:
    """``value`` as a SecretStr (None and empty stay None); a SecretStr is returned as is."""
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value if value.get_secret_value() else None
    if not isinstance(value, str):
        raise TypeError(f"a secret must be a string, not {type(value).__name__}")
    return SecretStr(value) if value else None


def reveal(secret: SecretStr | str | None) -> str | None:
    """The plain value, for the one place that hands it to a driver."""
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return secret


def redact_uri(uri: str | None) -> str | None:
    """``uri`` without its ``user:password@`` part (``bolt://neo4j:pw@db:7687`` -> ``bolt://db:7687``).

    Works on malformed URIs too (a bad port, stray characters): it is a textual cut, not a
    parse that could fail and fall back to printing the original.
    """
    if uri is None:
        return None
    return _USERINFO.sub(lambda m: m.group("scheme"), uri)


def scrub(text: str, *secrets: SecretStr | str | None) -> str:
    """``text`` with every given secret's value replaced by ``***`` and every URI's userinfo removed."""
    for secret in secrets:
        value = reveal(secret)
        if value:
            text = text.replace(value, MASK)
    return _USERINFO.sub(lambda m: m.group("scheme"), text)


def uri_secrets(uri: str | None) -> tuple[str, ...]:
    """The credentials inside ``uri`` (its userinfo, and the password part of it), for :func:`scrub`."""
    found = _USERINFO.search(uri or "")
    if not found:
        return ()
    userinfo = found.group("userinfo")[:-1]
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    return tuple(s for s in (userinfo, password) if len(s) >= 3)  # a 1-2 character "secret" would mask half the text
