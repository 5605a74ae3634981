"""The terminal UI, scripted or interactive, on the embedded default.

    python demos/terminal_ui_demo.py                 # "tour": one question per level, live stages
    python demos/terminal_ui_demo.py --mode session  # a scripted session: question, history, stats, trace, +
    python demos/terminal_ui_demo.py --mode interactive

Every mode first remembers the built-in demo corpus (see ``HoloLoom.demo``) in a
temporary home unless ``--home`` is given. The stage table is driven by the weave's
real events as they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from HoloLoom import Complexity, Document, HoloLoom, Settings, TerminalUI
from HoloLoom.demo import DEMO_DOCUMENTS, DEMO_QUESTIONS

SCRIPT = [DEMO_QUESTIONS[0], "history", "stats", "trace", "+", "level 3", DEMO_QUESTIONS[1], "-", "stats", "quit"]


async def run(mode: str, home: Path) -> None:
    console = Console()
    async with HoloLoom(settings=Settings.from_env(home=home), namespace="tui-demo") as loom:
        await loom.add([Document(text=text, title=title) for title, text in DEMO_DOCUMENTS])
        ui = TerminalUI(loom, console)
        if mode == "tour":
            for level, question in zip(Complexity, DEMO_QUESTIONS + DEMO_QUESTIONS[:1]):
                console.print(Rule(f"{level.value}"))
                await ui.weave_with_display(question, complexity=level)
        elif mode == "session":
            lines = iter(SCRIPT)

            await ui.run_session(lambda prompt: next(lines, None))  # the session echoes scripted lines
        else:
            await ui.run_session()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("tour", "session", "interactive"), default="tour")
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    if args.home is not None:
        asyncio.run(run(args.mode, args.home))
        return
    with tempfile.TemporaryDirectory(prefix="hololoom-tui-demo-") as tmp:
        asyncio.run(run(args.mode, Path(tmp)))


if __name__ == "__main__":
    main()
