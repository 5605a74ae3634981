"""A Rich terminal UI: watch a weave's nine stages happen, then read its Spacetime.

    ui = TerminalUI(loom)
    spacetime = await ui.weave_with_display("Who directed the film shot in Leland?")
    await ui.run_session()          # the interactive session behind `hololoom tui`

The stage table is driven by the loom's event stream: a row turns "running" when its
stage's start event arrives and "done" with its measured time when the end event
arrives, while the weave is still going; Rich's live display redraws it a few times a
second (and once at the end). Nothing is animated after the fact.

Session commands: a question weaves it; ``+`` / ``-`` rate the last answer (sent to
``loom.feedback``); ``level`` shows the complexity menu (``level 3``, ``:level FULL``,
``level auto``); ``history``, ``stats``, ``trace [n]``, ``clear``, ``help``, ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Union

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .errors import HoloLoomError
from .rendering import safe_text
from .types import Complexity

if TYPE_CHECKING:
    from .loom import HoloLoom
from .weaving import (
    STAGE_ORDER, LoomEvent, Spacetime, Stage, StageEnded, StageStarted, WeaveEnded, WeaveStarted, render_trace_tree,
)

__all__ = ["StageBoard", "TerminalUI"]

InputFn = Callable[[str], Union[str, None, Awaitable[Union[str, None]]]]

_STATUS_STYLE = {"waiting": "dim", "running": "bold yellow", "done": "green", "skipped": "yellow", "failed": "bold red"}

HELP = [
    ("<question>", "weave an answer, showing the nine stages live"),
    ("+ / -", "the last answer was useful / not useful (teaches the tool and route choosers)"),
    ("level", "the complexity menu; 'level 3', ':level FULL' or 'level auto' to choose"),
    ("history", "the questions of this session"),
    ("stats", "count, latency p50/p95, mean confidence, complexity and tool split"),
    ("trace [n]", "the provenance trace of the last (or n-th) answer, as a tree"),
    ("clear", "clear the screen"),
    ("help", "this list"),
    ("quit", "leave (also: exit, q, Ctrl-D)"),
]


class StageBoard:
    """The nine stages of one weave and how far each has got; renders itself as a table.

    Feed it the weave's events with :meth:`apply` as they arrive.
    """

    def __init__(self, query: str) -> None:
        self.query = query
        self.weave_id: str | None = None
        self.status: dict[Stage, str] = {s: "waiting" for s in STAGE_ORDER}
        self.duration_ms: dict[Stage, float] = {}
        self.detail: dict[Stage, str] = {}
        self.total_ms: float | None = None
        self.failed: str | None = None

    def apply(self, event: LoomEvent) -> None:
        if isinstance(event, StageStarted):
            self.status[event.stage] = "running"
        elif isinstance(event, StageEnded):
            stage = event.stage
            self.duration_ms[stage] = event.duration_ms
            if event.error:
                self.status[stage] = "failed"
                self.detail[stage] = event.error
                self.failed = event.error
            else:
                self.status[stage] = "skipped" if event.skipped else "done"
                self.detail[stage] = _detail(stage, event.data)
        elif isinstance(event, WeaveEnded):
            self.total_ms = event.duration_ms

    @property
    def finished(self) -> bool:
        return self.total_ms is not None or self.failed is not None

    def __rich__(self) -> Table:
        done = sum(1 for s in self.status.values() if s in ("done", "skipped"))
        title = Text("Weaving: ", style="bold") + safe_text(self.query, "bold", keep_newlines=False, limit=70)
        caption = (f"{done}/9 stages, {self.total_ms:.1f} ms" if self.total_ms is not None
                   else f"failed: {self.failed}" if self.failed else f"{done}/9 stages")
        table = Table(title=title, caption=safe_text(caption), expand=False, title_justify="left", caption_justify="left")
        table.add_column("#", justify="right", style="dim")
        table.add_column("stage", style="bold")
        table.add_column("", style="dim")
        table.add_column("status")
        table.add_column("ms", justify="right")
        table.add_column("what it did", overflow="fold", max_width=60)
        for stage in STAGE_ORDER:
            status = self.status[stage]
            ms = f"{self.duration_ms[stage]:.1f}" if stage in self.duration_ms else ""
            table.add_row(str(stage.number), stage.loom_name, stage.value, Text(status, style=_STATUS_STYLE[status]),
                          ms, safe_text(self.detail.get(stage, "")))
        return table


def _detail(stage: Stage, data: Mapping[str, Any]) -> str:
    """One line saying what a finished stage decided or found."""
    if stage is Stage.PATTERN:
        how = "detected" if data.get("detected") else "chosen"
        return f"{data.get('complexity')} ({how}), {data.get('passes')} passes, budget {data.get('budget_ms', 0):.0f} ms"
    if stage is Stage.TEMPORAL:
        return f"window from the query: {data.get('phrase')!r}" if data.get("source") == "query" else (
            "window from options" if data.get("source") == "options" else "all dates")
    if stage is Stage.ROUTE:
        return f"{data.get('backend')} / {data.get('strategy')} (arm {data.get('arm')})"
    if stage is Stage.CRAWL:
        passes = data.get("passes") or []
        return f"found {data.get('found')} in {len(passes)} pass{'es' if len(passes) != 1 else ''}" + (
            ", stopped early" if data.get("stopped_early") else "")
    if stage is Stage.FUSE:
        return "skipped (budget spent)" if data.get("skipped") else ", ".join(f"{k}={v}" for k, v in list(data.items())[:3])
    if stage is Stage.CONVERGE:
        return f"tool {data.get('tool')}" + (" (forced)" if data.get("forced") else "")
    if stage is Stage.EXECUTE:
        if data.get("failed"):
            return f"tool {data.get('tool')} failed: {data.get('error')}"
        return f"{data.get('tool')}: confidence {data.get('confidence', 0):.2f}, {data.get('citations', 0)} citations"
    if stage is Stage.SPACETIME:
        return f"confidence {data.get('confidence', 0):.2f}, {data.get('context')} context items" + (
            ", degraded" if data.get("degraded") else "")
    shown = [f"{k}={v}" for k, v in data.items() if not isinstance(v, (list, dict, tuple))]
    return ", ".join(shown[:4])[:120]


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class TerminalUI:
    """The terminal face of a loom.

    Args:
        loom: a (open) ``HoloLoom``.
        console: where to draw (default: a new ``rich.console.Console``).
        complexity: the session's level; None detects it per question.
        refresh_per_second: how often the live stage table is redrawn while a weave runs.
    """

    def __init__(self, loom: "HoloLoom", console: Console | None = None, *, complexity: Complexity | str | None = None,
                 refresh_per_second: float = 8.0) -> None:
        self.loom = loom
        self.refresh_per_second = refresh_per_second
        self.console = console or Console()
        self.complexity: Complexity | None = Complexity.parse(complexity) if complexity is not None else None
        self.history: list[Spacetime] = []
        self.feedback: dict[str, bool] = {}
        self.board: StageBoard | None = None

    # -- one question ------------------------------------------------------------------

    async def weave_with_display(self, query: str, complexity: Complexity | str | None = None, **options: Any) -> Spacetime:
        """Weave ``query`` while a live table follows its stages; then print the Spacetime.

        Extra keyword options go to ``loom.weave``. Errors from the weave propagate
        (after the table shows which stage failed).
        """
        level = complexity if complexity is not None else self.complexity
        board = self.board = StageBoard(query)  # the board being drawn (tests and tools may look)
        try:
            # The subscriber updates the board as each event arrives; Live's own thread redraws
            # it a few times a second. Redrawing on every event would cost a table render
            # (milliseconds) twenty times per weave, inside the weave.
            with Live(board, console=self.console, auto_refresh=True, refresh_per_second=self.refresh_per_second,
                      transient=False):
                def on_event(event: LoomEvent) -> None:
                    if board.weave_id is None:
                        # the first weave to start with our question after we subscribed is ours
                        if isinstance(event, WeaveStarted) and event.query == query:
                            board.weave_id = event.weave_id
                        return
                    if event.weave_id == board.weave_id:
                        board.apply(event)

                unsubscribe = self.loom.events.subscribe(on_event)
                try:
                    spacetime = await self.loom.weave(query, complexity=level, **options)
                finally:
                    unsubscribe()
        finally:
            if not self.console.is_terminal:
                self.console.line()  # off a terminal, a live display ends without its newline
        self.history.append(spacetime)
        self.console.print(spacetime)  # renders stored text and the query inertly (HoloLoom.rendering)
        return spacetime

    # -- the session -------------------------------------------------------------------

    async def run_session(self, input_fn: InputFn | None = None, *, prompt: str = "hololoom> ") -> None:
        """Read commands and questions until ``quit`` (or end of input).

        Args:
            input_fn: ``input_fn(prompt) -> line`` (sync or async; None or EOFError ends
                the session). Default: the console's own input, read off the event loop.
        """
        self.console.print(Text.assemble(("HoloLoom", "bold magenta"), " terminal — ask a question, or type ",
                                         ("help", "bold"), " for commands. Level: ", (self._level_name(), "bold cyan")))
        while True:
            line = await self._read(input_fn, prompt)
            if line is None:
                self.console.print("bye")
                return
            if not await self.handle(line):
                self.console.print("bye")
                return

    async def _read(self, input_fn: InputFn | None, prompt: str) -> str | None:
        try:
            if input_fn is None:
                return await asyncio.to_thread(self.console.input, prompt)
            line = input_fn(prompt)
            if inspect.isawaitable(line):
                line = await line
        except (EOFError, KeyboardInterrupt):
            return None
        if line is not None:
            self.console.print(Text(prompt, style="bold") + safe_text(line, keep_newlines=False))  # the transcript shows what was typed
        return line

    async def handle(self, line: str) -> bool:
        """Run one command or question; False when the session should end."""
        text = line.strip()
        word, _, rest = text.partition(" ")
        command = word.lower().lstrip(":")
        rest = rest.strip()
        if not text:
            return True
        if command in ("quit", "exit", "q"):
            return False
        if text in ("+", "-"):
            await self._feedback(text == "+")
        elif command in ("help", "?") and not rest:
            self._help()
        elif command == "history" and not rest:
            self._history()
        elif command == "stats" and not rest:
            self._stats()
        elif command == "trace" and (not rest or rest.isdigit()):
            self._trace(int(rest) if rest else None)
        elif command == "clear" and not rest:
            self.console.clear()
        elif command in ("level", "complexity") and (word.startswith(":") or not rest or len(rest.split()) == 1):
            self._level(rest)
        else:
            try:
                await self.weave_with_display(text)
            except HoloLoomError as exc:
                self.console.print(safe_text(f"error: {exc}", "bold red"))
        return True

    # -- commands ----------------------------------------------------------------------

    def _help(self) -> None:
        table = Table(title="Commands", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for name, what in HELP:
            table.add_row(Text(name), Text(what))
        self.console.print(table)

    def _history(self) -> None:
        if not self.history:
            self.console.print("no questions yet")
            return
        table = Table(title=f"History ({len(self.history)})", title_justify="left")
        for col, justify in (("#", "right"), ("level", "left"), ("tool", "left"), ("confidence", "right"),
                             ("ms", "right"), ("feedback", "left"), ("question", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for i, st in enumerate(self.history, start=1):
            rated = self.feedback.get(st.id)
            table.add_row(str(i), st.complexity.value, safe_text(st.tool), f"{st.confidence:.2f}", f"{st.duration_ms:.1f}",
                          "" if rated is None else ("+" if rated else "-"),
                          safe_text(st.query, keep_newlines=False, limit=70))
        self.console.print(table)

    def session_stats(self) -> dict[str, Any]:
        """The numbers ``stats`` shows."""
        latencies = [st.duration_ms for st in self.history]
        return {
            "count": len(self.history),
            "p50_ms": _percentile(latencies, 0.5) if latencies else None,
            "p95_ms": _percentile(latencies, 0.95) if latencies else None,
            "mean_confidence": sum(st.confidence for st in self.history) / len(self.history) if self.history else None,
            "complexity": dict(collections.Counter(st.complexity.value for st in self.history)),
            "tools": dict(collections.Counter(st.tool for st in self.history)),
            "arms": dict(collections.Counter(str(st.routing.get("arm", st.backend)) for st in self.history)),
            "useful": sum(1 for v in self.feedback.values() if v),
            "not_useful": sum(1 for v in self.feedback.values() if not v),
            "degraded": sum(1 for st in self.history if st.degraded),
        }

    def _stats(self) -> None:
        s = self.session_stats()
        if not s["count"]:
            self.console.print("no questions yet")
            return
        split = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))  # noqa: E731
        table = Table(title="Session statistics", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        table.add_row("questions", str(s["count"]))
        table.add_row("latency p50", f"{s['p50_ms']:.1f} ms")
        table.add_row("latency p95", f"{s['p95_ms']:.1f} ms")
        table.add_row("mean confidence", f"{s['mean_confidence']:.2f}")
        table.add_row("complexity", safe_text(split(s["complexity"])))
        table.add_row("tools", safe_text(split(s["tools"])))
        table.add_row("routing arms", safe_text(split(s["arms"])))
        table.add_row("feedback", f"{s['useful']} useful, {s['not_useful']} not useful")
        table.add_row("degraded", str(s["degraded"]))
        self.console.print(table)

    def _trace(self, number: int | None) -> None:
        if not self.history:
            self.console.print("no answer to trace yet")
            return
        if number is not None and not 1 <= number <= len(self.history):
            self.console.print(Text(f"no question #{number}; history has 1..{len(self.history)}", style="red"))
            return
        spacetime = self.history[(number or len(self.history)) - 1]
        self.console.print(render_trace_tree(spacetime))

    async def _feedback(self, useful: bool) -> None:
        if not self.history:
            self.console.print("no answer to rate yet")
            return
        last = self.history[-1]
        try:
            result = await self.loom.feedback(last.id, useful=useful)
        except HoloLoomError as exc:
            self.console.print(safe_text(f"feedback failed: {exc}", "bold red"))
            return
        self.feedback[last.id] = useful
        post = result.get("tool_posterior") or {}
        self.console.print(Text.assemble(
            ("feedback recorded: ", "bold"), ("useful" if useful else "not useful", "green" if useful else "yellow"),
            safe_text(f" for {last.query[:50]!r} (tool {result.get('tool')}: alpha {post.get('alpha', 0):.1f},"
                      f" beta {post.get('beta', 0):.1f})")))

    def _level_name(self) -> str:
        return self.complexity.value if self.complexity else "auto"

    def _level(self, choice: str) -> None:
        options: list[Complexity | None] = [None, *Complexity]
        if choice:
            picked: Complexity | None
            if choice.isdigit() and int(choice) < len(options):
                picked = options[int(choice)]
            elif choice.lower() in ("auto", "detect"):
                picked = None
            else:
                try:
                    picked = Complexity.parse(choice)
                except HoloLoomError as exc:
                    self.console.print(safe_text(str(exc), "red"))
                    return
            self.complexity = picked
            self.console.print(Text.assemble("level: ", (self._level_name(), "bold cyan")))
            return
        cards = self.loom.orchestrator.cards
        table = Table(title="Complexity (pattern card)", title_justify="left")
        for col in ("", "#", "level", "passes", "budget", "tools"):
            table.add_column(col)
        for i, level in enumerate(options):
            card = cards.get(level) if level else None
            table.add_row("*" if level == self.complexity else "", str(i), level.value if level else "auto",
                          str(len(card.plan.passes)) if card else "detected per question",
                          f"{card.budget_ms:.0f} ms" if card else "", Text(", ".join(card.tools)) if card else "")
        self.console.print(table)
        self.console.print("choose with 'level <#>' or ':level <name>'")


def main(argv: list[str] | None = None) -> None:
    """``python -m HoloLoom.terminal_ui --home DIR``: the interactive session."""
    parser = argparse.ArgumentParser(prog="python -m HoloLoom.terminal_ui", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data directory (default: HOLOLOOM_HOME)")
    parser.add_argument("--namespace", help="namespace (tenant) to read")
    parser.add_argument("--complexity", help="LITE, FAST, FULL or RESEARCH (default: detect per question)")
    parser.add_argument("--metrics-port", type=int, help="also serve Prometheus /metrics on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    try:
        complexity = Complexity.parse(args.complexity) if args.complexity else None
    except HoloLoomError as exc:
        parser.error(str(exc))

    async def session() -> None:
        from .config import Settings
        from .loom import HoloLoom

        settings = Settings.from_env()
        async with HoloLoom(args.home, namespace=args.namespace, settings=settings) as loom:
            server = None
            if args.metrics_port is not None:
                from .telemetry import serve_metrics

                server = serve_metrics(loom, args.metrics_port)
            try:
                await TerminalUI(loom, complexity=complexity).run_session()
            finally:
                if server is not None:
                    server.close()

    try:
        asyncio.run(session())
    except HoloLoomError as exc:
        Console(stderr=True).print(safe_text(f"error: {exc}", "bold red"))
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
