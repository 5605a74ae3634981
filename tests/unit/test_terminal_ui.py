"""The terminal UI on real weaves, read back from Rich's recording console.

The same session in a real terminal, under tmux, is ``tests/e2e/test_tui_tmux.py``.
"""

from __future__ import annotations

import asyncio
import io
import re

from rich.console import Console

from HoloLoom import HoloLoom, ToolResult
from HoloLoom.terminal_ui import StageBoard, TerminalUI
from HoloLoom.weaving import STAGE_ORDER, Stage

from tests.tui_rows import QUESTION, stage_rows


def recording_console() -> Console:
    return Console(record=True, width=120, force_terminal=False)


async def test_the_nine_stages_appear_in_pipeline_order_with_their_timings(small_loom: HoloLoom) -> None:
    console = recording_console()
    ui = TerminalUI(small_loom, console)
    st = await ui.weave_with_display(QUESTION, complexity="FULL")
    text = console.export_text()

    rows = stage_rows(text)
    assert [r[2] for r in rows] == [s.value for s in STAGE_ORDER]
    assert [r[1] for r in rows] == [s.loom_name for s in STAGE_ORDER]
    assert [r[0] for r in rows] == list(range(1, 10))
    for (_, _, stage, status, ms) in rows:
        assert status in ("done", "skipped")
        assert ms == f"{st.timings[stage]:.1f}"  # the timing the event carried, as the trace recorded it
    positions = [text.index(s.loom_name) for s in STAGE_ORDER]
    assert positions == sorted(positions)
    assert f"9/9 stages, {st.duration_ms:.1f} ms" in text
    assert "FULL (chosen)" in text  # what stage 1 decided

    # then the Spacetime itself: its panel, the response and the sources
    assert f"Spacetime {st.id[:12]}" in text
    assert text.index(f"Spacetime {st.id[:12]}") > text.index("│ 9 │ Spacetime ")  # after the live table
    assert "found by" in text and "Leland" in text
    assert f"confidence {st.confidence:.2f}" in text
    assert ui.history == [st]


async def test_rows_are_updated_while_the_weave_runs_not_after(small_loom: HoloLoom) -> None:
    """A tool runs during stage 8: at that moment the board already shows 1-7 done, 8 running, 9 waiting."""
    console = recording_console()
    ui = TerminalUI(small_loom, console)
    seen: dict[str, object] = {}

    async def snapshot(ctx) -> ToolResult:
        board = ui.board
        assert board is not None
        seen["status"] = dict(board.status)
        seen["timed"] = set(board.duration_ms)
        side = Console(record=True, width=120, force_terminal=False)
        side.print(board)
        seen["text"] = side.export_text()
        return ToolResult("snapshot taken", 0.5)

    small_loom.register_tool("snapshot", snapshot)
    st = await ui.weave_with_display(QUESTION, complexity="FAST", tool="snapshot")

    status = seen["status"]
    assert [status[s] for s in STAGE_ORDER[:7]] == ["done" if not st.stages[i].skipped else "skipped" for i in range(7)]
    assert status[Stage.EXECUTE] == "running" and status[Stage.SPACETIME] == "waiting"
    assert seen["timed"] == set(STAGE_ORDER[:7])
    mid = {r[2]: r for r in stage_rows(seen["text"])}
    assert mid["execute"][3] == "running" and mid["execute"][4] == ""
    assert mid["spacetime"][3] == "waiting"
    assert mid["crawl"][4] == f"{st.timings['crawl']:.1f}"
    assert "7/9 stages" in seen["text"]
    # and when it finished, every row was done
    assert all(r[3] in ("done", "skipped") for r in stage_rows(console.export_text()))


async def test_a_terminal_sees_the_running_stage_while_the_weave_is_still_going(small_loom: HoloLoom) -> None:
    """On a real terminal the live table is redrawn mid-weave: a slow tool shows as running."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    ui = TerminalUI(small_loom, console, refresh_per_second=20)
    frames_during_tool: list[str] = []

    async def slow(ctx) -> ToolResult:
        await asyncio.sleep(0.6)
        frames_during_tool.append(out.getvalue())
        return ToolResult("slow answer", 0.5)

    small_loom.register_tool("slow", slow)
    st = await ui.weave_with_display(QUESTION, complexity="FAST", tool="slow")
    during = frames_during_tool[0]
    assert re.search(r"│ 8 │ Tool Loom\s+│ execute\s+│ running\s+│\s+│", during), during[-3000:]
    assert re.search(rf"│ 5 │ Yarn Graph\s+│ crawl\s+│ (done|skipped)\s+│\s+{st.timings['crawl']:.1f} │", during)
    assert "Spacetime " + st.id[:12] not in during  # the answer only came after
    final = out.getvalue()[len(during):]
    assert re.search(rf"│ 8 │ Tool Loom\s+│ execute\s+│ done\s+│\s+{st.timings['execute']:.1f} │", final)
    assert st.timings["execute"] >= 600


async def test_scripted_session_question_history_stats_trace_feedback_quit(small_loom: HoloLoom) -> None:
    console = recording_console()
    ui = TerminalUI(small_loom, console)
    script = [QUESTION, "history", "stats", "trace", "+", ":level FULL", "Who lectured at the University of Paris?",
              "-", "history", "stats", "help", "quit", "never read"]
    screens: list[str] = []

    def typed(prompt: str) -> str:
        screens.append(console.export_text(clear=True))  # what the previous line produced
        return script[len(screens) - 1]

    await ui.run_session(typed)
    screens.append(console.export_text(clear=True))
    assert len(screens) == 13  # the banner, then one screen per line up to quit
    banner, question, history, stats, trace, plus, level, question2, minus, history2, stats2, help_, bye = screens

    assert "ask a question" in banner and "Level: auto" in banner
    first = ui.history[0]
    assert f"hololoom> {QUESTION}" in question
    assert [r[1] for r in stage_rows(question)] == [s.loom_name for s in STAGE_ORDER]
    assert f"Spacetime {first.id[:12]}" in question

    assert "History (1)" in history
    assert re.search(rf"│ 1 │ {first.complexity.value}\s+│ {first.tool}\s+│\s+{first.confidence:.2f} │", history)

    assert "questions       │ 1" in stats
    assert f"latency p50     │ {first.duration_ms:.1f} ms" in stats
    assert f"latency p95     │ {first.duration_ms:.1f} ms" in stats
    assert f"mean confidence │ {first.confidence:.2f}" in stats
    assert f"{first.complexity.value} 1" in stats and f"{first.tool} 1" in stats

    assert f"Spacetime {first.id[:12]}" in trace
    positions = [trace.index(f"{s.number}. {s.loom_name} ({s.value})") for s in STAGE_ORDER]
    assert positions == sorted(positions)
    assert "pass 1:" in trace and "context" in trace and "score: sim=" in trace

    assert "feedback recorded: useful" in plus and f"tool {first.tool}" in plus
    assert ui.feedback[first.id] is True

    assert "level: FULL" in level and ui.complexity.value == "FULL"
    second = ui.history[1]
    assert second.complexity.value == "FULL" and "FULL (chosen)" in question2
    assert "feedback recorded: not useful" in minus and ui.feedback[second.id] is False

    assert "History (2)" in history2
    rows = [line for line in history2.splitlines() if re.match(r"│ [12] │", line)]
    assert len(rows) == 2 and "│ +" in rows[0] and "│ -" in rows[1]

    latencies = sorted([first.duration_ms, second.duration_ms])
    assert "questions       │ 2" in stats2
    assert f"latency p50     │ {latencies[0]:.1f} ms" in stats2  # nearest rank
    assert f"latency p95     │ {latencies[1]:.1f} ms" in stats2
    assert f"mean confidence │ {(first.confidence + second.confidence) / 2:.2f}" in stats2
    assert "FULL" in stats2 and "1 useful, 1 not useful" in stats2

    assert "trace [n]" in help_ and "quit" in help_
    assert "hololoom> quit" in bye and "bye" in bye


async def test_level_menu_errors_and_end_of_input(small_loom: HoloLoom) -> None:
    console = recording_console()
    ui = TerminalUI(small_loom, console)
    lines = iter(["+", "trace", "stats", "level", "level 1", "level nonsense", "trace 5", "x" * 10_001, "level auto",
                  "Where is [/x] Leland?", "trace", "history"])

    async def typed(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    await ui.run_session(typed)
    text = console.export_text()
    assert "no answer to rate yet" in text and "no answer to trace yet" in text and "no questions yet" in text
    assert "Complexity (pattern card)" in text
    for name in ("auto", "LITE", "FAST", "FULL", "RESEARCH"):
        assert re.search(rf"│ \d │ {name}\s", text)
    assert "level: LITE" in text
    assert "unknown complexity 'nonsense'" in text
    assert "error: query must have at most 10000 characters" in text  # a refused question is shown, the session goes on
    assert "level: auto" in text and ui.complexity is None
    # a question that reads as Rich markup is drawn as plain text; the session goes on
    assert len(ui.history) == 1 and ui.history[0].query == "Where is [/x] Leland?"
    assert f"Spacetime {ui.history[0].id[:12]}" in text and "1. Loom Command (pattern)" in text
    assert "│ Where is [/x] Leland?" in text  # history shows it as typed
    assert text.rstrip().endswith("bye")


def test_stage_board_shows_a_failed_stage() -> None:
    from HoloLoom.weaving import StageEnded, StageStarted

    board = StageBoard("q")
    board.apply(StageStarted(weave_id="w", stage=Stage.PATTERN))
    board.apply(StageEnded(weave_id="w", stage=Stage.PATTERN, started_at=0.0, duration_ms=0.2,
                           data={"complexity": "LITE", "passes": 1, "budget_ms": 50}))
    board.apply(StageStarted(weave_id="w", stage=Stage.TEMPORAL))
    board.apply(StageEnded(weave_id="w", stage=Stage.TEMPORAL, started_at=0.0, duration_ms=1.5,
                           error="StoreError: [disk] gone"))
    console = recording_console()
    console.print(board)
    text = console.export_text()
    rows = {r[2]: r for r in stage_rows(text)}
    assert rows["pattern"][3:] == ("done", "0.2") and rows["temporal"][3:] == ("failed", "1.5")
    assert rows["route"][3] == "waiting"
    assert "failed: StoreError: [disk] gone" in text  # shown as typed, not read as markup


# -- the real thing: the session in a terminal, driven through tmux -------------------------
