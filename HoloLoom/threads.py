"""Conversation structure: who said a memory, which thread it belongs to, what it answers.

A chat turn is not a Wikipedia page. "Melanie: We went camping last week" is about its
speaker, belongs to one session of one conversation, and often only makes sense next to
the turn it answers ("Where did you go with the kids?"). This module finds that
structure on the write path and names the graph keys that carry it.

**Who.** The values of the metadata keys a user declares (``Settings.entity_keys``,
``("speaker",)`` by default) are entities the memory is *about*; a threaded turn with no
such metadata but a "Name: ..." prefix is about that name. First-person words in a turn
("I", "my") therefore refer to an entity the graph knows.

**Thread.** Memories whose metadata carries any of ``Settings.thread_keys``
(``("conversation", "session")`` by default) form one thread per distinct combination of
values; a caller may also give ``metadata["thread"]`` directly. Each threaded memory
*replies to* the one before it in its thread (``metadata["reply_to"]``: the previous turn
of the same ``add()`` call, else the latest stored turn of that thread), unless the caller
says what it replies to.

**In the graph.** Structure is stored in the shard-entity graph every backend already
keeps (relations ``about``/``mentions``), under keys :func:`~HoloLoom.extraction.entity_key`
can never produce, because they contain ``:``. So every backend walks it with no change,
and the crawler tells the kinds apart by prefix and weighs them apart from shared names:

- ``turn:<id>``: the turn ``<id>`` is *about* it, each reply to it *mentions* it (degree 2
  for a plain chain), so a hop goes from a question to its answer and back;
- ``thread:<thread>``: every turn of the thread is *about* it (session neighbours).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .types import MemoryShard, SearchFilter

__all__ = [
    "DEFAULT_ENTITY_KEYS",
    "DEFAULT_THREAD_KEYS",
    "REPLY_TO",
    "THREAD",
    "ThreadTail",
    "link_kind",
    "metadata_entities",
    "speaker_prefix",
    "structural_keys",
    "thread_of",
    "thread_key",
    "turn_key",
]

#: Metadata keys whose values are entities a memory is about (who said it).
DEFAULT_ENTITY_KEYS: tuple[str, ...] = ("speaker",)
#: Metadata keys that together name the thread (conversation, session) a memory belongs to.
DEFAULT_THREAD_KEYS: tuple[str, ...] = ("conversation", "session")
#: Metadata key holding the thread identity, written by the ingestor (or given by the caller).
THREAD = "thread"
#: Metadata key holding the id of the memory this one answers.
REPLY_TO = "reply_to"

_TURN_PREFIX = "turn:"
_THREAD_PREFIX = "thread:"
# "Caroline: ...", "Dr. Ana Lima: ..." at the start of a turn: at most four capitalised words.
_PREFIX_RE = re.compile(r"^\s*([A-Z][\w'’.\-]*(?: [A-Z][\w'’.\-]*){0,3}):\s+\S")


def turn_key(shard_id: str) -> str:
    """The graph key a turn is about and its replies mention."""
    return _TURN_PREFIX + shard_id


def thread_key(thread: str) -> str:
    """The graph key every turn of ``thread`` is about."""
    return _THREAD_PREFIX + thread


def link_kind(key: str) -> str:
    """What a graph key links by: ``"reply"``, ``"thread"`` or ``"entity"`` (a shared name)."""
    if key.startswith(_TURN_PREFIX):
        return "reply"
    if key.startswith(_THREAD_PREFIX):
        return "thread"
    return "entity"


def structural_keys(shard: MemoryShard) -> list[tuple[str, str]]:
    """The (key, relation) pairs a shard's thread and reply contribute to the graph."""
    pairs: list[tuple[str, str]] = []
    thread = _scalar(shard.metadata.get(THREAD))
    reply_to = shard.metadata.get(REPLY_TO)
    if thread:
        pairs.append((thread_key(thread), "about"))
    if isinstance(reply_to, str) and reply_to and reply_to != shard.id:
        pairs.append((turn_key(reply_to), "mentions"))
    if pairs:
        pairs.append((turn_key(shard.id), "about"))
    return pairs


def thread_of(metadata: Mapping[str, Any], thread_keys: Sequence[str]) -> str | None:
    """The thread a memory belongs to: the caller's ``thread``, else its thread keys' values.

    Key names are part of the identity, so session 3 of one conversation is not session
    3 of another when both keys are present, and ``{"session": 3}`` alone is its own thread.
    """
    given = _scalar(metadata.get(THREAD))
    if given:
        return given
    values = {k: metadata[k] for k in thread_keys if metadata.get(k) not in (None, "")}
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if values else None


def _scalar(value: object) -> str | None:
    """A caller's thread id as text: strings and integers name a thread; anything else does not."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value) if str(value).strip() else None


def metadata_entities(metadata: Mapping[str, Any], entity_keys: Sequence[str]) -> list[str]:
    """The entity names held in the declared metadata keys (a string or a list of strings)."""
    names: list[str] = []
    for key in entity_keys:
        value = metadata.get(key)
        for name in ([value] if isinstance(value, str) else value if isinstance(value, list) else []):
            if isinstance(name, str) and name.strip() and name.strip() not in names:
                names.append(name.strip())
    return names


def speaker_prefix(text: str) -> str | None:
    """The speaker of a transcript line "Name: what they said", or None."""
    match = _PREFIX_RE.match(text)
    return match.group(1) if match else None


class ThreadTail:
    """Finds the latest stored turn of threads, so a new turn can reply to it.

    A thread's stored turns are the shards about its ``thread:`` key; its tail is the one
    no other stored turn replies to (the latest by ``occurred_at`` if the caller's own
    ``reply_to`` values made branches). Shards of the batch being written are ignored, so
    writing the same batch twice links it the same way.
    """

    def __init__(self, store: Any) -> None:
        self.store = store

    async def tails(self, threads: Iterable[str], *, namespace: str, batch_ids: set[str]) -> dict[str, str]:
        wanted = {thread_key(t): t for t in dict.fromkeys(threads)}
        if not wanted:
            return {}
        links = await self.store.entity_lookup(
            list(wanted), SearchFilter(namespace=namespace), max_degree=1 << 30, limit=1 << 30
        )
        members: dict[str, list[str]] = {}
        for link in links:
            if link.target_relation == "about" and link.target not in batch_ids:
                members.setdefault(wanted[link.source], []).append(link.target)
        if not members:
            return {}
        shards = {s.id: s for s in await self.store.get(
            list(dict.fromkeys(i for ids in members.values() for i in ids)), namespace=namespace)}
        out: dict[str, str] = {}
        for thread, ids in members.items():
            stored = [shards[i] for i in ids if i in shards]
            answered = {s.metadata.get(REPLY_TO) for s in stored}
            open_ends = [s for s in stored if s.id not in answered] or stored
            if open_ends:
                out[thread] = max(open_ends, key=lambda s: (s.occurred_at, s.created_at, s.id)).id
        return out
