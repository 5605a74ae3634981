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


def test_add_a_folder_tree_recall_ids_ask_cites_rows(tmp_path: Path) -> None:
    home, notes = tmp_path / "home", tmp_path / "notes"
    (notes / "work" / "2026").mkdir(parents=True)
    (notes / "work" / "2026" / "2026-03-04-kestrel-contract.md").write_text(
        "# Kestrel contract\n\nSigned the **Kestrel** contract today for the six robot arms.\n")
    (notes / "work" / "org.md").write_text("---\ndate: 2025-07-10\n---\n# Org\nLena Fischer is the VP of Engineering.\n")
    (notes / "work" / "2026" / "2026-04-06-all-hands.txt").write_text("Sofia Alvarez confirmed as permanent VP of Engineering.")
    (notes / "journal.jsonl").write_text(json.dumps({"date": "2026-05-16", "text": "Hiked the Ridge Trail with Sam."}) + "\n")
    (notes / "scan.pdf").write_bytes(b"%PDF-1.4")
    (notes / "work" / "photo.png").write_bytes(b"\x89PNG")
    out = run(["add", str(notes)], home)
    assert "added 4 new shard(s)" in out.stdout and "in 4 file(s)" in out.stdout
    assert "skipped 2 file(s)" in out.stdout and "Traceback" not in out.stderr

    out = run(["recall", "Kestrel contract", "--json"], home)
    hits = json.loads(out.stdout)
    kestrel = next(h for h in hits if "Kestrel" in h["shard"]["text"])
    assert kestrel["shard"]["occurred_at"] == 1772582400.0  # 2026-03-04, from the file name
    out = run(["recall", "Kestrel contract", "-k", "2"], home)
    assert kestrel["shard"]["id"] in out.stdout  # ids are shown: forget takes them

    out = run(["ask", "When did we sign the Kestrel contract?", "--json", "--now", "2026-05-20"], home)
    st = json.loads(out.stdout)
    rows = [int(n) for n in __import__("re").findall(r"\[(\d+)\]", st["response"])]
    assert rows and st["cited_rows"] == sorted(set(rows))
    for n in rows:
        assert "Kestrel" in st["context"][n - 1]["shard"]["text"]
    assert "March 4, 2026" in st["response"] and "**" not in st["response"]

    out = run(["ask", "Who is the VP of Engineering?", "--json"], home)
    st = json.loads(out.stdout)
    assert st["response"].startswith("Sofia Alvarez")
    older = next(c for c in st["context"] if "Lena" in c["shard"]["text"])
    assert any(p.startswith("superseded-by:") for p in older["paths"])

    out = run(["ask", "What is Priya Shah's phone number?"], home)
    assert "I found nothing in memory that answers this" in out.stdout

    out = run(["add", str(tmp_path / "missing")], home, check=False)
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [["stats"], ["forget", "0" * 32], ["feedback", "0" * 32, "--useful"], ["--help"]])
def test_light_commands_never_import_torch(tmp_path: Path, args: list[str]) -> None:
    probe = ("import runpy, sys; sys.argv = ['hololoom'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('HoloLoom.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    env = {**os.environ, "HOLOLOOM_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr
