"""The ``hololoom`` command: a thin face over the library.

Every command validates its input and exits with a clear message and a non-zero code
on a HoloLoomError; tracebacks are kept for real bugs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, Optional, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .config import BACKENDS, Settings
from .errors import HoloLoomError
from .bench.quality import DEFAULT_DATA
from .rendering import safe_text
from .types import Document
from .validation import Instant, Level, Limit, Namespace, Query, Reward, ShardIds, SpacetimeId, ToolName, check

T = TypeVar("T")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="HoloLoom: long-term memory and multi-hop retrieval.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: quality, latency, scale, backends, routing.")
app.add_typer(bench_app, name="bench")
console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2


def _fail(exc: HoloLoomError | str) -> NoReturn:
    """Print a refusal (inertly: it may quote the input) and exit with the usage code."""
    err_console.print(Text("error: ", style="bold red") + safe_text(str(exc)), soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _checked(**arguments: tuple[object, Any]) -> None:
    """Validate command arguments with the library's own rules before anything is loaded or opened."""
    try:
        for name, (value, kind) in arguments.items():
            if value is not None:
                check(name, value, kind)
    except HoloLoomError as exc:
        _fail(exc)


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(coro_factory())
    except HoloLoomError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


def _loom(home: Optional[Path], namespace: Optional[str], backend: Optional[str] = None):
    from .loom import HoloLoom

    settings = Settings.from_env(home=home, namespace=namespace, backend=backend)
    return HoloLoom(settings=settings)


HomeOpt = typer.Option(None, "--home", envvar="HOLOLOOM_HOME", help="Data directory.")
NamespaceOpt = typer.Option(None, "--namespace", "-n", help="Namespace (tenant); default from HOLOLOOM_NAMESPACE.")


@asynccontextmanager
async def _opened(home: Optional[Path], namespace: Optional[str], *, load_model: bool = True) -> AsyncIterator[Any]:
    """An open HoloLoom; ``load_model=False`` for commands that never embed (no torch import)."""
    loom = _loom(home, namespace)
    try:
        await loom.open(load_model=load_model)
        yield loom
    finally:
        await loom.close()


def _occurred_at(value: Optional[str]) -> Optional[float]:
    """``--occurred-at``: an ISO date/datetime, or a phrase like "yesterday" or "last Friday"."""
    if value is None:
        return None
    from .notes import parse_date
    from .timephrases import query_window

    try:
        return parse_date(value)
    except HoloLoomError:
        phrase = query_window(value, now=time.time())
        if phrase is None or phrase.text.strip().lower() != value.strip().lower():
            _fail(f"--occurred-at {value!r} is not a date (use 2026-03-04, 2026-03-04T09:30 or a phrase like 'yesterday')")
        return phrase.anchor.timestamp()


def _read_inputs(paths: list[Path], text: Optional[list[str]], occurred_at: Optional[float]) -> tuple[list[Document], Any]:
    from .notes import find_note_files, read_note_file

    docs = [Document(text=t, occurred_at=occurred_at) for t in text or []]
    found = find_note_files(paths)
    for path in found.files:
        docs.extend(read_note_file(path, occurred_at=occurred_at))
    if not docs:
        if found.skipped:
            _fail(f"no .md, .txt or .jsonl files among the {found.skipped} file(s) given")
        _fail("give FILE or FOLDER arguments, or --text")
    return docs, found


@app.command()
def add(
    paths: list[Path] = typer.Argument(None, help="Files or folders (recursive): .md, .txt, and .jsonl with one {\"text\", ...} per line."),
    text: Optional[list[str]] = typer.Option(None, "--text", "-t", help="Text to remember (repeatable)."),
    occurred_at: Optional[str] = typer.Option(None, "--occurred-at", help="When it happened (ISO date or 'yesterday'), for notes that name no date."),
    home: Optional[Path] = HomeOpt,
    namespace: Optional[str] = NamespaceOpt,
    batch: int = typer.Option(64, min=1, max=100_000, help="Documents per embedding batch."),
) -> None:
    """Remember files, folders or texts; a note's front-matter or file-name date becomes its occurred_at."""
    _checked(namespace=(namespace, Namespace))
    try:
        docs, found = _read_inputs(paths or [], text, _occurred_at(occurred_at))
    except HoloLoomError as exc:
        _fail(exc)

    async def go() -> tuple[int, int, int]:
        added = unchanged = shards = 0
        async with _opened(home, namespace) as loom:
            # Every document is validated before the first batch is written: bad input writes nothing.
            checked = loom.ingestor.normalise(docs)
            with Progress(TextColumn("[bold]weaving memories"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err_console, transient=True) as progress:
                task = progress.add_task("add", total=len(docs))
                for start in range(0, len(checked), batch):
                    part = checked[start : start + batch]
                    result = await loom.add(part)
                    added += result.added
                    unchanged += result.unchanged
                    shards += len(result.ids)
                    progress.advance(task, len(part))
        return added, unchanged, shards

    added, unchanged, shards = _run(go)
    files = f" in {len(found.files)} file(s)" if found.files else ""
    console.print(f"added {added} new shard(s), {unchanged} already stored, {shards} in total from {len(docs)} document(s){files}")
    if found.skipped:
        examples = ", ".join(found.skipped_examples)
        console.print(safe_text(f"skipped {found.skipped} file(s) that are not .md, .txt or .jsonl (e.g. {examples})"))


@app.command()
def recall(
    query: str = typer.Argument(..., help="The question."),
    complexity: str = typer.Option("FAST", "--complexity", "-c", help="LITE, FAST, FULL or RESEARCH."),
    limit: int = typer.Option(5, "--limit", "-k"),
    home: Optional[Path] = HomeOpt,
    namespace: Optional[str] = NamespaceOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Retrieve the memories that answer a question (no tool, no weaving); ids are what `forget` takes."""
    _checked(query=(query, Query), complexity=(complexity, Level), limit=(limit, Limit), namespace=(namespace, Namespace))
    from .plaintext import plain_text

    async def go():
        async with _opened(home, namespace) as loom:
            return await loom.recall(query, complexity=complexity, limit=limit)

    hits = _run(go)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
        return
    # Stored text and the query are shown inertly: Text cells, never markup (HoloLoom.rendering).
    table = Table(title=Text("recall: ") + safe_text(query, keep_newlines=False, limit=200))
    for col in ("#", "id", "score", "pass", "paths", "memory"):
        table.add_column(col, no_wrap=col == "id", ratio=3 if col == "memory" else None)
    for i, h in enumerate(hits, start=1):
        label = (h.shard.title + ": " if h.shard.title else "") + plain_text(h.shard.text).replace("\n", " ")
        table.add_row(str(i), h.shard.id, f"{h.score:.3f}", str(h.found_in_pass),
                      safe_text(",".join(sorted({p.split(":", 1)[0].split("<-", 1)[0] for p in h.paths})), limit=40),
                      safe_text(label, limit=160))
    console.print(table)


@app.command()
def ask(
    query: str = typer.Argument(..., help="The question."),
    complexity: Optional[str] = typer.Option(None, "--complexity", "-c", help="Force LITE, FAST, FULL or RESEARCH."),
    tool: Optional[str] = typer.Option(None, "--tool", help="Force a tool: answer, search, summarize."),
    since: Optional[str] = typer.Option(None, help="Only memories from this date/time (ISO-8601)."),
    until: Optional[str] = typer.Option(None, help="Only memories up to this date/time (ISO-8601)."),
    home: Optional[Path] = HomeOpt,
    namespace: Optional[str] = NamespaceOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the Spacetime as JSON."),
    trace: bool = typer.Option(False, "--trace", help="Print the full provenance tree."),
    now: Optional[str] = typer.Option(None, "--now", help="Count 'last March', 'two weeks ago' from this ISO date/time."),
) -> None:
    """Weave an answer: the response, its sources and a compact trace."""
    _checked(query=(query, Query), complexity=(complexity, Level), tool=(tool, ToolName), since=(since, Instant),
             until=(until, Instant), namespace=(namespace, Namespace), now=(now, Instant))

    async def go():
        async with _loom(home, namespace) as loom:
            return await loom.weave(query, complexity=complexity, tool=tool, since=since, until=until, now=now)

    spacetime = _run(go)
    if as_json:
        print(spacetime.to_json(indent=2))
        return
    console.print(spacetime)
    if trace:
        from .weaving import render_trace_tree

        console.print(render_trace_tree(spacetime))
    console.print(f"[dim]feedback: hololoom feedback {spacetime.id} --useful | --not-useful | --reward 0.7[/]")


@app.command()
def feedback(
    spacetime_id: str = typer.Argument(..., help="The id printed by `hololoom ask`."),
    reward: Optional[float] = typer.Option(None, help="Reward in [0, 1]."),
    useful: Optional[bool] = typer.Option(None, "--useful/--not-useful", help="Thumbs up or down."),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Tell HoloLoom how good an answer was; it learns which tool to use."""
    _checked(spacetime_id=(spacetime_id, SpacetimeId), reward=(reward, Reward))

    async def go():
        async with _opened(home, None, load_model=False) as loom:
            return await loom.feedback(spacetime_id, reward, useful=useful)

    result = _run(go)
    post = result["tool_posterior"]
    console.print(safe_text(f"recorded reward {result['reward']:.2f} for tool {result['tool']} "
                            f"(posterior Beta({post['alpha']:.1f}, {post['beta']:.1f}))"))


@app.command()
def forget(
    ids: list[str] = typer.Argument(None, help="Shard ids to delete."),
    all_: bool = typer.Option(False, "--all", help="Delete the whole namespace."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation with --all."),
    home: Optional[Path] = HomeOpt,
    namespace: Optional[str] = NamespaceOpt,
) -> None:
    """Delete memories by id, or a whole namespace."""
    if not ids and not all_:
        raise typer.BadParameter("give shard ids, or --all")
    _checked(ids=(ids or None, ShardIds), namespace=(namespace, Namespace))
    if all_ and not yes and not typer.confirm("Delete every memory of the namespace?"):
        raise typer.Exit(1)

    async def go() -> int:
        async with _opened(home, namespace, load_model=False) as loom:
            return await (loom.forget_namespace() if all_ else loom.delete(ids))

    console.print(f"deleted {_run(go)} shard(s)")


@app.command()
def stats(home: Optional[Path] = HomeOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show what is stored and whether the backend is healthy."""

    async def go() -> dict[str, Any]:
        async with _opened(home, None, load_model=False) as loom:
            return await loom.stats()

    data = _run(go)
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    table = Table(title=safe_text(f"HoloLoom at {data['home']} ({data['backend']})"))
    table.add_column("namespace")
    table.add_column("shards", justify="right")
    for ns, n in data["namespaces"].items():
        table.add_row(safe_text(ns), str(n))
    console.print(table)
    console.print(safe_text(f"health: {'ok' if data['health'].get('ok') else 'FAILING'}  embedder: {data['embedder']}"))


@app.command()
def demo(
    home: Optional[Path] = HomeOpt,
    data: Optional[Path] = typer.Option(None, help="A corpus.jsonl/questions.jsonl directory to use instead of the built-in texts."),
) -> None:
    """Ingest a small corpus and answer multi-hop questions at every level."""
    from .demo import run_demo

    if data is not None and not all((data / name).is_file() for name in ("corpus.jsonl", "questions.jsonl")):
        raise typer.BadParameter("needs a directory with corpus.jsonl and questions.jsonl", param_hint="--data")

    _run(lambda: run_demo(home=home, data=data, console=console))


@bench_app.command("quality")
def bench_quality(
    data: Path = typer.Option(Path(DEFAULT_DATA), help="Directory with corpus.jsonl and questions.jsonl."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
    backend: str = typer.Option("embedded", help="embedded, neo4j, qdrant or hybrid."),
    through_weave: bool = typer.Option(False, "--through-weave", help="Rank the levels with weave(tool='search')."),
    feedback: str = typer.Option("none", "--feedback", help="gold: feedback on half the questions, score the other half."),
    vector_search: str = typer.Option("auto", "--vector-search",
                                      help="auto, exact, or ann (force the embedded store's HNSW path at any size)."),
) -> None:
    """Recall@k of dense, BM25, the crawler at every level and the default weave, on real data."""
    from .bench.quality import FEEDBACK_MODES, run_and_report

    if feedback not in FEEDBACK_MODES:
        raise typer.BadParameter(f"use one of {', '.join(FEEDBACK_MODES)}", param_hint="--feedback")
    if backend not in BACKENDS:
        raise typer.BadParameter(f"use one of {', '.join(BACKENDS)}", param_hint="--backend")
    if not (data / "corpus.jsonl").is_file():
        raise typer.BadParameter("no corpus.jsonl in this directory", param_hint="--data")
    if vector_search not in ("auto", "exact", "ann"):
        raise typer.BadParameter("use auto, exact or ann", param_hint="--vector-search")
    run_and_report(data, backend=backend, json_path=json_path, through_weave=through_weave, feedback=feedback,
                   vector_search=vector_search)


@bench_app.command("answers")
def bench_answers(
    data: Path = typer.Option(Path("benchmarks/data/answers"), help="Directory with notes/, questions.jsonl and meta.json."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
) -> None:
    """Answer and citation accuracy, not-found precision/recall and calibration through `hololoom ask`."""
    from .bench.answers import run_and_report

    try:
        run_and_report(data, json_path=json_path)
    except HoloLoomError as exc:
        _fail(str(exc))


@bench_app.command("cli")
def bench_cli(
    memories: int = typer.Option(10_000, "--memories", "-n", min=1, max=10_000_000, help="How many memories the store holds."),
    repeats: int = typer.Option(5, min=1, max=1_000, help="Runs per command."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
) -> None:
    """Wall time of stats, forget, feedback and --help as subprocesses, against `python -c pass`."""
    from .bench.cli_speed import run_and_report

    if memories <= 0 or repeats <= 0:
        _fail("--memories and --repeats must be positive")
    run_and_report(memories, json_path=json_path, repeats=repeats)


@bench_app.command("latency")
def bench_latency(
    memories: int = typer.Option(10_000, "--memories", "-n", min=1, max=10_000_000, help="How many memories to build the store with."),
    repeats: int = typer.Option(3, min=1, max=1_000, help="Rounds of the query mix per level."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
    cached_vectors: bool = typer.Option(False, "--cached-vectors", help="Ingest with the corpus's cached vectors "
                                        "(weave timings only: the ingest rate is then not an encoding rate)."),
) -> None:
    """Weave p50/p95 per level against one query's embedding time, and ingest throughput."""
    from .bench.latency import run_and_report

    if memories <= 0:
        raise typer.BadParameter("--memories must be positive")
    run_and_report(memories, json_path=json_path, repeats=repeats, cached_vectors=cached_vectors)


@bench_app.command("scale")
def bench_scale(
    memories: str = typer.Option("10000,100000", "--memories", "-n",
                                 help="Comma-separated sizes, e.g. 10000,100000,1000000."),
    backend: Optional[list[str]] = typer.Option(None, "--backend", "-b",
                                                help="embedded (default), qdrant-server, qdrant-cluster; repeatable."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write PLOT.html and PLOT.png (plotly)."),
    repeats: int = typer.Option(3, min=1, max=1_000, help="Rounds of the query mix per level."),
) -> None:
    """Ingest rate, weave p50/p95, ANN recall@10, RSS, reopen time and disk size at each size.

    The corpus's MiniLM vectors are encoded once and cached under $HOLOLOOM_BENCH_CACHE
    (default ~/.cache/hololoom/bench), in chunks of 50,000: the first 1M run spends about an
    hour encoding on two cores; later runs, and smaller sizes (prefixes), read the cache.
    """
    from .bench.scale import BACKENDS, run_and_report

    try:
        sizes = [int(s.replace("_", "")) for s in memories.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter("use comma-separated integers, e.g. 10000,100000", param_hint="--memories") from None
    if not sizes or min(sizes) <= 0 or max(sizes) > 10_000_000:
        raise typer.BadParameter("sizes must be between 1 and 10,000,000", param_hint="--memories")
    chosen = backend or ["embedded"]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown:
        raise typer.BadParameter(f"use one of {', '.join(BACKENDS)}", param_hint="--backend")
    run_and_report(sizes, backends=chosen, json_path=json_path, plot_path=plot, repeats=repeats)


@bench_app.command("routing")
def bench_routing(
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
    data: Path = typer.Option(Path(DEFAULT_DATA), help="HotpotQA-format directory for the real-data part."),
    rounds: int = typer.Option(5, min=1, max=1_000, help="Shuffled rounds over the questions."),
    no_hotpotqa: bool = typer.Option(False, "--no-hotpotqa", help="Only the simulation and the overhead."),
) -> None:
    """Learned routing: simulation with and without feedback, HotpotQA vs fixed arms, query types, overhead."""
    from .bench.routing import run_and_report

    if not no_hotpotqa and not (data / "corpus.jsonl").is_file():
        raise typer.BadParameter("no corpus.jsonl in this directory (or give --no-hotpotqa)", param_hint="--data")
    run_and_report(json_path, data, rounds=rounds, skip_hotpotqa=no_hotpotqa)


@bench_app.command("backends")
def bench_backends(
    memories: int = typer.Option(10_000, "--memories", "-n", min=1, max=10_000_000, help="Shards per backend."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results here."),
    backend: Optional[list[str]] = typer.Option(None, "--backend", "-b", help="Only these (repeatable)."),
) -> None:
    """Add throughput, search and neighbour latency on every backend."""
    from .bench.backends import BACKENDS as BENCHED, run_and_report

    unknown = sorted(set(backend or ()) - set(BENCHED))
    if unknown:
        raise typer.BadParameter(f"use one of {', '.join(BENCHED)}", param_hint="--backend")
    run_and_report(memories, json_path=json_path, backends=backend or BENCHED)


@app.command()
def tui(
    home: Optional[Path] = HomeOpt,
    namespace: Optional[str] = NamespaceOpt,
    complexity: Optional[str] = typer.Option(None, "--complexity", "-c", help="Start at this level."),
    metrics_port: Optional[int] = typer.Option(None, min=0, max=65535, help="Also serve Prometheus /metrics on this port."),
) -> None:
    """The interactive terminal UI: live stages, history, stats, trace, +/- feedback."""
    _checked(complexity=(complexity, Level), namespace=(namespace, Namespace))
    from .terminal_ui import main as tui_main

    argv = []
    for flag, value in (("--home", home), ("--namespace", namespace), ("--complexity", complexity),
                        ("--metrics-port", metrics_port)):
        if value is not None:
            argv += [flag, str(value)]
    tui_main(argv)


@app.command()
def metrics(
    port: int = typer.Option(9464, min=0, max=65535, help="Port of the /metrics endpoint."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (keep it local unless you mean it)."),
    home: Optional[Path] = HomeOpt,
) -> None:
    """Serve Prometheus metrics for this home: weaves of every process (from the weave log), store gauges."""
    from .telemetry import run_metrics_server

    async def go() -> None:
        async with _loom(home, None) as loom:
            await run_metrics_server(
                loom, port=port, host=host,
                ready=lambda server: console.print(f"serving /metrics on http://{host}:{server.port}/metrics"),
            )

    _run(go)


@app.command()
def dashboard(
    port: int = typer.Option(8050, min=0, max=65535, help="Port of the dashboard."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    home: Optional[Path] = HomeOpt,
    refresh_ms: int = typer.Option(2000, "--refresh-ms", min=200, help="How often the page re-reads the logs."),
) -> None:
    """The Dash dashboard over what HoloLoom processes record under HOLOLOOM_HOME."""
    try:
        from .dashboard import start_dashboard

        start_dashboard(port=port, host=host, home=home, refresh_ms=refresh_ms)
    except ImportError as exc:  # MissingDependencyError is one too
        _fail(f"the dashboard needs the 'dashboard' extra: pip install 'HoloLoom[dashboard]' ({exc})")
    except HoloLoomError as exc:
        _fail(exc)


from .server.commands import register as _register_server_commands  # noqa: E402  (serve, mcp, bench http)

_register_server_commands(app, bench_app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
