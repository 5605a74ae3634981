"""Reading a person's notes from disk: files and folders of ``.md``, ``.txt`` and ``.jsonl``.

A note's date becomes its ``occurred_at``: from its front matter (``date``,
``occurred_at``, ``created``), else from its file name (``2026-03-04-kestrel.md``,
``20260304 standup.txt``), else the caller's default, else none (ingestion time). The
front matter is lifted into metadata; the body is stored as written (markdown included:
it is stripped only where text is shown). A ``.jsonl`` file holds one ``{"text", ...}``
object per line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .errors import ValidationError
from .types import Document, to_timestamp

__all__ = ["NOTE_SUFFIXES", "NoteFiles", "date_from_name", "find_note_files", "parse_date", "read_note_file"]

NOTE_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl")
_DATE_KEYS = ("occurred_at", "date", "created", "created_at", "day")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_NAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")
_JSONL_FIELDS = ("text", "title", "id", "entities", "occurred_at", "metadata")


@dataclass
class NoteFiles:
    """The note files under some paths, and how many other files were passed over."""

    files: list[Path] = field(default_factory=list)
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)


def find_note_files(paths: Iterable[Path]) -> NoteFiles:
    """Expand files and folders (recursively, hidden entries excluded) into note files.

    Raises:
        ValidationError: a path does not exist.
    """
    found = NoteFiles()
    for path in paths:
        try:
            exists = path.exists()
        except (OSError, ValueError) as exc:  # a NUL in the name
            raise ValidationError(f"cannot read {ascii(str(path))}: {exc}") from None
        if not exists:
            raise ValidationError(f"{path} does not exist")
        try:
            candidates = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        except OSError as exc:  # a folder we may not read
            raise ValidationError(f"cannot read {ascii(str(path))}: {exc}") from None
        for p in candidates:
            if p.suffix.lower() in NOTE_SUFFIXES:
                found.files.append(p)
            else:
                found.skipped += 1
                if len(found.skipped_examples) < 3:
                    found.skipped_examples.append(p.name)
    return found


def parse_date(value: Any) -> float | None:
    """A front-matter or JSON date (ISO string, date, datetime, epoch seconds) as epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}(?::\d{2})?", value.strip()):
        value = value.strip().replace(" ", "T")
    return to_timestamp(value, name="date")


def date_from_name(name: str) -> float | None:
    """The date a file name starts with or contains (``2026-03-04-x.md``, ``20260304.txt``)."""
    m = _NAME_DATE.search(name)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _title_from_name(stem: str) -> str:
    """``2026-03-04-priya-1on1`` -> ``priya 1on1``: the words of the name, their case kept."""
    stem = _NAME_DATE.sub(" ", stem)
    return re.sub(r"[\s_\-.]+", " ", stem).strip()


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text  # not front matter after all: keep every byte
    if not isinstance(data, dict):
        return {}, text
    return {str(k): v for k, v in data.items()}, text[m.end():]


def _first_heading(body: str) -> str | None:
    m = re.search(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", body, re.M)
    return m.group(1).strip() if m else None


def _scalar_metadata(front: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in front.items():
        if key in _DATE_KEYS or key == "title":
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (date, datetime)):
            out[key] = value.isoformat()
        elif isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
            out[key] = list(value)
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None


def _text_note(path: Path, default_time: float | None) -> Document:
    raw = _read(path)
    front, body = _split_front_matter(raw)
    occurred = next((parse_date(front[k]) for k in _DATE_KEYS if front.get(k) not in (None, "")), None)
    if occurred is None:
        occurred = date_from_name(path.name)
    if occurred is None:
        occurred = default_time
    title = front.get("title")
    if not isinstance(title, str) or not title.strip():
        title = _first_heading(body) if path.suffix.lower() in (".md", ".markdown") else None
    title = title or _title_from_name(path.stem) or None
    meta = {**_scalar_metadata(front), "source": str(path)}
    return Document(text=body if body.strip() else raw, title=title, metadata=meta, occurred_at=occurred)


def _jsonl_notes(path: Path, default_time: float | None) -> Iterator[Document]:
    for n, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValidationError(f"{path}:{n}: not JSON ({getattr(exc, 'msg', 'nested too deeply')})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise ValidationError(f"{path}:{n}: each line needs a \"text\" field")
        meta = {k: v for k, v in row.items() if k not in _JSONL_FIELDS and k not in _DATE_KEYS}
        extra = row.get("metadata") or {}
        if not isinstance(extra, dict):
            raise ValidationError(f"{path}:{n}: \"metadata\" must be an object")
        meta.update(extra)
        occurred = next((row[k] for k in _DATE_KEYS if row.get(k) not in (None, "")), None)
        occurred = parse_date(occurred) if occurred is not None else default_time
        yield Document(text=row["text"], title=row.get("title"), id=row.get("id"), entities=row.get("entities"),
                       occurred_at=occurred, metadata={**meta, "source": f"{path}:{n}"})


def read_note_file(path: Path, *, occurred_at: float | None = None) -> list[Document]:
    """The documents in one note file; ``occurred_at`` is the date of notes that name none.

    Raises:
        ValidationError: unreadable text, a bad JSON line, or a date that is not one.
    """
    if path.suffix.lower() == ".jsonl":
        return list(_jsonl_notes(path, occurred_at))
    return [_text_note(path, occurred_at)]
