"""A memory (or a question) holding terminal escapes or Rich markup prints inertly everywhere.

The samples of issue 13: ``ESC]0;pwned BEL`` (retitles the window), ``ESC[2J`` (clears the
screen), ``ESC[31m`` (colour), ``[/oops]`` (a MarkupError that used to crash every later
recall) and ``[link=http://evil.example]click[/link]`` (a live hyperlink). They must reach
the reader as visible, harmless text through ``recall``, ``ask``, ``ask --trace``, the TUI
in a real terminal (tmux) and the dashboard page (headless Chromium).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from HoloLoom import Document, HoloLoom, Settings

SAMPLES = {
    "title": "\x1b]0;pwned\x07",
    "clear": "\x1b[2J",
    "colour": "\x1b[31mred",
    "markup": "[/oops]",
    "link": "[link=http://evil.example]click[/link]",
}
#: What a terminal would act on: none of it may reach the output raw.
ACTIVE = ["\x1b]0;", "\x1b[2J", "\x1b[31mred", "\x1b]8;", "\x07"]
QUESTION = "Where is Leland [/oops] [link=http://evil.example]x[/link]?"


def corpus() -> list[Document]:
    return [Document(text=f"Leland {name}: {sample} Leland is a town in North Carolina where films were shot.",
                     title=f"Leland {name} [/oops]") for name, sample in SAMPLES.items()]


def build_home(home: Path, embedder) -> None:
    async def go() -> None:
        async with HoloLoom(settings=Settings(home=home, routing="fixed", seed=1), embedder=embedder) as loom:
            await loom.add(corpus())

    asyncio.run(go())


def assert_inert(out: str, *, coloured: bool) -> None:
    for raw in ACTIVE:
        assert raw not in out, f"{raw!r} reached the output"
    if not coloured:
        assert "\x1b" not in out
    assert "[/oops]" in out  # markup shown as the characters it is
    assert "␛" in out  # the escapes are visible as stand-ins


@pytest.mark.parametrize("coloured", [False, True], ids=["piped", "terminal-colours"])
def test_recall_ask_and_trace_print_stored_escapes_inertly(tmp_path: Path, embedder, coloured: bool) -> None:
    from HoloLoom.cli import app

    home = tmp_path / "home"
    build_home(home, embedder)
    env = {"HOLOLOOM_HOME": str(home), "HOLOLOOM_ROUTING": "fixed", "HOLOLOOM_SEED": "1", "COLUMNS": "220"}
    if coloured:
        env["FORCE_COLOR"] = "1"  # Rich writes as to a colour terminal
    runner = CliRunner()
    for args in (["recall", QUESTION, "-k", "10"], ["ask", QUESTION], ["ask", QUESTION, "--trace"]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        assert_inert(result.output, coloured=coloured)
        assert "Leland link" in result.output
    # --json stays byte-exact: the stored text comes back as it was stored.
    result = runner.invoke(app, ["recall", QUESTION, "-k", "10", "--json"], env=env)
    texts = {h["shard"]["text"] for h in json.loads(result.stdout)}
    assert {d.text for d in corpus()} == texts


def test_real_process_on_a_colour_terminal(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    build_home(home, embedder)
    env = {**os.environ, "HOLOLOOM_HOME": str(home), "HOLOLOOM_ROUTING": "fixed", "HOLOLOOM_SEED": "1",
           "COLUMNS": "220", "FORCE_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "HoloLoom.cli", "ask", QUESTION, "--trace"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert_inert(proc.stdout + proc.stderr, coloured=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_tui_in_a_real_terminal_shows_escapes_inertly(home: Path, embedder, tmp_path: Path) -> None:
    from .test_tui_tmux import ROOT, _Tmux

    async with HoloLoom(settings=Settings(home=home, routing="fixed", seed=1), embedder=embedder) as loom:
        await loom.add(corpus())
    tmux = _Tmux(tmp_path / "tmux.sock")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TERM": "xterm-256color",
           "HOLOLOOM_ROUTING": "fixed"}
    command = (f"cd {ROOT} && {sys.executable} -m HoloLoom.terminal_ui --home {home}; echo SESSION-EXITED-$?; sleep 60")
    subprocess.run(["tmux", "-S", tmux.socket, "-f", "/dev/null", "new-session", "-d", "-s", "hl", "-x", "200",
                    "-y", "60", command], check=True, env=env, timeout=20)
    try:
        await tmux.wait_for(lambda t: "ask a question" in t and t.rstrip().endswith("hololoom>"), "the banner", 120)
        screen = await tmux.send(QUESTION, "Spacetime ", "the answer")
        screen = await tmux.send("trace", "1. Loom Command (pattern)", "the trace")
        assert "ask a question" in screen  # ESC[2J did not clear the screen
        assert "[/oops]" in screen and "␛" in screen  # markup and escapes shown, not acted on
        assert "[link=http://evil.example]x[/link]" in screen  # the question's markup, as typed
        title = tmux("display-message", "-p", "-t", "hl", "#{pane_title}")
        assert "pwned" not in title  # ESC]0;... did not retitle the terminal
        coloured = tmux("capture-pane", "-p", "-e", "-J", "-S", "-", "-t", "hl")
        assert "\x1b[31mred" not in coloured  # the memory's colour code was not applied
        tmux("send-keys", "-t", "hl", "-l", "quit")
        tmux("send-keys", "-t", "hl", "Enter")
        screen = await tmux.wait_for(lambda t: "SESSION-EXITED-" in t, "the session to end")
        assert "SESSION-EXITED-0" in screen
    finally:
        subprocess.run(["tmux", "-S", tmux.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.mark.slow
def test_dashboard_page_shows_escapes_and_markup_as_text(tmp_path: Path, embedder) -> None:
    from tests.e2e import test_dashboard as page

    missing = page._missing()
    if missing:
        pytest.skip(missing)
    from selenium.webdriver.support.ui import WebDriverWait

    home = tmp_path / "home"

    async def weave() -> str:
        async with HoloLoom(settings=Settings(home=home, routing="fixed", seed=1), embedder=embedder) as loom:
            await loom.add(corpus())
            return (await loom.weave("\x1b[2J" + QUESTION)).id

    weave_id = asyncio.run(weave())
    driver, profile = page._driver()
    server = page._DashboardProcess(home, tmp_path / "dashboard.log")
    try:
        driver.get(server.url + f"?weave={weave_id}")
        WebDriverWait(driver, 60, poll_frequency=0.25).until(lambda d: "Leland" in page._text(d, "trace"))
        text = driver.execute_script("return document.body.innerText")
        assert "[link=http://evil.example]x[/link]" in text and "[/oops]" in text  # shown, not interpreted
        assert "␛[2J" in text and "␛]0;pwned␇" in text  # escapes visible as stand-ins
        assert "\x1b" not in text and "\x07" not in text
        links = driver.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.href)")
        assert not [href for href in links if "evil.example" in href]  # no live link to the sample's target
        hover_js = ("const g = document.getElementById('graph-confidence');"
                    "const p = g && g.querySelector('.js-plotly-plot');"
                    "return p && p.data ? JSON.stringify(p.data.map(t => t.text)) : ''")
        driver.get(server.url)
        WebDriverWait(driver, 60, poll_frequency=0.25).until(lambda d: "Leland" in d.execute_script(hover_js))
        hover = driver.execute_script(hover_js)
        assert "\\u001b" not in hover and "␛[2J" in hover  # the plot's hover text is inert too
    finally:
        server.stop()
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
