"""Stored text and queries print inertly: no terminal escapes, no markup, no live links."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from HoloLoom.rendering import inert, plotly_text, safe_text

#: The samples of issue 13: retitle the window, clear the screen, colour, broken markup, a link.
SAMPLES = ["\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31mred", "[/oops]", "[link=http://evil.example]click[/link]",
           "\u202eevil", "\x9b31m", "[bold]b[/bold]"]


@pytest.mark.parametrize("sample", SAMPLES)
def test_inert_leaves_no_control_character(sample: str) -> None:
    shown = inert(sample)
    assert not any(ord(c) < 0x20 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert "\u202e" not in shown


def test_escape_is_shown_visibly() -> None:
    assert inert("a\x1b[2Jb") == "a␛[2Jb"
    assert inert("bell\x07") == "bell␇"
    assert inert("one\ntwo", keep_newlines=False) == "one␊two"
    assert inert("\ud800") == "<U+D800>"


def render(renderable: object, *, terminal: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, color_system="truecolor" if terminal else None, width=120)
    console.print(renderable)
    return out.getvalue()


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("sample", SAMPLES)
def test_safe_text_prints_markup_literally(sample: str, terminal: bool) -> None:
    out = render(safe_text(f"memory {sample} end"), terminal=terminal)
    if not terminal:
        assert "\x1b" not in out
    assert "\x07" not in out and "\x1b]8;" not in out  # no bell, no OSC 8 hyperlink
    assert "\x1b[2J" not in out and "\x1b]0;" not in out
    if "[" in sample and "\x1b" not in sample and "\x9b" not in sample:
        assert sample in out  # markup text shown as the characters it is


def test_plotly_text_shows_tags() -> None:
    assert plotly_text('<a href="http://evil">x</a>') == '&lt;a href="http://evil"&gt;x&lt;/a&gt;'
