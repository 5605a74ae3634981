"""Checkpoints of the embedded store's in-memory indexes, so reopening reads no text.

A checkpoint is a directory ``index/ckpt-<seq>-<pid>`` holding the slot table, the BM25
arrays and the HNSW graph as of SQLite change number ``seq``, plus ``meta.json``;
``index/CURRENT`` names the newest complete one and is replaced atomically, so a crash
mid-checkpoint leaves the previous one in force. Opening loads the small arrays, maps
the BM25 postings and loads the graph (about a second at a million memories), then
replays from SQLite only the changes made after ``seq``. SQLite and the vector file stay
the only durable copy of the data: a missing, stale or damaged checkpoint costs a
rebuild from them, never data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ann_index import AnnIndex
from .slot_table import SlotTable

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

VERSION = 2
_TABLE = ("rowids", "namespaces", "times")
_LEXICAL = ("keys", "offsets", "slots", "tfs", "lengths")
_MAPPED = {"keys", "offsets", "slots", "tfs"}  # read-only until the next merge copies them


@dataclass
class Checkpoint:
    seq: int
    table: SlotTable
    lexical: dict[str, np.ndarray]
    ann: AnnIndex | None
    pending: np.ndarray  # live slots the saved graph does not hold yet


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(root: Path, *, seq: int, dimension: int, table: SlotTable,
                    lexical: dict[str, np.ndarray], ann: AnnIndex | None, pending: np.ndarray) -> None:
    """Write a checkpoint as of ``seq`` and make it the current one."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"ckpt-{seq}-{os.getpid()}"
    tmp = root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    arrays = {**table.arrays(), **lexical, "pending": pending}
    for key, array in arrays.items():
        np.save(tmp / f"{key}.npy", np.ascontiguousarray(array))
    if ann is not None:
        ann.save(tmp / "ann.usearch")
    meta = {"version": VERSION, "seq": seq, "dimension": dimension, "names": table.names, "ann": ann is not None}
    (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    for path in tmp.iterdir():
        _fsync(path)
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    pointer = root / ".CURRENT.tmp"
    pointer.write_text(name, encoding="utf-8")
    _fsync(pointer)
    pointer.replace(root / "CURRENT")
    _fsync(root)
    for old in root.glob("ckpt-*"):
        if old.name != name:  # another process may still map it: unlinking is safe on POSIX
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(root: Path, *, dimension: int) -> Checkpoint | None:
    """The current checkpoint, or None when there is none or it cannot be used."""
    with contextlib.suppress(OSError, ValueError, KeyError, RuntimeError):
        folder = root / (root / "CURRENT").read_text(encoding="utf-8").strip()
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta["version"] != VERSION or meta["dimension"] != dimension:
            return None
        arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="r" if key in _MAPPED else None)
                  for key in (*_TABLE, *_LEXICAL, "pending")}
        table = SlotTable.from_arrays(arrays["rowids"], arrays["namespaces"], arrays["times"], meta["names"])
        ann = AnnIndex.load(folder / "ann.usearch", dimension) if meta["ann"] else None
        return Checkpoint(int(meta["seq"]), table, {k: arrays[k] for k in _LEXICAL}, ann, arrays["pending"])
    return None
