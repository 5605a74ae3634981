"""The store seam: every backend derives from BaseStore and serves the MemoryStore reads.

What the base class promises callers (so nothing above the seam asks a store what it
can do): ``open`` returns the store, ``async with`` opens and closes it,
``vector_search_many`` answers exactly as one ``vector_search`` per vector, and
``existing_ids``/``health`` work whatever the engine.
"""

from __future__ import annotations

import numpy as np

from HoloLoom import SearchFilter, StoreClosedError
from HoloLoom.memory import BaseStore, MemoryStore

from .conftest import Backend
from .test_store_contract import ids, record, vec


async def test_every_backend_is_a_base_store_with_the_read_protocol(backend: Backend) -> None:
    store = backend.make()
    assert isinstance(store, BaseStore) and isinstance(store, MemoryStore)
    async with store as opened:
        assert opened is store
        await store.add([record(i, entities=("Shared",)) for i in range(8)])
        assert await store.existing_ids(["s1", "s9"], namespace="ns") == {"s1"}
        assert (await store.health())["ok"] is True
    try:
        await store.count()
    except StoreClosedError:
        pass
    else:  # pragma: no cover - the assertion message says what went wrong
        raise AssertionError("a store closed by `async with` still answers")


async def test_vector_search_many_equals_one_search_per_vector(store: BaseStore) -> None:
    await store.add([record(i, metadata={"parity": i % 2}) for i in range(30)])
    queries = [vec(100 + i) for i in range(4)]
    flt = SearchFilter("ns", where={"parity": 1})
    many = await store.vector_search_many(queries, flt, limit=5)
    one_by_one = [await store.vector_search(q, flt, limit=5) for q in queries]
    assert [ids(hits) for hits in many] == [ids(hits) for hits in one_by_one]
    for a, b in zip(many, one_by_one):
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    assert await store.vector_search_many([], flt, limit=5) == []
