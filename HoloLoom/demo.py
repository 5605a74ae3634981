"""``hololoom demo``: remember a few paragraphs, then answer two-hop questions at every level.

The built-in paragraphs are short, original descriptions of public facts, written for
this demo; ``--data DIR`` runs the same on a corpus.jsonl/questions.jsonl directory.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .types import Complexity, Document

__all__ = ["DEMO_DOCUMENTS", "DEMO_QUESTIONS", "run_demo"]

DEMO_DOCUMENTS: list[tuple[str, str]] = [
    ("Maximum Overdrive", "Maximum Overdrive is a 1986 horror film that Stephen King wrote and directed, the only film he directed. Most of it was shot in and around Leland, North Carolina."),
    ("Leland, North Carolina", "Leland is a town in Brunswick County, North Carolina, across the Cape Fear River from Wilmington."),
    ("Stephen King", "Stephen King is an American author of horror and suspense novels, born in Portland, Maine in 1947."),
    ("Portland, Maine", "Portland is the most populous city in Maine, a port on Casco Bay."),
    ("Haymo of Faversham", "Haymo of Faversham was an English Franciscan who taught in Paris and became Minister General of his order in 1240."),
    ("Franciscans", "The Franciscans are a group of Catholic religious orders founded by Francis of Assisi in 1209."),
    ("Francis of Assisi", "Francis of Assisi was an Italian friar and preacher, born in Assisi around 1181."),
    ("Cape Fear River", "The Cape Fear River is a blackwater river in North Carolina that flows into the Atlantic Ocean near Wilmington."),
    ("Casco Bay", "Casco Bay is an inlet of the Gulf of Maine on the coast of Maine, dotted with islands."),
    ("Dune (novel)", "Dune is a 1965 science fiction novel by Frank Herbert, set on the desert planet Arrakis."),
    ("Frank Herbert", "Frank Herbert was an American science fiction author, born in Tacoma, Washington in 1920."),
    ("Tacoma, Washington", "Tacoma is a port city in Washington on Commencement Bay, south of Seattle."),
]

DEMO_QUESTIONS: list[str] = [
    "In which city was the director of the film shot in Leland, North Carolina born?",
    "Who founded the order that Haymo of Faversham led?",
    "On which bay is the birthplace of the author of Dune?",
]


async def run_demo(*, home: Path | None = None, data: Path | None = None, console: Console | None = None) -> None:
    from .config import Settings
    from .loom import HoloLoom

    console = console or Console()
    if data is not None:
        rows = [json.loads(line) for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
        docs = [Document(text=r["text"], title=r.get("title")) for r in rows]
        questions = [json.loads(line)["question"] for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()][:3]
    else:
        docs = [Document(text=text, title=title) for title, text in DEMO_DOCUMENTS]
        questions = DEMO_QUESTIONS
    settings = Settings.from_env(home=home)
    async with HoloLoom(settings=settings, namespace="demo") as loom:
        started = time.perf_counter()
        result = await loom.add(docs)
        console.print(f"[bold]Loom Command[/]: remembered {len(docs)} documents as {len(result.ids)} shards "
                      f"({result.added} new) in {time.perf_counter() - started:.1f}s under {settings.home}")
        for question in questions:
            table = Table(title=question, title_justify="left")
            table.add_column("level")
            table.add_column("top memories (pass / path)")
            table.add_column("ms", justify="right")
            for level in Complexity:
                started = time.perf_counter()
                crawl = await loom.crawl(question, complexity=level, limit=3)
                elapsed = (time.perf_counter() - started) * 1000
                shown = "\n".join(
                    f"{h.shard.title or h.shard.text[:40]}  (pass {h.found_in_pass}, {sorted(p.split(':')[0].split('<-')[0] for p in h.paths)[0]})"
                    for h in crawl.items
                )
                table.add_row(level.value, shown, f"{elapsed:.0f}")
            console.print(table)
        if hasattr(loom, "weave"):
            spacetime = await loom.weave(questions[0], complexity="FULL")
            console.print(spacetime)
