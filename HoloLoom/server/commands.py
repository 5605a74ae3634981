"""``hololoom serve`` (the HTTP API), ``hololoom mcp`` (MCP over stdio) and the deployment
benchmarks ``hololoom bench http`` and ``hololoom bench sizing``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..errors import HoloLoomError

__all__ = ["register"]

EXIT_USAGE = 2
err_console = Console(stderr=True)


@contextmanager
def _clear_errors(feature: str) -> Iterator[None]:
    """A message and exit code 2 for a missing extra or a HoloLoomError, never a traceback."""
    try:
        yield
    except ImportError as exc:  # MissingDependencyError is one too
        err_console.print(f"error: {feature} needs the 'server' extra: pip install 'HoloLoom[server]' ({exc})",
                          markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except HoloLoomError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def serve(
    host: Optional[str] = typer.Option(None, help="Interface to bind (HOLOLOOM_API_HOST; default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, min=0, max=65535, help="Port (HOLOLOOM_API_PORT; default 8000)."),
    home: Optional[Path] = typer.Option(None, "--home", envvar="HOLOLOOM_HOME", help="Data directory."),
    backend: Optional[str] = typer.Option(None, help="embedded, neo4j, qdrant or hybrid (HOLOLOOM_BACKEND)."),
    no_mcp: bool = typer.Option(False, "--no-mcp", help="Do not serve the MCP tools at /mcp."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (and MCP at /mcp). Tokens: HOLOLOOM_API_TOKENS or HOLOLOOM_API_TOKENS_FILE."""
    with _clear_errors("the API"):
        from ..config import Settings
        from ..loom import HoloLoom
        from .run import serve as run_server
        from .settings import ServerSettings

        loom_settings = Settings.from_env(home=home, backend=backend)
        run_server(ServerSettings.from_env(host=host, port=port), log_level=log_level,
                   loom_factory=lambda: HoloLoom(settings=loom_settings), mcp=not no_mcp)


def mcp(
    home: Optional[Path] = typer.Option(None, "--home", envvar="HOLOLOOM_HOME", help="Data directory."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", help="Default namespace of the tools."),
) -> None:
    """Serve the MCP tools (remember, recall, ask, forget, feedback) over stdio."""
    with _clear_errors("MCP"):
        from ..mcp_server import run_stdio

        run_stdio(home=home, namespace=namespace)


def bench_http(
    memories: int = typer.Option(10_000, "--memories", "-n", min=1, max=10_000_000, help="Memories in the store."),
    clients: int = typer.Option(200, "--clients", "-c", min=1, max=10_000, help="Concurrent clients on each side."),
    duration: float = typer.Option(60.0, "--duration", min=0.1, max=3600, help="Seconds of load on each side."),
    rounds: int = typer.Option(4, "--rounds", min=1, max=100, help="Alternating rounds the duration is split into."),
    home: Optional[Path] = typer.Option(None, "--home", help="Keep the filled store here and reuse it."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
) -> None:
    """/v1/weave over HTTP (hey) against in-process weave(): p50/p99, requests/s and their ratio."""
    if not math.isfinite(duration):
        raise typer.BadParameter("--duration must be a number of seconds")
    with _clear_errors("the HTTP benchmark"):
        from ..bench.http_load import run_and_report

        run_and_report(memories=memories, clients=clients, duration=duration, rounds=rounds, json_path=json_path,
                       home=home)


def bench_sizing(
    memories: int = typer.Option(100_000, "--memories", "-n", min=10, max=10_000_000,
                                 help="Memories to add (checkpoints at 10%, 50%, 100%)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
) -> None:
    """Resident memory and disk per 100k memories on the configured backend (PRODUCTION_DEPLOYMENT.md sizing)."""
    from ..bench.sizing import run_and_report

    run_and_report(memories, json_path=json_path)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``serve``, ``mcp`` and ``bench http`` to the ``hololoom`` command."""
    app.command()(serve)
    app.command("mcp")(mcp)
    bench_app.command("http")(bench_http)
    bench_app.command("sizing")(bench_sizing)
