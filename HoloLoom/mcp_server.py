"""HoloLoom as an MCP server: tools ``remember``, ``recall``, ``ask``, ``forget`` and ``feedback``.

Built on the official ``mcp`` SDK's ``MCPServer``. Two ways to reach it:

- ``hololoom mcp``: stdio, for an agent that launches HoloLoom as a subprocess. The process
  is the caller's own, so every namespace is open to it (as with the CLI).
- ``/mcp`` on the HTTP API (``hololoom serve``): streamable HTTP behind the API's bearer
  tokens; a tool call for a namespace the token does not grant fails and touches nothing.

Every tool takes a ``namespace`` (default: the token's only namespace, or the configured
default), so one agent's memories never answer another's questions.
"""

# No ``from __future__ import annotations``: the SDK reads the tools' signatures, and their
# annotations must be objects it can resolve (``Context`` is a local name below).
from collections.abc import Callable
from typing import Any, Literal, Optional

from .errors import HoloLoomError, MissingDependencyError

__all__ = ["build_mcp_server", "run_stdio"]

INSTRUCTIONS = (
    "HoloLoom is a long-term memory. Use `remember` to store facts, `recall` to fetch the memories "
    "that answer a question, `ask` to get an extractive answer with citations, `feedback` to say "
    "whether an answer helped, and `forget` to delete memories. Pass the same `namespace` to keep "
    "one user's or project's memories apart from another's."
)

PRINCIPAL_SCOPE_KEY = "hololoom.principal"


def _sdk() -> Any:
    try:
        from mcp.server.mcpserver import Context, MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError as exc:
        raise MissingDependencyError("the MCP server", "server") from exc
    return Context, MCPServer, ToolError


def _namespace_for(ctx: Any, requested: Optional[str], default_namespace: str) -> str:
    """The namespace a tool call works in: the HTTP caller's grant, or any for stdio."""
    from .server.auth import LOCAL_PRINCIPAL, Principal
    from .server.errors import ApiError

    _, _, ToolError = _sdk()
    request = getattr(ctx.request_context, "request", None)
    scope = getattr(request, "scope", None) or {}
    who: Principal | None = scope.get(PRINCIPAL_SCOPE_KEY)
    if who is None:
        if request is not None:  # over HTTP without the API's gate: refuse rather than guess
            raise ToolError("this MCP endpoint is not behind HoloLoom's authentication")
        who = Principal(LOCAL_PRINCIPAL.label, LOCAL_PRINCIPAL.namespaces, default_namespace)
    try:
        return who.namespace(requested)
    except ApiError as exc:
        raise ToolError(exc.message) from None


async def _guarded(call: Any) -> Any:
    """Await a facade call; a HoloLoomError becomes a tool error with a clear message, no traceback."""
    try:
        return await call
    except HoloLoomError as exc:
        raise _sdk()[2](f"{type(exc).__name__}: {exc}") from None


def build_mcp_server(get_loom: Callable[[], Any]) -> Any:
    """An ``MCPServer`` whose tools act on the loom ``get_loom()`` returns.

    Args:
        get_loom: returns the process's one open ``HoloLoom`` (the caller opens and closes it).
    """
    Context, MCPServer, ToolError = _sdk()
    server = MCPServer("HoloLoom", instructions=INSTRUCTIONS)

    def namespace_for(ctx: Any, requested: Optional[str]) -> str:
        return _namespace_for(ctx, requested, get_loom().settings.namespace)

    guarded = _guarded

    @server.tool()
    async def remember(text: str, ctx: Context, namespace: Optional[str] = None, title: Optional[str] = None,
                       metadata: Optional[dict[str, Any]] = None, occurred_at: Optional[str] = None) -> dict[str, Any]:
        """Store a memory (long text is chunked). Adding the same text twice stores it once."""
        ns = namespace_for(ctx, namespace)
        result = await guarded(get_loom().add(text, namespace=ns, title=title, metadata=metadata, occurred_at=occurred_at))
        return {"namespace": ns, "ids": result.ids, "added": result.added, "unchanged": result.unchanged}

    @server.tool()
    async def recall(query: str, ctx: Context, namespace: Optional[str] = None,
                     complexity: Literal["LITE", "FAST", "FULL", "RESEARCH"] = "FAST", limit: int = 5) -> dict[str, Any]:
        """The memories that best answer a question, with score and how each was found."""
        ns = namespace_for(ctx, namespace)
        hits = await guarded(get_loom().recall(query, namespace=ns, complexity=complexity, limit=limit))
        return {"namespace": ns, "memories": [
            {"id": h.shard.id, "text": h.shard.text, "score": round(h.score, 4), "found_in_pass": h.found_in_pass,
             "paths": list(h.paths), "metadata": dict(h.shard.metadata)} for h in hits]}

    @server.tool()
    async def ask(question: str, ctx: Context, namespace: Optional[str] = None,
                  complexity: Optional[Literal["LITE", "FAST", "FULL", "RESEARCH"]] = None) -> dict[str, Any]:
        """Answer a question from memory (the full weave): the answer, its confidence and cited memories.

        The returned ``spacetime_id`` is what ``feedback`` takes.
        """
        ns = namespace_for(ctx, namespace)
        st = await guarded(get_loom().weave(question, namespace=ns, complexity=complexity))
        return {"spacetime_id": st.id, "namespace": ns, "answer": st.response, "confidence": st.confidence,
                "tool": st.tool, "complexity": st.complexity.value, "citations": list(st.citations),
                "context": [{"id": c.shard.id, "text": c.shard.text, "score": round(c.score, 4)} for c in st.context],
                "warnings": list(st.warnings)}

    @server.tool()
    async def forget(ctx: Context, ids: Optional[list[str]] = None, namespace: Optional[str] = None,
                     everything: bool = False) -> dict[str, Any]:
        """Delete memories by id, or every memory of the namespace with ``everything=true``."""
        ns = namespace_for(ctx, namespace)
        if everything == bool(ids):
            raise ToolError("give either ids or everything=true")
        loom = get_loom()
        deleted = await guarded(loom.forget_namespace(ns) if everything else loom.delete(ids, namespace=ns))
        return {"namespace": ns, "deleted": deleted}

    @server.tool()
    async def feedback(spacetime_id: str, ctx: Context, namespace: Optional[str] = None,
                       useful: Optional[bool] = None, reward: Optional[float] = None) -> dict[str, Any]:
        """Say how good an ``ask`` answer was: ``useful`` true/false, or ``reward`` in [0, 1]."""
        ns = namespace_for(ctx, namespace)
        result = await guarded(get_loom().feedback(spacetime_id, reward, useful=useful, namespace=ns))
        return {"id": result["id"], "tool": result["tool"], "reward": result["reward"]}

    return server


def run_stdio(*, home: Any = None, namespace: Optional[str] = None) -> None:
    """Serve MCP over stdin/stdout with one ``HoloLoom`` opened from the environment.

    The loom is opened before the protocol starts, so a bad ``home``, ``namespace`` or
    backend is a clear ``HoloLoomError`` (exit 2 from the CLI) rather than a failed session.
    """
    import asyncio

    from .config import Settings
    from .loom import HoloLoom

    async def serve() -> None:
        async with HoloLoom(settings=Settings.from_env(home=home, namespace=namespace)) as loom:
            await build_mcp_server(lambda: loom).run_stdio_async()

    asyncio.run(serve())
