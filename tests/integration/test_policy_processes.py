"""Two processes update one policy state file at once and lose no update (its file lock)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from HoloLoom.routing import Policy

ARMS = ("hybrid", "graph", "vector")


def _worker(path: str, worker: int, rounds: int) -> None:
    policy = Policy(path, seed=worker, discount=1.0, autosave_every=7)
    for i in range(rounds):
        policy.observe("arm", "factual", "hybrid", 1.0)
        policy.observe("tool", "answer", "search", 0.0)
        policy.choose("arm", "factual", ARMS, baseline="hybrid")
        policy.outcome("arm", "graph", ok=bool(i % 2))
    policy.close()


def test_two_processes_updating_tool_and_arm_posteriors_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(path), w, 40)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    state = json.loads(path.read_text())
    arm = state["spaces"]["arm"]["contexts"]["factual"]["options"]["hybrid"]
    tool = state["spaces"]["tool"]["contexts"]["answer"]["options"]["search"]
    assert arm == {"successes": 80.0, "failures": 0.0, "rewards": 80}
    assert tool == {"successes": 0.0, "failures": 80.0, "rewards": 80}
    assert state["spaces"]["arm"]["availability"]["graph"]["outcomes"] == 80
    assert Policy(path).posterior("arm", "factual", "hybrid") == (81.0, 1.0)
