"""Reading notes from disk: folders, mixed files, front-matter and file-name dates, markdown kept."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from HoloLoom.errors import ValidationError
from HoloLoom.notes import date_from_name, find_note_files, parse_date, read_note_file
from HoloLoom.plaintext import plain_blocks, plain_lines, plain_text


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_front_matter_date_wins_and_is_lifted_into_metadata(tmp_path: Path) -> None:
    note = tmp_path / "2025-01-01-kestrel.md"
    note.write_text("---\ndate: 2026-03-04\ntitle: Kestrel vendor\ntags: [vendor, robots]\n---\n# Heading\n\nWe chose **Kestrel**.\n")
    [doc] = read_note_file(note)
    assert doc.occurred_at == _ts(2026, 3, 4)
    assert doc.title == "Kestrel vendor"
    assert doc.metadata["tags"] == ["vendor", "robots"] and doc.metadata["source"] == str(note)
    assert doc.text == "# Heading\n\nWe chose **Kestrel**.\n"  # markdown is stored as written


@pytest.mark.parametrize(("name", "expected"), [
    ("2026-03-04-priya-1on1.md", (2026, 3, 4)),
    ("20260304 standup.txt", (2026, 3, 4)),
    ("notes_2025_11_30.md", (2025, 11, 30)),
    ("meeting-2026-02-30.md", None),
    ("plain.md", None),
])
def test_file_name_dates(name: str, expected: tuple[int, int, int] | None) -> None:
    assert date_from_name(name) == (_ts(*expected) if expected else None)


def test_file_name_date_then_default_then_none(tmp_path: Path) -> None:
    dated = tmp_path / "2026-03-04-priya-1on1.md"
    dated.write_text("# Priya 1:1\nShe wants to move into product.")
    undated = tmp_path / "ideas.txt"
    undated.write_text("Ideas for the offsite.")
    [doc] = read_note_file(dated, occurred_at=_ts(2020, 1, 1))
    assert doc.occurred_at == _ts(2026, 3, 4) and doc.title == "Priya 1:1"
    assert read_note_file(undated, occurred_at=_ts(2020, 1, 1))[0].occurred_at == _ts(2020, 1, 1)
    assert read_note_file(undated)[0].occurred_at is None
    assert read_note_file(undated)[0].title == "ideas"


def test_jsonl_lines_take_date_or_occurred_at(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text("\n".join(json.dumps(r) for r in [
        {"date": "2026-05-16", "text": "Hiked the Ridge Trail."},
        {"occurred_at": "2026-05-17T09:30:00", "text": "Pancakes.", "mood": "lazy"},
        {"text": "Undated."},
    ]))
    docs = read_note_file(journal, occurred_at=_ts(2020, 1, 1))
    assert [d.occurred_at for d in docs] == [_ts(2026, 5, 16), _ts(2026, 5, 17, 9, 30), _ts(2020, 1, 1)]
    assert docs[1].metadata["mood"] == "lazy" and docs[1].metadata["source"] == f"{journal}:2"
    journal.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(ValidationError, match=":2: not JSON"):
        read_note_file(journal)


def test_a_folder_tree_with_mixed_files(tmp_path: Path) -> None:
    (tmp_path / "work" / "deep").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name in ("a.md", "work/b.txt", "work/deep/c.jsonl", "work/deep/d.markdown", "scan.pdf", "work/photo.PNG", ".git/x.md"):
        (tmp_path / name).write_text('{"text": "x"}' if name.endswith("jsonl") else "x")
    found = find_note_files([tmp_path])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found.files) == [
        "a.md", "work/b.txt", "work/deep/c.jsonl", "work/deep/d.markdown"]
    assert found.skipped == 2 and set(found.skipped_examples) == {"scan.pdf", "photo.PNG"}
    with pytest.raises(ValidationError, match="does not exist"):
        find_note_files([tmp_path / "missing"])


def test_parse_date_accepts_what_people_write() -> None:
    assert parse_date("2026-03-04") == _ts(2026, 3, 4)
    assert parse_date("2026-03-04 09:30") == _ts(2026, 3, 4, 9, 30)
    assert parse_date(None) is None
    with pytest.raises(ValidationError):
        parse_date("the day after the party")


def test_markdown_is_stripped_for_display() -> None:
    text = ("---\ndate: 2026-03-04\n---\n# Kestrel Vendor\n\n**Decision:** we go with *Kestrel* for the "
            "[robot arms](http://example.com).\n- Budget: $40k\n- [x] sign `contract`\n\n| who | role |\n|---|---|\n"
            "| Lena | VP |\n> quoted snake_case_name\n<!-- hidden -->\n")
    assert plain_lines(text) == ["Kestrel Vendor", "Decision: we go with Kestrel for the robot arms.", "Budget: $40k",
                                 "sign contract", "who; role", "Lena; VP", "quoted snake_case_name"]
    assert plain_blocks("Title\n=====\nbody")[0] == ("Title", True)
    assert plain_text("plain text stays") == "plain text stays"
