"""The `hololoom` command end to end, in subprocesses, on a temporary HOLOLOOM_HOME."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HOLOLOOM = [sys.executable, "-m", "HoloLoom.cli"]


def run(args: list[str], home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Fixed routing and a seed: these tests check what the command prints for a known store;
    # learned routing (the default) has its own tests.
    env = {**os.environ, "HOLOLOOM_HOME": str(home), "COLUMNS": "120", "HOLOLOOM_ROUTING": "fixed", "HOLOLOOM_SEED": "1"}
    proc = subprocess.run(HOLOLOOM + args, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def test_add_then_ask_then_feedback_then_forget(tmp_path: Path) -> None:
    home = tmp_path / "home"
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(r) for r in [
        {"title": "Maximum Overdrive", "text": "Maximum Overdrive is a 1986 film directed by Stephen King, shot in Leland, North Carolina."},
        {"title": "Stephen King", "text": "Stephen King is an American author born in Portland, Maine."},
    ]))
    out = run(["add", str(notes), "--text", "Portland is a port city in Maine."], home)
    assert "added 3 new shard(s)" in out.stdout
    out = run(["add", str(notes)], home)
    assert "added 0 new shard(s), 2 already stored" in out.stdout

    out = run(["ask", "Where was the director of the film shot in Leland born?", "--json"], home)
    st = json.loads(out.stdout)
    assert st["complexity"] in {"FAST", "FULL"} and len(st["stages"]) == 9
    assert "Portland" in st["response"]
    assert {c["shard"]["metadata"].get("title") for c in st["context"][:2]} == {"Maximum Overdrive", "Stephen King"}

    out = run(["ask", "Where was Stephen King born?", "-c", "LITE"], home)
    assert "Spacetime" in out.stdout and "Loom Command" in out.stdout and "Portland" in out.stdout

    out = run(["feedback", st["id"], "--useful"], home)
    assert "recorded reward 1.00" in out.stdout

    out = run(["stats", "--json"], home)
    assert json.loads(out.stdout)["namespaces"] == {"default": 3}

    shard_id = st["context"][0]["shard"]["id"]
    out = run(["forget", shard_id], home)
    assert "deleted 1 shard(s)" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", ""], "query must have at least 1 character"),
        (["ask", "hello there", "-c", "MEGA"], "complexity must be one of LITE, FAST, FULL, RESEARCH"),
        (["feedback", "xyz", "--useful"], "spacetime_id must be 32 lowercase hexadecimal characters"),
        (["feedback", "0123456789abcdef0123456789abcdef", "--reward", "2"], "reward must lie in [0, 1]"),
        (["feedback", "0123456789abcdef0123456789abcdef", "--reward", "0.5"], "no recent weave"),
        (["add", "--text", "   "], "text must not be empty or only whitespace"),
        (["add", "-n", "bad namespace!", "--text", "x"], "namespace must be 1-128 characters"),
    ],
)
def test_bad_input_gets_a_message_and_exit_code_not_a_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run(args, tmp_path / "home", check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
