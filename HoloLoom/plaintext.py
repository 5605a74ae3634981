"""Markdown to the plain text a person reads: for what is shown, never for what is stored.

Headings lose their ``#``, list items their markers, emphasis its ``*``/``_``, links keep
their words, code keeps its text, tables their cells; front matter and HTML comments go.
Each line of the result is one line of the source, so sentences and list items stay
apart (see :func:`plain_lines`).
"""

from __future__ import annotations

import re

__all__ = ["plain_blocks", "plain_lines", "plain_text"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}(>\s?)+")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_WIKI_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]+)\]\]")
_CODE = re.compile(r"`+([^`]*)`+")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPH_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_EMPH_UNDER = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(.+?)~~")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _inline(line: str) -> str:
    line = _IMAGE.sub(r"\1", line)
    line = _WIKI_LINK.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _CODE.sub(r"\1", line)
    for pattern in (_STRONG, _STRIKE):
        line = pattern.sub(lambda m: m.group(m.lastindex or 1), line)
    line = _EMPH_STAR.sub(r"\1", line)
    line = _EMPH_UNDER.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    return re.sub(r"[ \t]+", " ", line).strip()


def plain_blocks(text: str) -> list[tuple[str, bool]]:
    """The text's lines as plain text, each with whether it was a heading.

    Empty lines and markup-only lines are dropped; a table row becomes its cells joined
    by "; ".
    """
    text = _COMMENT.sub("", _FRONT_MATTER.sub("", text))
    out: list[tuple[str, bool]] = []
    for raw in text.splitlines():
        if _FENCE.match(raw) or _RULE.match(raw) or _TABLE_SEP.match(raw):
            continue
        if out and _SETEXT.match(raw):
            out[-1] = (out[-1][0], True)
            continue
        line = _QUOTE.sub("", raw)
        heading = _HEADING.match(line)
        if heading:
            line = heading.group(1)
        line = _LIST.sub("", line)
        if line.strip().startswith("|") and line.strip().endswith("|"):
            line = "; ".join(c.strip() for c in line.strip().strip("|").split("|") if c.strip())
        line = _inline(line)
        if line:
            out.append((line, bool(heading)))
    return out


def plain_lines(text: str) -> list[str]:
    """The text's lines as plain text (see :func:`plain_blocks`)."""
    return [line for line, _ in plain_blocks(text)]


def plain_text(text: str) -> str:
    """The whole text as plain text, one source line per line."""
    return "\n".join(plain_lines(text))
