"""Namespaces never leak: seeded random operations over five tenants with identical content.

Every tenant uses the same ids, texts and entities, so any read that is not scoped to its
namespace shows up as a foreign shard. Each operation is checked against a plain Python
model of what each namespace holds, on every backend of the contract suite.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from HoloLoom import MemoryShard, SearchFilter, ShardRecord
from HoloLoom.memory import MemoryStore

from .conftest import DIM, Backend

NAMESPACES = ("alice", "bob", "carol", "dave", "erin")
IDS = [f"shard-{i}" for i in range(24)]
TEXTS = ["the secret project ships on friday", "lunch with the board", "password rotation plan",
         "quarterly numbers are up", "the secret project slipped", "new office in lisbon"]
ENTITIES = ["Secret Project", "Board", "Lisbon"]
#: Operations per backend: the embedded store is fast; the server backends cost ~10-30 ms an
#: operation (more on a loaded machine), so they get fewer to keep the suite inside CI's budget.
OPERATIONS = {"embedded": 2_000}
SERVER_OPERATIONS = 600


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def shard(namespace: str, sid: str, rng: random.Random) -> ShardRecord:
    n = rng.randrange(len(TEXTS))
    return ShardRecord(MemoryShard(id=sid, namespace=namespace, text=TEXTS[n], entities=(ENTITIES[n % 3],),
                                   about=(ENTITIES[(n + 1) % 3],), metadata={"n": n}, created_at=1.0,
                                   occurred_at=float(n)), vector(n))


@pytest.mark.timeout(900)
async def test_random_operations_never_cross_namespaces(backend: Backend, store: MemoryStore) -> None:
    rng = random.Random(13)
    model: dict[str, dict[str, str]] = {ns: {} for ns in NAMESPACES}  # namespace -> id -> text
    for step in range(OPERATIONS.get(backend.name, SERVER_OPERATIONS)):
        ns = rng.choice(NAMESPACES)
        op = rng.random()
        where = f"step {step} ({ns})"
        if op < 0.30:
            records = [shard(ns, sid, rng) for sid in rng.sample(IDS, rng.randint(1, 4))]
            await store.add(records)
            model[ns].update({r.shard.id: r.shard.text for r in records})
        elif op < 0.40:
            gone = rng.sample(IDS, rng.randint(1, 3))
            assert await store.delete(gone, namespace=ns) == sum(1 for g in gone if g in model[ns]), where
            for g in gone:
                model[ns].pop(g, None)
        elif op < 0.42:
            assert await store.delete_namespace(ns) == len(model[ns]), where
            model[ns].clear()
        elif op < 0.55:
            wanted = rng.sample(IDS, 5)
            got = await store.get(wanted, namespace=ns)
            assert {s.id: s.text for s in got} == {w: model[ns][w] for w in wanted if w in model[ns]}, where
            assert all(s.namespace == ns for s in got), where
        elif op < 0.70:
            hits = await store.vector_search(vector(rng.randrange(len(TEXTS))), SearchFilter(ns), limit=8)
            assert {h.id for h in hits} <= set(model[ns]), where
            assert len(hits) == min(8, len(model[ns])), where
        elif op < 0.80:
            hits = await store.keyword_search("secret project", SearchFilter(ns), limit=8)
            assert {h.id for h in hits} <= set(model[ns]), where
        elif op < 0.88:
            links = await store.entity_lookup([rng.choice(ENTITIES).lower()], SearchFilter(ns))
            assert {link.target for link in links} <= set(model[ns]), where
        elif op < 0.94:
            seeds = [sid for sid in rng.sample(IDS, 3) if sid in model[ns]]
            if seeds:
                links = await store.neighbors(seeds, SearchFilter(ns))
                assert {link.target for link in links} <= set(model[ns]), where
        else:
            assert await store.count(ns) == len(model[ns]), where
            assert await store.existing_ids(IDS, namespace=ns) == set(model[ns]), where
    assert await store.namespaces() == sorted(ns for ns in NAMESPACES if model[ns])
    for ns in NAMESPACES:
        assert await store.count(ns) == len(model[ns])
