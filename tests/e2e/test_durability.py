"""kill -9 during large batches: every write the store acknowledged is there after reopening.

A child process adds batches of 2,000 shards to the embedded store (the default backend)
and prints each batch's number only after ``add()`` returned, that is once the store
acknowledged it. The parent kills it with SIGKILL at a seeded random moment, reopens the
store, and checks that every acknowledged shard is present with its content, and that
the store is usable (a new write and a search succeed). Twenty seeded trials.

The child writes at the store level with seeded random vectors: what is under test is the
store's durability, not the model, and loading torch twenty times would cost minutes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from HoloLoom import MemoryShard, SearchFilter, ShardRecord
from HoloLoom.memory import EmbeddedStore

TRIALS = 20
BATCH = 2_000
DIM = 384

CHILD = textwrap.dedent("""
    import asyncio, sys
    import numpy as np
    from HoloLoom import MemoryShard, ShardRecord
    from HoloLoom.memory import EmbeddedStore

    path, trial, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    def records(n):
        rng = np.random.default_rng(trial * 100_000 + n)
        vectors = rng.standard_normal((batch, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # unit length, like the embedder's
        return [ShardRecord(MemoryShard(id=f"t{trial}-b{n}-{i}", namespace="durable", text=f"batch {n} item {i}",
                                        entities=(f"entity {i % 50}",), created_at=1.0, occurred_at=1.0),
                            vectors[i]) for i in range(batch)]

    async def main():
        async with EmbeddedStore(path, dimension=384) as store:
            n = 0
            while True:
                await store.add(records(n))
                print(n, flush=True)  # acknowledged: add() returned
                n += 1

    asyncio.run(main())
""")


def run_trial(tmp_path: Path, trial: int) -> tuple[int, float]:
    """One kill -9; returns (acknowledged batches, seconds the child ran)."""
    rng = random.Random(trial)
    path = tmp_path / f"trial-{trial}"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(trial), str(BATCH)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged: list[int] = []
    started = time.monotonic()
    # Wait for a seeded number of acknowledged batches (0-3), then a seeded delay: the kill lands
    # anywhere in the next batch (embedding done, mid-transaction, mid-index update).
    wanted = rng.randint(0, 3)
    assert proc.stdout is not None
    while len(acknowledged) < wanted:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended early: {proc.stderr.read() if proc.stderr else ''}")
        acknowledged.append(int(line))
    time.sleep(rng.uniform(0.0, 0.4))
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    acknowledged += [int(x) for x in out.split()]
    ran = time.monotonic() - started
    assert proc.returncode == -signal.SIGKILL

    async def check() -> None:
        async with EmbeddedStore(path, dimension=DIM) as store:
            ids = [f"t{trial}-b{n}-{i}" for n in acknowledged for i in range(BATCH)]
            found = {s.id: s for s in await store.get(ids, namespace="durable")} if ids else {}
            missing = [i for i in ids if i not in found]
            assert not missing, f"trial {trial}: {len(missing)} acknowledged shards lost, e.g. {missing[:3]}"
            for n in acknowledged:
                assert found[f"t{trial}-b{n}-7"].text == f"batch {n} item 7"
            count = await store.count("durable")
            assert count >= len(ids) and count % BATCH == 0, f"trial {trial}: a torn batch ({count} shards)"
            # Still usable: a new write and a search.
            vector = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
            await store.add([ShardRecord(MemoryShard(id="after", namespace="durable", text="after the crash"), vector)])
            hits = await store.vector_search(vector, SearchFilter("durable"), limit=1)
            assert [h.id for h in hits] == ["after"]

    asyncio.run(check())
    return len(acknowledged), ran


@pytest.mark.timeout(600)
def test_kill_9_during_large_batches_loses_no_acknowledged_write(tmp_path: Path) -> None:
    results = [run_trial(tmp_path, trial) for trial in range(TRIALS)]
    acknowledged = sum(n for n, _ in results)
    print(f"{TRIALS} kill -9 trials, {acknowledged} acknowledged batches ({acknowledged * BATCH:,} shards), none lost")
    assert sum(1 for n, _ in results if n == 0) < TRIALS  # some trials really had acknowledged writes to keep
