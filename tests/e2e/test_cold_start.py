"""A fresh `hololoom ask` crawls exactly as a warm process does, on a busy machine.

The first weave of a process pays for loading the model, the first inference and the
first index reads *before* its time budget starts; the budget then measures the weave.
Two CPU-busy processes run beside every `hololoom ask` (a user's laptop is rarely idle).
On a machine that is already saturated before they start (a shared machine running
several test suites: load above four times its cores) the premise does not hold and the
test skips, saying so; CI's fresh machine always runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from HoloLoom import Document, HoloLoom, Settings
from HoloLoom.demo import DEMO_DOCUMENTS, DEMO_QUESTIONS

QUESTIONS = [*DEMO_QUESTIONS,
             "Where was Maximum Overdrive filmed?",
             "Who wrote Dune?",
             "Which river flows past Wilmington?",
             "When did Haymo of Faversham become Minister General?",
             "What is Casco Bay?",
             "Where was Frank Herbert born?",
             "Summarize what you know about Stephen King"]
BUSY = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def _top_sources(spacetime: dict) -> list[str]:
    return [c["shard"]["id"] for c in spacetime["context"][:3]]


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_fresh_ask_on_a_busy_machine_is_never_degraded_and_matches_a_warm_process(tmp_path: Path, embedder) -> None:
    assert len(set(QUESTIONS)) == 10
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    if load > 4 * cores:
        pytest.skip(f"machine already saturated (load {load:.1f} on {cores} cores): not 'two busy processes beside it'")
    home = tmp_path / "home"
    async with HoloLoom(settings=Settings(home=home), embedder=embedder) as loom:
        await loom.add([Document(text=text, title=title) for title, text in DEMO_DOCUMENTS])
        warm = {q: _top_sources((await loom.weave(q)).to_dict()) for q in QUESTIONS}

    env = {**os.environ, "HOLOLOOM_HOME": str(home), "COLUMNS": "200"}
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        for question in QUESTIONS:
            proc = subprocess.run([sys.executable, "-m", "HoloLoom.cli", "ask", question, "--json"], env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr
            st = json.loads(proc.stdout)
            stages = {s["stage"]: round(s["duration_ms"], 1) for s in st["stages"]}
            assert not st["degraded"], (question, st["warnings"], stages, os.getloadavg())
            assert _top_sources(st) == warm[question], question
    finally:
        for p in busy:
            p.kill()
            p.wait()
