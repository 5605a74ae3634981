"""``hololoom serve`` (the HTTP API) and ``hololoom mcp`` (MCP over stdio)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..errors import HoloLoomError

__all__ = ["register"]

EXIT_USAGE = 2
err_console = Console(stderr=True)


def serve(
    host: Optional[str] = typer.Option(None, help="Interface to bind (HOLOLOOM_API_HOST; default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (HOLOLOOM_API_PORT; default 8000)."),
    home: Optional[Path] = typer.Option(None, "--home", envvar="HOLOLOOM_HOME", help="Data directory."),
    backend: Optional[str] = typer.Option(None, help="embedded, neo4j, qdrant or hybrid (HOLOLOOM_BACKEND)."),
    no_mcp: bool = typer.Option(False, "--no-mcp", help="Do not serve the MCP tools at /mcp."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (and MCP at /mcp). Tokens: HOLOLOOM_API_TOKENS or HOLOLOOM_API_TOKENS_FILE."""
    try:
        from ..config import Settings
        from ..loom import HoloLoom
        from .run import serve as run_server
        from .settings import ServerSettings

        loom_settings = Settings.from_env(home=home, backend=backend)
        run_server(ServerSettings.from_env(host=host, port=port), log_level=log_level,
                   loom_factory=lambda: HoloLoom(settings=loom_settings), mcp=not no_mcp)
    except ImportError as exc:  # MissingDependencyError is one too
        err_console.print(f"error: the API needs the 'server' extra: pip install 'HoloLoom[server]' ({exc})",
                          markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except HoloLoomError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def mcp(
    home: Optional[Path] = typer.Option(None, "--home", envvar="HOLOLOOM_HOME", help="Data directory."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", help="Default namespace of the tools."),
) -> None:
    """Serve the MCP tools (remember, recall, ask, forget, feedback) over stdio."""
    try:
        from ..mcp_server import run_stdio

        run_stdio(home=home, namespace=namespace)
    except ImportError as exc:
        err_console.print(f"error: MCP needs the 'server' extra: pip install 'HoloLoom[server]' ({exc})",
                          markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except HoloLoomError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``mcp`` to the ``hololoom`` command."""
    app.command()(serve)
    app.command("mcp")(mcp)
