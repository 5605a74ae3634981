"""The terminal UI in a real terminal: `python -m HoloLoom.terminal_ui` under tmux, with the real model."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from HoloLoom import HoloLoom
from HoloLoom.weaving import STAGE_ORDER

from ..tui_rows import QUESTION, stage_rows

ROOT = Path(__file__).resolve().parents[2]


class _Tmux:
    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True, text=True,
                              timeout=20).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-", "-t", "hl")

    async def wait_for(self, predicate, what: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()[-3000:]}")

    async def send(self, line: str, expect: str, what: str) -> str:
        before = self.screen().count(expect)
        self("send-keys", "-t", "hl", "-l", line)
        self("send-keys", "-t", "hl", "Enter")
        # the command's output, and the prompt back after it
        return await self.wait_for(lambda t: t.count(expect) > before and t.rstrip().endswith("hololoom>"), what)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_interactive_session_in_a_real_terminal_under_tmux(home: Path, embedder, tmp_path: Path) -> None:
    from HoloLoom import Document, Settings

    from tests.conftest import CORPUS

    async with HoloLoom(settings=Settings(home=home), embedder=embedder) as loom:
        await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS])

    tmux = _Tmux(tmp_path / "tmux.sock")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TERM": "xterm-256color"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        metrics_port = sock.getsockname()[1]
    command = (f"cd {ROOT} && {sys.executable} -m HoloLoom.terminal_ui --home {home} --metrics-port {metrics_port};"
               " echo SESSION-EXITED-$?; sleep 60")
    subprocess.run(["tmux", "-S", tmux.socket, "-f", "/dev/null", "new-session", "-d", "-s", "hl", "-x", "140",
                    "-y", "50", command], check=True, env=env, timeout=20)
    try:
        await tmux.wait_for(lambda t: "ask a question" in t and t.rstrip().endswith("hololoom>"), "the banner", 120)

        screen = await tmux.send(QUESTION, "Spacetime ", "the first answer")
        answer = screen[screen.index(QUESTION):]
        positions = [answer.index(s.loom_name) for s in STAGE_ORDER]
        assert positions == sorted(positions)
        assert "9/9 stages" in answer
        rows = stage_rows(answer)
        assert [r[2] for r in rows[:9]] == [s.value for s in STAGE_ORDER]
        assert all(r[3] in ("done", "skipped") and re.fullmatch(r"\d+\.\d", r[4]) for r in rows[:9])

        # the same session's weaves, on its Prometheus endpoint
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode())
        counts = [line for line in body.splitlines() if line.startswith("hololoom_weave_duration_seconds_count")]
        assert len(counts) == 1 and counts[0].endswith(" 1.0"), counts

        screen = await tmux.send("history", "History (1)", "history")
        assert re.search(r"│ 1 │ (LITE|FAST|FULL|RESEARCH)\s+│", screen)
        screen = await tmux.send("stats", "latency p95", "stats")
        assert "questions       │ 1" in screen and "mean confidence" in screen
        screen = await tmux.send("trace", "1. Loom Command (pattern)", "the trace")
        assert "5. Yarn Graph (crawl)" in screen and "pass 1:" in screen
        screen = await tmux.send("+", "feedback recorded: useful", "feedback")
        tmux("send-keys", "-t", "hl", "-l", "clear")
        tmux("send-keys", "-t", "hl", "Enter")
        visible = lambda: tmux("capture-pane", "-p", "-t", "hl").strip()  # noqa: E731
        deadline = time.monotonic() + 20
        while visible() != "hololoom>" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert visible() == "hololoom>", visible()
        tmux("send-keys", "-t", "hl", "-l", "quit")
        tmux("send-keys", "-t", "hl", "Enter")
        screen = await tmux.wait_for(lambda t: "SESSION-EXITED-" in t, "the session to end")
        assert "SESSION-EXITED-0" in screen and "bye" in screen
    finally:
        subprocess.run(["tmux", "-S", tmux.socket, "kill-server"], capture_output=True, timeout=20)
