"""The write path: validate, chunk, extract, derive ids, embed once, store.

Everything a call will write is validated before the first byte is stored, so bad
input never leaves a half-written batch. Ids are derived from namespace and content
(unless given), so adding the same text twice stores it once, and texts already
stored are not embedded again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .chunking import chunk_text
from .embedding import Embedder
from .errors import ValidationError
from .event_dates import EVENT_DATES, stated_dates
from .extraction import EntityExtractor
from .memory.base import BaseStore, ShardRecord
from .threads import (
    DEFAULT_ENTITY_KEYS,
    DEFAULT_THREAD_KEYS,
    REPLY_TO,
    THREAD,
    ThreadTail,
    metadata_entities,
    speaker_prefix,
    thread_of,
)
from .types import Document, MemoryShard, validate_namespace
from .validation import EntityNames, Instant, Metadata, ShardId, Title, check, check_text

__all__ = ["AddResult", "Ingestor", "shard_id"]

#: Texts embedded per step of a large add(); each step's store write overlaps the next
#: step's encoding.
WRITE_STEP = 256


def shard_id(namespace: str, text: str) -> str:
    """The id HoloLoom derives for ``text`` in ``namespace``: stable across runs and machines."""
    return hashlib.sha256(f"{namespace}\x1f{text}".encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class AddResult:
    """What an add() did.

    Attributes:
        ids: the shard ids of every chunk, in input order (existing ones included).
        added: how many shards were new.
        unchanged: how many were already stored with the same content (not re-embedded).
    """

    ids: list[str]
    added: int
    unchanged: int

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class _Pending:
    shard: MemoryShard
    embed_text: str
    explicit_time: bool


def _check_metadata(metadata: object, name: str = "metadata") -> dict[str, Any]:
    return {} if metadata is None else check(name, metadata, Metadata)


class Ingestor:
    """Turns user input into stored shards.

    Args:
        entity_keys: metadata keys whose values are entities a memory is about (who said it).
        thread_keys: metadata keys that together name a conversation thread; see
            :mod:`HoloLoom.threads`.
    """

    def __init__(
        self,
        store: BaseStore,
        embedder: Embedder,
        extractor: EntityExtractor,
        *,
        chunk_chars: int = 1200,
        max_text_chars: int = 2_000_000,
        entity_keys: Sequence[str] = DEFAULT_ENTITY_KEYS,
        thread_keys: Sequence[str] = DEFAULT_THREAD_KEYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.extractor = extractor
        self.chunk_chars = chunk_chars
        self.max_text_chars = max_text_chars
        self.entity_keys = tuple(entity_keys)
        self.thread_keys = tuple(thread_keys)
        self.clock = clock

    def normalise(
        self,
        items: str | Document | Mapping[str, Any] | Sequence[str | Document | Mapping[str, Any]],
        *,
        metadata: Mapping[str, Any] | None = None,
        entities: Sequence[str] | None = None,
        occurred_at: object = None,
        title: str | None = None,
        id: str | None = None,
    ) -> list[Document]:
        """Accept one text, many texts, Documents or dicts; return validated Documents."""
        if isinstance(items, (str, Document, Mapping)):
            items = [items]  # type: ignore[list-item]
        elif not isinstance(items, Sequence):
            raise ValidationError(f"add() takes text, a Document, or a list of them, not {type(items).__name__}")
        if len(items) == 0:
            raise ValidationError("nothing to add")
        if id is not None and len(items) != 1:
            raise ValidationError("id= applies to a single text; give each Document its own id")
        base_meta = _check_metadata(metadata)
        docs: list[Document] = []
        for item in items:
            if isinstance(item, str) or item is None or not isinstance(item, (Document, Mapping)):
                doc = Document(text=item, metadata=base_meta, id=id, title=title,  # type: ignore[arg-type]
                               entities=tuple(entities) if entities is not None else None, occurred_at=occurred_at)
            elif isinstance(item, Mapping):
                unknown = set(item) - {"text", "metadata", "id", "title", "entities", "occurred_at"}
                if unknown:
                    raise ValidationError(f"unknown document fields: {', '.join(sorted(map(str, unknown)))}")
                doc = Document(
                    text=item.get("text"),  # type: ignore[arg-type]
                    metadata={**base_meta, **_check_metadata(item.get("metadata"))},
                    id=item.get("id", id), title=item.get("title", title),
                    entities=item.get("entities", entities), occurred_at=item.get("occurred_at", occurred_at),
                )
            else:
                doc = Document(
                    text=item.text, metadata={**base_meta, **_check_metadata(item.metadata)},
                    id=item.id if item.id is not None else id,
                    title=item.title if item.title is not None else title,
                    entities=item.entities if item.entities is not None else entities,
                    occurred_at=item.occurred_at if item.occurred_at is not None else occurred_at,
                )
            docs.append(self._validate(doc))
        return docs

    def _validate(self, doc: Document) -> Document:
        """Every field through the one validation layer (HoloLoom.validation)."""
        entities = doc.entities
        if entities is not None and not isinstance(entities, (str, Mapping)) and isinstance(entities, Iterable):
            entities = list(entities)  # a tuple or generator of names is as good as a list
        names = check("entities", entities, EntityNames) if entities is not None else []
        return Document(
            text=check_text(doc.text, max_chars=self.max_text_chars), metadata=doc.metadata,
            id=check("id", doc.id, ShardId) if doc.id is not None else None,
            title=check("title", doc.title, Title) if doc.title is not None else None,
            entities=tuple(dict.fromkeys(n.strip() for n in names)),
            occurred_at=check("occurred_at", doc.occurred_at, Instant) if doc.occurred_at is not None else None,
        )

    def plan(self, docs: Sequence[Document], namespace: str) -> list[_Pending]:
        """Chunk, extract and link turns within the batch; pure (no I/O), so a failure here writes nothing."""
        validate_namespace(namespace)
        now = self.clock()
        pending: dict[str, _Pending] = {}
        last_turn: dict[str, str] = {}  # thread -> its latest shard in this batch
        for doc in docs:
            chunks = chunk_text(doc.text, self.chunk_chars)
            document_id = doc.id or (shard_id(namespace, doc.text) if len(chunks) > 1 else None)
            thread = thread_of(doc.metadata, self.thread_keys)
            about = self._about(doc, threaded=thread is not None)
            for index, chunk in enumerate(chunks):
                if doc.id and len(chunks) == 1:
                    sid = doc.id
                elif doc.id:
                    sid = f"{doc.id}#{index}"
                else:
                    sid = shard_id(namespace, chunk)
                metadata = dict(doc.metadata)
                if doc.title:
                    metadata.setdefault("title", doc.title)
                if len(chunks) > 1:
                    metadata["document_id"] = document_id
                    metadata["chunk_index"] = index
                    metadata["chunk_count"] = len(chunks)
                if thread is not None:
                    metadata.setdefault(THREAD, thread)  # a caller's own thread id stays as given
                    previous = last_turn.get(thread)
                    if REPLY_TO not in doc.metadata and previous is not None and previous != sid:
                        metadata[REPLY_TO] = previous
                    last_turn[thread] = sid
                    dates = stated_dates(chunk, at=doc.occurred_at if doc.occurred_at is not None else now)
                    if dates:
                        metadata[EVENT_DATES] = dates
                found = self.extractor.entities(chunk)
                names = tuple(dict.fromkeys([*(doc.entities or ()), *found]))
                shard = MemoryShard(
                    id=sid, namespace=namespace, text=chunk, metadata=metadata, entities=names,
                    about=about, motifs=tuple(self.extractor.motifs(chunk)),
                    created_at=now, occurred_at=float(doc.occurred_at) if doc.occurred_at is not None else now,
                )
                embed_text = f"{doc.title}\n{chunk}" if doc.title and doc.title not in chunk[:200] else chunk
                pending[sid] = _Pending(shard, embed_text, doc.occurred_at is not None)  # the last duplicate in a batch wins
        return list(pending.values())

    async def _embed_and_store(self, todo: list[_Pending]) -> None:
        """Embed and store in steps of :data:`WRITE_STEP`, each step's write overlapping the
        next step's encoding (one embedding batch for a call that fits in one step).

        The store's work (SQLite, graph links, BM25, the vector file's fsync) then costs
        almost nothing beside the model. A failure part-way leaves the earlier steps stored;
        adding again completes the call, since ids are derived from content.
        """
        writing: asyncio.Task[list[str]] | None = None
        try:
            for start in range(0, len(todo), WRITE_STEP):
                part = todo[start : start + WRITE_STEP]
                vectors = await self.embedder.embed([p.embed_text for p in part])
                if writing is not None:
                    await writing
                records = [ShardRecord(p.shard, vectors[i]) for i, p in enumerate(part)]
                writing = asyncio.ensure_future(self.store.add(records))
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                await asyncio.gather(writing, return_exceptions=True)

    def _about(self, doc: Document, *, threaded: bool) -> tuple[str, ...]:
        """What a memory is about: its title and who said it (declared metadata, or a "Name:" prefix in a thread)."""
        who = metadata_entities(doc.metadata, self.entity_keys)
        if not who and threaded:
            who = [name for name in [speaker_prefix(doc.text)] if name]
        return tuple(dict.fromkeys([*([doc.title] if doc.title else []), *who]))

    async def _link_to_stored_turns(self, pending: list[_Pending], namespace: str) -> list[_Pending]:
        """A thread's first turn in this batch replies to the thread's latest stored turn."""
        thread_id = {p.shard.id: thread_of(p.shard.metadata, ()) for p in pending}  # the stored thread, as text
        heads = [p for p in pending if thread_id[p.shard.id] is not None and REPLY_TO not in p.shard.metadata]
        if not heads:
            return pending
        tails = await ThreadTail(self.store).tails(
            [thread_id[p.shard.id] for p in heads], namespace=namespace, batch_ids={p.shard.id for p in pending},
        )
        if not tails:
            return pending
        head_ids = {p.shard.id for p in heads}
        out = []
        for p in pending:
            tail = tails.pop(thread_id[p.shard.id], None) if p.shard.id in head_ids else None
            if tail is not None:
                p = _Pending(replace(p.shard, metadata={**p.shard.metadata, REPLY_TO: tail}), p.embed_text, p.explicit_time)
            out.append(p)
        return out

    async def add(self, docs: Sequence[Document], namespace: str) -> AddResult:
        pending = await self._link_to_stored_turns(self.plan(docs, namespace), namespace)
        existing = await self.store.existing_ids([p.shard.id for p in pending], namespace=namespace)
        stored = {s.id: s for s in await self.store.get(list(existing), namespace=namespace)} if existing else {}
        todo: list[_Pending] = []
        unchanged = 0
        for p in pending:
            old = stored.get(p.shard.id)
            if old is not None:
                # Same id again: keep when it was first remembered (and when it happened,
                # unless the caller says otherwise).
                occurred = p.shard.occurred_at if p.explicit_time else old.occurred_at
                p = _Pending(replace(p.shard, created_at=old.created_at, occurred_at=occurred), p.embed_text, p.explicit_time)
                if p.shard == old:
                    unchanged += 1
                    continue
            todo.append(p)
        if todo:
            await self._embed_and_store(todo)
        added = sum(1 for p in todo if p.shard.id not in existing)
        return AddResult(ids=[p.shard.id for p in pending], added=added, unchanged=unchanged)
