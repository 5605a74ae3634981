"""How fast the commands that never embed are: ``hololoom bench cli --memories 10000``.

Builds a store of N memories (texts with random unit vectors written straight to the
embedded store: these commands never look at vector values), weaves once so there is a
Spacetime to give feedback on, then times ``hololoom stats``, ``forget ID``,
``feedback ID --useful`` and ``--help`` as subprocesses, as a user runs them, against
``python -c pass`` from the same run: wall time (median, max) and CPU time (user + system,
which a machine loaded by other work distorts least). Each also reports whether it
imported torch.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._common import median, print_table, write_json

__all__ = ["run_and_report"]

_PROBE = ("import runpy, sys; sys.argv = ['hololoom'] + sys.argv[1:]\n"
          "try:\n    runpy.run_module('HoloLoom.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
          "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")


async def _fill(home: Path, memories: int, seed: int = 7) -> list[str]:
    from ..config import Settings
    from ..ingest import shard_id
    from ..memory import create_store
    from ..memory.base import ShardRecord
    from ..types import MemoryShard

    rng = np.random.default_rng(seed)
    store = create_store(Settings.from_env(home=home), dimension=384)
    ids = []
    now = time.time()
    for start in range(0, memories, 2000):
        records = []
        for n in range(start, min(memories, start + 2000)):
            text = f"Note {n}: met team {n % 97} about project {n % 31} and the budget line {n % 13}."
            vector = rng.standard_normal(384).astype(np.float32)
            shard = MemoryShard(id=shard_id("default", text), namespace="default", text=text,
                                created_at=now, occurred_at=now - n * 3600.0)
            records.append(ShardRecord(shard=shard, vector=vector / np.linalg.norm(vector)))
            ids.append(shard.id)
        await store.add(records)
    await store.close()
    return ids


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(args: list[str], home: Path, repeats: int) -> tuple[list[float], list[float], bool, int]:
    """Wall and CPU seconds of each run (CPU time is what a loaded machine distorts least)."""
    env = {**os.environ, "HOLOLOOM_HOME": str(home)}
    seconds, cpu, torch, code = [], [], False, 0
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), _cpu()
        proc = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - started)
        cpu.append(_cpu() - cpu_started)
        torch = torch or "TORCH" in proc.stderr.replace("NO-TORCH", "")
        code = code or proc.returncode
    return seconds, cpu, torch, code


def run(memories: int, *, repeats: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hololoom-cli-") as tmp:
        home = Path(tmp) / "home"
        ids = asyncio.run(_fill(home, memories))
        env = {**os.environ, "HOLOLOOM_HOME": str(home)}
        asked = subprocess.run([sys.executable, "-m", "HoloLoom.cli", "ask", "Who met team 5 about the budget?", "--json"],
                               env=env, capture_output=True, text=True, check=True)
        weave_id = json.loads(asked.stdout)["id"]
        baseline, baseline_cpu = [], []
        for _ in range(repeats):
            started, cpu_started = time.perf_counter(), _cpu()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            baseline.append(time.perf_counter() - started)
            baseline_cpu.append(_cpu() - cpu_started)
        rows: dict[str, dict[str, Any]] = {"python -c pass": {
            "median s": median(baseline), "max s": max(baseline), "cpu s": median(baseline_cpu), "x python": 1.0, "torch": "no"}}
        commands = {"stats": ["stats"], "feedback ID --useful": ["feedback", weave_id, "--useful"], "--help": ["--help"]}
        measured = {name: _time(args, home, repeats) for name, args in commands.items()}
        forgets = [_time(["forget", ids[i]], home, 1) for i in range(repeats)]  # one real delete per run
        measured["forget ID"] = ([f[0][0] for f in forgets], [f[1][0] for f in forgets], any(f[2] for f in forgets),
                                 max(f[3] for f in forgets))
        for name in ("stats", "forget ID", "feedback ID --useful", "--help"):
            seconds, cpu, torch, code = measured[name]
            rows[f"hololoom {name}"] = {"median s": median(seconds), "max s": max(seconds), "cpu s": median(cpu),
                                        "x python": median(seconds) / median(baseline), "torch": "yes" if torch else "no",
                                        "exit": code}
    return {"memories": memories, "repeats": repeats, "load_average": os.getloadavg(), "rows": rows}


def run_and_report(memories: int, *, json_path: Path | None = None, repeats: int = 5) -> dict[str, Any]:
    result = run(memories, repeats=repeats)
    load = ", ".join(f"{v:.1f}" for v in result["load_average"])
    print_table(f"CLI commands on a store of {memories:,} memories (median of {repeats}; load {load})", result["rows"],
                ["median s", "max s", "cpu s", "x python", "torch", "exit"])
    write_json(json_path, result)
    return result
