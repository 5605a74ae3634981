"""Splitting long documents into memory-sized chunks.

The embedder reads at most 256 word pieces, so a long document is cut at sentence
boundaries into chunks of about ``max_chars`` characters, each overlapping the previous
one by its last sentence so that a fact spanning the cut is still whole in one chunk.
"""

from __future__ import annotations

import re

__all__ = ["chunk_text", "split_sentences"]

# A sentence ends at . ! ? (optionally followed by a closing quote/bracket) before white
# space and a capital, digit or quote; common abbreviations are protected first.
_SENTENCE_RE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = re.compile(r"\b(Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|vs|etc|e\.g|i\.e|U\.S|No|Inc|Ltd|Co|Mt)\.", re.IGNORECASE)
_PLACEHOLDER = "\u0000"


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (and paragraphs), keeping every character but outer space."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0)[:-1] + _PLACEHOLDER, text)
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", protected):
        for sentence in _SENTENCE_RE.split(paragraph):
            sentence = sentence.strip().replace(_PLACEHOLDER, ".")
            if sentence:
                pieces.append(sentence)
    return pieces


def chunk_text(text: str, max_chars: int = 1200) -> list[str]:
    """Cut ``text`` into chunks of at most about ``max_chars`` characters.

    Text that fits is returned whole and unchanged. Sentences longer than ``max_chars``
    are cut at word boundaries.
    """
    if len(text) <= max_chars:
        return [text]
    sentences: list[str] = []
    for sentence in split_sentences(text):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            sentences.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            sentences.append(sentence)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in sentences:
        if current and size + len(sentence) + 1 > max_chars:
            chunks.append(" ".join(current))
            overlap = current[-1]
            # Overlap by one sentence only when it leaves room for new text.
            current, size = ([overlap], len(overlap)) if len(overlap) < max_chars // 3 else ([], 0)
        current.append(sentence)
        size += len(sentence) + 1
    if current:
        chunks.append(" ".join(current))
    return chunks
