"""HoloLoom's HTTP API (FastAPI + uvicorn; the ``server`` extra).

``create_app()`` builds the ASGI app, ``serve()`` runs it; ``hololoom serve`` and
``hololoom mcp`` are registered on the CLI from :mod:`.commands`. Imports are lazy so the
CLI starts without loading FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerSettings", "TokenGrant", "create_app", "serve"]

_EXPORTS = {"create_app": "app", "serve": "run", "ServerSettings": "settings", "TokenGrant": "settings"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'HoloLoom.server' has no attribute {name!r}")
