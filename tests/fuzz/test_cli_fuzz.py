"""Fuzz every ``hololoom`` command with generated arguments (issue 13).

Properties, for every generated invocation:
* the exit code is 0 or 2, and nothing prints a traceback;
* nothing printed holds a raw ESC or BEL (stored text and queries are rendered inertly;
  ``--json`` escapes control characters itself);
* when it exits 2, the store's shard count and content are exactly what they were.

Most cases run in-process (typer's CliRunner) on one store built once, so the model is
loaded once; a smaller sample runs the real console script in a subprocess, where a
traceback or an exit code would show exactly as a user sees it. Commands that would run
for minutes or serve forever when given good arguments (benchmarks, demo, dashboard,
metrics) are fuzzed with at least one bad argument, which must stop them with exit 2.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from typer.main import get_command
from typer.testing import CliRunner

from HoloLoom import Document, HoloLoom, Settings
from HoloLoom.cli import app

from . import strategies as s
from .strategies import fuzz

pytestmark = pytest.mark.fuzz

COUNTS: collections.Counter[str] = collections.Counter()
EXITS: collections.Counter[str] = collections.Counter()


class CliHarness:
    """A home with a small corpus (escape and markup samples included), and its snapshot."""

    def __init__(self, root: Path, embedder: Any) -> None:
        self.root = root
        self.home = root / "home"
        self.env = {"HOLOLOOM_HOME": str(self.home), "HOLOLOOM_ROUTING": "fixed", "HOLOLOOM_SEED": "7",
                    "HOLOLOOM_NAMESPACE": "", "COLUMNS": "100",
                    # no API tokens: `serve` must refuse a public address rather than start
                    "HOLOLOOM_API_TOKENS": "", "HOLOLOOM_API_TOKENS_FILE": "", "HOLOLOOM_API_METRICS_TOKEN": ""}
        self.embedder = embedder
        corpus = [Document(text=f"{sample} Leland is a town in North Carolina where films were shot.",
                           title=f"Leland {sample}" if sample.isprintable() else f"Leland {i}",  # markup titles
                           metadata={"speaker": "Ana"}) for i, sample in enumerate(s.ESCAPES)]

        async def build() -> list[str]:
            async with self.loom() as loom:
                return (await loom.add(corpus)).ids + (await loom.add(corpus, namespace="fuzz")).ids

        self.ids = asyncio.run(build())
        self.spacetime_id = "0123456789abcdef0123456789abcdef"
        self.a_file = root / "notes.txt"
        self.a_file.write_text("Notes: Wilmington is a port city. \x1b[2J", encoding="utf-8")
        self.bad_files = self._bad_files(root)
        self.runner = CliRunner()

    def loom(self) -> HoloLoom:
        return HoloLoom(settings=Settings(home=self.home, routing="fixed", seed=7), embedder=self.embedder)

    @staticmethod
    def _bad_files(root: Path) -> list[str]:
        files = {
            "meta-string.jsonl": '{"text": "a", "metadata": "a string"}\n',
            "meta-list.jsonl": '{"text": "a", "metadata": [1, 2]}\n',
            "not-json.jsonl": "{oops\n",
            "no-text.jsonl": '{"title": "x"}\n',
            "text-number.jsonl": '{"text": 5}\n',
            "bad-fields.jsonl": '{"text": "a", "entities": 5, "occurred_at": "never", "id": "\\u0000"}\n',
            "deep.jsonl": '{"text": "a", "metadata": ' + '{"a": ' * 50 + "1" + "}" * 51 + "\n",
            "surrogate.jsonl": '{"text": "a \\ud800 b"}\n',
        }
        paths = []
        for name, content in files.items():
            (root / name).write_text(content, encoding="utf-8")
            paths.append(str(root / name))
        (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
        (root / "latin1.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
        (root / "a-dir.jsonl").mkdir()
        return [*paths, str(root / "latin1.txt"), str(root / "latin1.jsonl"), str(root / "a-dir.jsonl"), str(root),
                str(root / "missing.txt"), str(root / "notes.txt" / "below-a-file")]

    def snapshot(self) -> tuple[str, str]:
        async def take() -> tuple[str, str]:
            async with self.loom() as loom:
                namespaces = sorted(await loom.store.namespaces())
                counts = {ns: await loom.store.count(ns) for ns in namespaces}
                content = [sh.to_dict() for ns in namespaces for sh in await loom.store.get(self.ids, namespace=ns)]
            return json.dumps(counts, sort_keys=True), json.dumps(content, sort_keys=True)

        return asyncio.run(take())

    def invoke(self, command: str, args: list[str], *, input: str | None = None) -> None:
        COUNTS[command] += 1
        before = self.snapshot()
        result = self.runner.invoke(app, args, env=self.env, input=input, catch_exceptions=True)
        EXITS[str(result.exit_code)] += 1
        shown = f"hololoom {args!r:.300} -> exit {result.exit_code}: {result.output[-600:]!r}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{shown} raised {type(result.exception).__name__}: {result.exception}") \
                from result.exception
        assert result.exit_code in (0, 2), shown
        assert "Traceback" not in result.output, shown
        assert "\x1b" not in result.output and "\x07" not in result.output, f"raw escape printed: {shown}"
        if result.exit_code == 2:
            assert self.snapshot() == before, f"refused but changed the store: {shown}"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    root = tmp_path_factory.mktemp("cli-fuzz")
    old = os.getcwd()
    os.chdir(root)  # whatever a case does with relative paths stays in the temporary tree
    try:
        yield CliHarness(root, embedder)
    finally:
        os.chdir(old)
        report = os.environ.get("HOLOLOOM_FUZZ_REPORT")
        if report:
            path = Path(report).with_suffix(".cli.json")
            path.write_text(json.dumps({"cli": {"cases": dict(COUNTS), "exits": dict(EXITS),
                                                "total": sum(COUNTS.values())}}, indent=2))


# -- argument strategies -----------------------------------------------------------------

def arg_text(valid: st.SearchStrategy) -> st.SearchStrategy:
    """A command-line value: usually valid, sometimes any string at all (argv holds only strings)."""
    return st.one_of(valid, valid, valid, s.nasty_text, st.integers().map(str), st.floats().map(str))


def option(flag: str, value: st.SearchStrategy) -> st.SearchStrategy:
    """``[flag, value]`` or nothing."""
    return st.one_of(st.just([]), value.map(lambda v: [flag, v]))


namespace_opt = option("-n", arg_text(st.sampled_from(["default", "fuzz", "empty-ns"])))
json_opt = st.sampled_from([[], ["--json"]])
level_opt = option("-c", arg_text(st.sampled_from(["LITE", "fast", "FULL", "RESEARCH"])))
stray = st.one_of(st.just([]), st.just([]), st.lists(s.nasty_text, max_size=2),
                  st.sampled_from([["--bogus"], ["-z", "1"], ["--json", "--json"], ["--"]]))


def flat(*parts: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(*parts).map(lambda groups: [a for g in groups for a in g])


@st.composite
def add_args(draw: Any, cli: CliHarness) -> list[str]:
    files = draw(st.lists(st.sampled_from([str(cli.a_file), *cli.bad_files]), max_size=2))
    texts = draw(st.lists(arg_text(s.plain_text), max_size=2))
    args = ["add", *files, *[a for t in texts for a in ("--text", t)]]
    return args + draw(flat(namespace_opt, option("--batch", arg_text(st.sampled_from(["1", "64"]))), stray))


def recall_args() -> st.SearchStrategy:
    return flat(st.just(["recall"]), arg_text(s.questions).map(lambda q: [q]), level_opt,
                option("-k", arg_text(st.sampled_from(["1", "5"]))), namespace_opt, json_opt, stray)


def ask_args() -> st.SearchStrategy:
    return flat(st.just(["ask"]), arg_text(s.questions).map(lambda q: [q]), level_opt,
                option("--tool", arg_text(st.sampled_from(["answer", "search", "summarize"]))),
                option("--since", arg_text(st.sampled_from(["2020-01-01", "0"]))),
                option("--until", arg_text(st.sampled_from(["2030-01-01"]))), namespace_opt,
                st.sampled_from([[], ["--json"], ["--trace"]]), stray)


def feedback_args(cli: CliHarness) -> st.SearchStrategy:
    ids = arg_text(st.sampled_from([cli.spacetime_id, "f" * 32]))
    return flat(st.just(["feedback"]), ids.map(lambda i: [i]), option("--reward", arg_text(st.sampled_from(["0.5", "1"]))),
                st.sampled_from([[], ["--useful"], ["--not-useful"]]), stray)


def forget_args(cli: CliHarness) -> st.SearchStrategy:
    # Valid forgets go to a scratch namespace so the corpus stays for the other commands.
    ids = st.lists(arg_text(st.sampled_from(cli.ids[:3] + ["no-such-id"])), max_size=3)
    return flat(st.just(["forget"]), ids, st.sampled_from([[], ["--all", "--yes"]]),
                option("-n", arg_text(st.just("scratch"))).map(lambda o: o or ["-n", "scratch"]), stray)


def stats_args() -> st.SearchStrategy:
    return flat(st.just(["stats"]), json_opt, stray)


bad_int = st.sampled_from(["0", "-1", "abc", "", "1e9", "99999999999999999999999", "\ud800", "NaN"])
bad_port = st.sampled_from(["-1", "65536", "abc", "", "1.5", "\x1b[2J"])
bad_path = st.sampled_from(["/nonexistent/dir", "", "\x00", "\ud800", "/etc/hostname"])


@st.composite
def long_running_args(draw: Any) -> list[str]:
    """A command that would run for minutes or forever, given at least one bad argument."""
    which = draw(st.sampled_from(["demo", "bench quality", "bench latency", "bench routing", "bench backends",
                                  "bench scale", "bench answers", "bench cli", "metrics", "dashboard", "tui", "serve", "mcp",
                                  "bench http",
                                  "bench sizing"]))
    bad = {
        "demo": st.tuples(st.just("--data"), bad_path),
        "bench quality": st.one_of(st.tuples(st.just("--data"), bad_path),
                                   st.tuples(st.just("--feedback"), s.nasty_text.filter(lambda f: f not in ("none", "gold"))),
                                   st.tuples(st.just("--backend"), s.nasty_text.filter(lambda b: b not in BENCHED))),
        "bench latency": st.tuples(st.sampled_from(["--memories", "--repeats"]), bad_int),
        "bench scale": st.one_of(st.tuples(st.just("--memories"), st.one_of(bad_int, st.sampled_from(["10,abc", ",", "5,-3"]))),
                                 st.tuples(st.just("--repeats"), bad_int),
                                 st.tuples(st.just("--backend"), s.nasty_text.filter(
                                     lambda b: b not in ("embedded", "qdrant-server", "qdrant-cluster")))),
        "bench routing": st.one_of(st.tuples(st.just("--rounds"), bad_int), st.tuples(st.just("--data"), bad_path)),
        "bench backends": st.one_of(st.tuples(st.just("--memories"), bad_int),
                                    st.tuples(st.just("--backend"), s.nasty_text.filter(lambda b: b not in BENCHED))),
        "bench answers": st.tuples(st.just("--data"), bad_path),
        "bench cli": st.tuples(st.sampled_from(["--memories", "--repeats"]), bad_int),
        "metrics": st.tuples(st.just("--port"), bad_port),
        "dashboard": st.one_of(st.tuples(st.just("--port"), bad_port),
                               st.tuples(st.just("--refresh-ms"), st.sampled_from(["0", "199", "-5", "x"]))),
        "tui": st.one_of(st.tuples(st.just("--complexity"), s.nasty_text.filter(lambda c: c.strip().upper()
                                                                                   not in ("LITE", "FAST", "FULL", "RESEARCH"))),
                         st.tuples(st.just("--metrics-port"), bad_port),
                         st.tuples(st.just("--namespace"), st.sampled_from(["bad ns", "", "../x", "\x1b[2J"]))),
        "serve": st.one_of(st.tuples(st.just("--port"), bad_port),
                           st.tuples(st.just("--host"), st.sampled_from(["0.0.0.0", "::"])),  # no tokens: refused
                           st.tuples(st.just("--backend"), s.nasty_text.filter(lambda b: b not in BENCHED))),
        "mcp": st.one_of(st.tuples(st.just("--namespace"), st.sampled_from(["bad ns", "", "../x", "\x1b[2J"])),
                         st.tuples(st.just("--home"), st.sampled_from(["/etc/hostname", "\x00"]))),
        "bench http": st.tuples(st.sampled_from(["--memories", "--clients", "--rounds", "--duration"]), bad_int),
        "bench sizing": st.tuples(st.just("--memories"), bad_int),
    }[which]
    flag, value = draw(bad)
    return [*which.split(), flag, value, *draw(stray)]


BENCHED = ("embedded", "neo4j", "qdrant", "hybrid")


# -- the tests -------------------------------------------------------------------------

@fuzz(150)
@given(data=st.data())
def test_add(cli: CliHarness, data: Any) -> None:
    cli.invoke("add", data.draw(add_args(cli)))


@fuzz(120)
@given(args=recall_args())
def test_recall(cli: CliHarness, args: list[str]) -> None:
    cli.invoke("recall", args)


@fuzz(100)
@given(args=ask_args())
def test_ask(cli: CliHarness, args: list[str]) -> None:
    cli.invoke("ask", args)


@fuzz(60)
@given(data=st.data())
def test_feedback(cli: CliHarness, data: Any) -> None:
    cli.invoke("feedback", data.draw(feedback_args(cli)))


@fuzz(60)
@given(data=st.data())
def test_forget(cli: CliHarness, data: Any) -> None:
    cli.invoke("forget", data.draw(forget_args(cli)))


@fuzz(30)
@given(args=stats_args())
def test_stats(cli: CliHarness, args: list[str]) -> None:
    cli.invoke("stats", args)


@fuzz(40)
@given(lines=st.lists(arg_text(st.one_of(s.questions, st.sampled_from(["+", "-", "trace", "trace 9", "history",
                                                                          "stats", "level 3", ":level nope", "help"]))),
                      max_size=3), args=flat(option("--complexity", arg_text(st.sampled_from(["LITE", "FAST"]))), namespace_opt))
def test_tui_session(cli: CliHarness, lines: list[str], args: list[str]) -> None:
    cli.invoke("tui", ["tui", *args], input="\n".join([*lines, "quit"]) + "\n")


@fuzz(120)
@given(args=long_running_args())
def test_long_running_commands_refuse_bad_arguments(cli: CliHarness, args: list[str]) -> None:
    cli.invoke(" ".join(args[:2]) if args[0] == "bench" else args[0], args)


@fuzz(30)
@given(args=st.lists(s.nasty_text, max_size=3))
def test_garbage_command_lines(cli: CliHarness, args: list[str]) -> None:
    cli.invoke("garbage", args)


def _commands(group: Any, prefix: str = "") -> set[str]:
    names = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer may not use click's own class)
            names |= _commands(command, f"{prefix}{name} ")
        else:
            names.add(prefix + name)
    return names


def test_every_command_is_fuzzed() -> None:
    """A new command must get a strategy here (the set is what the tests above cover)."""
    fuzzed = {"add", "recall", "ask", "feedback", "forget", "stats", "tui", "demo", "bench quality", "bench latency",
              "bench routing", "bench backends", "bench scale", "bench answers", "bench cli", "metrics", "dashboard",
              "serve", "mcp", "bench http", "bench sizing"}
    assert _commands(get_command(app)) == fuzzed  # type: ignore[arg-type]


# -- the same, as a user runs it ---------------------------------------------------------

def _argv_safe(args: list[str]) -> bool:
    try:
        return all("\x00" not in a and os.fsencode(a) is not None for a in args)
    except UnicodeEncodeError:
        return False


@pytest.mark.timeout(600)
@fuzz(10)
@given(args=st.one_of(recall_args(), ask_args(), long_running_args(), stats_args()))
def test_real_process_exit_codes_and_no_traceback(cli: CliHarness, args: list[str]) -> None:
    assume(_argv_safe(args))
    COUNTS["subprocess"] += 1
    proc = subprocess.run([sys.executable, "-m", "HoloLoom.cli", *args], capture_output=True, timeout=300,
                          env={**os.environ, **cli.env}, cwd=cli.root, stdin=subprocess.DEVNULL)
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    EXITS[f"subprocess {proc.returncode}"] += 1
    assert proc.returncode in (0, 2), (args, proc.returncode, out[-800:])
    assert "Traceback" not in out, (args, out[-800:])
    assert b"\x1b" not in proc.stdout + proc.stderr, (args, out[-800:])
