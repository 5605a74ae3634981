"""Showing stored text and queries without letting them drive the terminal or the page.

A memory is user data: it may hold ``ESC[2J`` (clear the screen), ``ESC]0;...BEL``
(retitle the window), an OSC 8 hyperlink, a bidi override that reorders what follows,
or text that reads as Rich markup (``[/oops]``, ``[link=...]``). Every face that prints
stored text or a query (CLI tables, Spacetime's rendering, trace trees, the TUI, the
dashboard) passes it through here:

* :func:`inert` replaces every control character (C0 except newline and tab, DEL, C1),
  every bidi control and every lone surrogate with a visible stand-in (``ESC`` becomes
  ``␛``, ``U+202E`` becomes ``<U+202E>``), so an escape sequence prints as harmless
  text and the reader still sees that it was there;
* :func:`safe_text` wraps the result in a ``rich.text.Text``, which Rich never parses as
  markup, so ``[/oops]`` is printed as the five characters it is.

``--json`` output is not rendered: it stays byte-exact (JSON escapes control characters).
"""

from __future__ import annotations

import re

from rich.text import Text

__all__ = ["inert", "plotly_text", "safe_text"]

# C0 controls (but \t and \n, handled by keep_newlines), DEL, C1 controls, bidi embeddings,
# overrides and isolates, the line/paragraph separators, and lone surrogates.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\t\n]")


def _stand_in(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture": ESC -> ␛, BEL -> ␇
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def inert(text: object, *, keep_newlines: bool = True) -> str:
    """``text`` with every character that could act on a terminal replaced by a visible stand-in.

    Args:
        text: anything; non-strings are shown as ``str(text)``.
        keep_newlines: keep newlines and tabs (multi-line cells); otherwise they become
            ``␊`` / ``␉`` so one record stays on one line.
    """
    shown = text if isinstance(text, str) else str(text)
    shown = _UNSAFE.sub(_stand_in, shown)
    if not keep_newlines:
        shown = _LINE_BREAKS.sub(_stand_in, shown)
    return shown


def safe_text(text: object, style: str = "", *, keep_newlines: bool = True, limit: int | None = None) -> Text:
    """A ``rich.text.Text`` of :func:`inert` ``text`` (never parsed as markup), cut to ``limit`` characters."""
    shown = inert(text, keep_newlines=keep_newlines)
    if limit is not None and len(shown) > limit:
        shown = shown[: max(0, limit - 1)] + "…"
    return Text(shown, style=style)


def plotly_text(text: object, limit: int | None = None) -> str:
    """Text for a Plotly label or hover: inert, and its HTML-like tags (``<a href>``, ``<b>``) shown, not applied."""
    shown = inert(text, keep_newlines=False)
    if limit is not None:
        shown = shown[:limit]
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
