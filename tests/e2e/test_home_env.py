"""HoloLoom() under HOLOLOOM_HOME=X writes only under X (a real process, real model and store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import asyncio
from HoloLoom import HoloLoom

async def main():
    async with HoloLoom() as loom:
        await loom.add("Maximum Overdrive was filmed in Leland, North Carolina.")
        st = await loom.weave("Where was Maximum Overdrive filmed?")
        await loom.feedback(st.id, useful=True)

asyncio.run(main())
"""


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.timeout(300)
def test_holoLoom_writes_only_under_hololoom_home(tmp_path: Path) -> None:
    home, user_home, cwd = tmp_path / "X", tmp_path / "user", tmp_path / "cwd"
    user_home.mkdir()
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLOLOOM_", "XDG_"))}
    env.update(HOLOLOOM_HOME=str(home), HOME=str(user_home))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    written = _files(home)
    assert any(p.name == "policy.json" for p in written) and any(p.parent.name == "embedded" for p in written)
    assert _files(cwd) == set()
    stray = {p for p in _files(user_home) if "hololoom" in str(p).lower()}
    assert stray == set(), stray  # the default home (~/.local/share/hololoom) stays untouched
