"""Learned routing, end to end on the embedded default.

Remembers the demo corpus, then asks its two-hop questions in shuffled rounds. After
each weave it gives feedback the way a user with the right answer in mind would: the
share of the question's two supporting memories found in the top 3. The policy serves the
full plan (``hybrid``) until feedback shows another arm clearly better for a query type,
exploring while feedback arrives; the script prints what it learned. Run it with ``python demos/learned_routing_demo.py [--home DIR] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from HoloLoom import Document, HoloLoom, Settings
from HoloLoom.demo import DEMO_DOCUMENTS

# (question, the two memories that answer it)
QUESTIONS = [
    ("In which city was the director of the film shot in Leland, North Carolina born?", {"Maximum Overdrive", "Stephen King"}),
    ("Who founded the order that Haymo of Faversham led?", {"Haymo of Faversham", "Franciscans"}),
    ("On which bay is the birthplace of the author of Dune?", {"Frank Herbert", "Tacoma, Washington"}),
    ("Which river separates Leland from Wilmington?", {"Leland, North Carolina", "Cape Fear River"}),
    ("What bay is the most populous city of Maine on?", {"Portland, Maine", "Casco Bay"}),
    ("Where was the founder of the Franciscans born?", {"Franciscans", "Francis of Assisi"}),
]


async def main(home: Path, rounds: int, seed: int) -> None:
    console = Console()
    rng = random.Random(seed)
    async with HoloLoom(settings=Settings.from_env(home=home, seed=seed), namespace="routing-demo") as loom:
        await loom.add([Document(text=text, title=title) for title, text in DEMO_DOCUMENTS])
        for r in range(rounds):
            order = QUESTIONS[:]
            rng.shuffle(order)
            found = []
            for question, gold in order:
                st = await loom.weave(f"{question}", tool="search", limit=3)
                titles = {item.shard.title for item in st.context[:3]}
                reward = len(titles & gold) / len(gold)
                await loom.feedback(st.id, reward)
                found.append((st.routing["arm"], reward))
            arms = ", ".join(f"{a}:{w:.1f}" for a, w in found)
            console.print(f"round {r + 1}: mean reward {sum(w for _, w in found) / len(found):.2f}  ({arms})", markup=False)
        stats = loom.orchestrator.router.stats()
        arms = loom.orchestrator.router.arms
        table = Table(title="What the policy learned (posterior mean and feedback count per query type and arm)")
        table.add_column("query type")
        for arm in arms:
            table.add_column(arm, justify="right")
        for qtype, per_arm in stats["contexts"].items():
            cells = [f"{per_arm[a]['mean']:.2f} ({per_arm[a]['rewards']})" if a in per_arm else "-" for a in arms]
            table.add_row(qtype, *cells)
        console.print(table)
        console.print(f"feedback rate {stats['feedback_rate']:.2f}; availability "
                      + ", ".join(f"{a} {v['availability']:.2f}" for a, v in stats["availability"].items()))

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="data directory (default: a temporary one)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.home is None:
        with tempfile.TemporaryDirectory(prefix="hololoom-routing-demo-") as tmp:
            asyncio.run(main(Path(tmp), args.rounds, args.seed))
    else:
        asyncio.run(main(args.home, args.rounds, args.seed))
