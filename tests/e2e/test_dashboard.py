"""The Dash dashboard in a real headless Chromium, over weaves the test runs on a small real store.

`hololoom dashboard` runs in its own process, beside this one, which weaves: the page only sees
what the weaving process records under HOLOLOOM_HOME.

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/install-system-deps.sh) and selenium;
skips with the reason when any is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from HoloLoom.dashboard import GRAPHS, load_records
from HoloLoom.weaving.events import Stage

CHROMIUM = os.environ.get("HOLOLOOM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HOLOLOOM_CHROMEDRIVER", "/usr/bin/chromedriver")
#: DASHBOARD_README.md's picture; refreshed only when HOLOLOOM_UPDATE_SCREENSHOT=1, so a test
#: run never changes the checkout (the screenshot goes to the test's own directory otherwise).
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"
REFRESH_MS = 2000  # the dashboard's default, which `hololoom dashboard` uses
LOOM_NAMES = [s.loom_name for s in Stage]

# Points plotted by each graph, read from the plotly.js graph div itself.
POINTS_JS = """
const out = {};
for (const el of document.querySelectorAll('[id^="graph-"]')) {
  const plot = el.querySelector('.js-plotly-plot');
  const data = (plot && plot.data) || [];
  out[el.id] = data.reduce((n, t) => n + ((t.y || t.values || t.x || []).filter(v => v !== null).length), 0);
  const notes = (plot && plot.layout && plot.layout.annotations) || [];
  out[el.id + ':note'] = notes.map(a => a.text).join(' ');
}
return out;
"""

QUERIES_JS = "return Array.from(document.querySelectorAll('#recent td.q')).map(e => e.textContent)"


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return (f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
                "run scripts/install-system-deps.sh")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium: pip install 'HoloLoom[dev]'"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="hololoom-chromium-")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver, profile


def _text(driver, element_id: str) -> str:
    """An element's rendered text, read in one call (the page re-renders parts of itself on refresh)."""
    return driver.execute_script(f"const e = document.getElementById('{element_id}'); return e ? e.innerText : ''")


def _click(driver, css: str) -> None:
    """Click, trying again if a refresh replaced the element between finding and clicking it."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def attempt(d):
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    WebDriverWait(driver, 10, poll_frequency=0.2,
                  ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(attempt)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _DashboardProcess:
    """`hololoom dashboard` in its own process, as a user runs it beside the processes that weave."""

    def __init__(self, home: Path, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        env = {**os.environ, "HOLOLOOM_HOME": str(home)}
        with log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "HoloLoom.cli", "dashboard", "--home", str(home),
                                          "--port", str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the dashboard exited with {self.proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the dashboard did not answer on {self.url}:\n{log.read_text()}")
            time.sleep(0.25)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def browser():
    """Headless Chromium through chromedriver (skips first, before any store is built, when missing)."""
    driver, profile = _driver()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def learned_loom(home: Path, embedder):
    """The small store with learned routing (the default), so decisions carry arm posteriors and feedback."""
    from HoloLoom import Document, HoloLoom, Settings
    from tests.conftest import CORPUS

    async with HoloLoom(settings=Settings(home=home, routing="learned", seed=7), embedder=embedder) as loom:
        await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS])
        yield loom


@pytest.mark.slow
async def test_dashboard_in_chromium(browser, learned_loom, home: Path, tmp_path: Path) -> None:
    driver = browser
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = None
    try:
        # Before any weave: empty states with a hint, no sample data.
        server = _DashboardProcess(home, tmp_path / "dashboard.log")
        driver.get(server.url)
        WebDriverWait(driver, 60, poll_frequency=0.25).until(lambda d: "No weaves recorded yet" in _text(d, "banner"))
        assert str(home / "state" / "weaves.jsonl") in _text(driver, "banner")

        def empty_states(d):
            points = d.execute_script(POINTS_JS)
            return all(points.get(f"graph-{g}") == 0 and "No weaves yet" in points.get(f"graph-{g}:note", "")
                       for g in GRAPHS)

        WebDriverWait(driver, 30, poll_frequency=0.25).until(empty_states)  # plotly draws after the banner

        # Real weaves, made while the page is open.
        queries = [("Who directed Maximum Overdrive?", "LITE"),
                   ("Where was the film directed by Stephen King shot?", "FAST"),
                   ("summarize the Recovery of Aristotle", "FULL"),
                   ("Which scholar lectured in the capital of France during the Recovery of Aristotle?", "RESEARCH"),
                   ("What is the demon algorithm?", None)]
        for query, level in queries:
            await learned_loom.weave(query, complexity=level) if level else await learned_loom.weave(query)
        learned_loom.orchestrator.flush()  # the weave log is written on the loom's writer thread
        first = load_records(home)
        assert len(first) == len(queries)
        await learned_loom.feedback(first[1]["id"], useful=True)

        # The page fills itself: every chart is populated from the weaves above (and the feedback).
        def populated(d):
            points = d.execute_script(POINTS_JS)
            charts = all(points.get(f"graph-{g}", 0) > 0 for g in GRAPHS)
            shown = _text(d, "kpi-0") == str(len(queries)) and _text(d, "kpi-4") == "20% of weaves"
            return points if charts and shown else False

        points = WebDriverWait(driver, 30, poll_frequency=0.25).until(populated)
        assert points["graph-complexity"] == 4  # four levels, one bar each
        assert points["graph-latency"] == len(queries)
        assert all(r["routing"].get("posterior") for r in first)  # what the routing-posterior chart shows
        # (and "20% of weaves" got feedback: learned routing logs feedback naming the weave)
        assert driver.execute_script(QUERIES_JS) == [q for q, _ in reversed(queries)]
        assert _text(driver, "kpi-0") == str(len(queries))

        # A weave made after the page loaded shows within two refresh intervals.
        new_query = "Where is Leland, North Carolina?"
        await learned_loom.weave(new_query)
        written = time.monotonic()
        WebDriverWait(driver, 2 * REFRESH_MS / 1000, poll_frequency=0.1).until(
            lambda d: (d.execute_script(QUERIES_JS) or [None])[0] == new_query)
        shown_after = time.monotonic() - written
        assert _text(driver, "kpi-0") == str(len(queries) + 1)
        print(f"\nnew weave shown {shown_after:.2f} s after it was logged (refresh every {REFRESH_MS / 1000:g} s)")

        # Clicking a row opens that weave's trace: stages with loom names, crawl passes, context.
        target = next(r for r in load_records(home) if r["query"] == queries[3][0])
        _click(driver, f'#row-{target["id"]} td.q a')
        WebDriverWait(driver, 20, poll_frequency=0.2).until(
            lambda d: target["id"] in _text(d, "trace"))
        assert driver.current_url.endswith(f"?weave={target['id']}")  # a trace has its own address
        trace = _text(driver, "trace")
        for name in LOOM_NAMES:
            assert name in trace, name
        assert "Crawl passes" in trace and "Context" in trace
        first_item = target["context"][0]
        assert "; ".join(first_item["paths"]) in trace
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("const p = document.querySelector('#trace-waterfall .js-plotly-plot');"
                                       "return p && p.data && p.data[0].y.length") == len(LOOM_NAMES))

        # The screenshot for DASHBOARD_README.md: the whole page, trace included.
        for _ in range(3):  # resizing re-lays the page out, which may change its height
            height = int(driver.execute_script("return document.documentElement.scrollHeight"))
            if height <= driver.execute_script("return window.innerHeight"):
                break
            driver.set_window_size(1400, min(height + 140, 6000))
            time.sleep(1.0)  # plotly re-lays out on resize
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot = README_SCREENSHOT if os.environ.get("HOLOLOOM_UPDATE_SCREENSHOT") == "1" else tmp_path / "dashboard.png"
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 50_000

        # The trace's address opens it directly.
        driver.get(server.url + f"?weave={first[0]['id']}")
        WebDriverWait(driver, 30, poll_frequency=0.2).until(
            lambda d: first[0]["query"] in _text(d, "trace") and "Loom Command" in _text(d, "trace"))
    finally:
        if server is not None:
            server.stop()
