"""Three processes write one embedded store directory at once; each sees every commit."""

from __future__ import annotations

import asyncio
import multiprocessing

from HoloLoom import EmbeddedStore, SearchFilter

from ..contract.test_store_contract import record as _record
from ..contract.test_store_contract import vec as _vec


def _writer(path: str, start: int) -> None:
    async def run() -> None:
        async with EmbeddedStore(path) as store:
            for i in range(start, start + 20):
                await store.add([_record(i)])
    asyncio.run(run())


async def test_two_processes_share_a_directory_without_losing_writes(tmp_path) -> None:
    async with EmbeddedStore(tmp_path) as store:
        await store.add([_record(0)])
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_writer, args=(str(tmp_path), s)) for s in (100, 200)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        assert await store.count("ns") == 41
        # The index of this (older) process catches up with the others' commits.
        hits = await store.vector_search(_vec(215), SearchFilter("ns"), limit=1)
        assert hits[0].id == "s215"
