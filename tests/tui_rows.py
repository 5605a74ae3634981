"""Reading the terminal UI's stage table back from a screen (shared by unit and e2e tests)."""

from __future__ import annotations

QUESTION = "Who directed the film that was shot in Leland, North Carolina?"


def stage_rows(text: str) -> list[tuple[int, str, str, str, str]]:
    """(number, loom name, stage, status, ms) for each stage row of the live table."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) >= 7 and cells[1].isdigit():
            rows.append((int(cells[1]), cells[2], cells[3], cells[4], cells[5]))
    return rows
