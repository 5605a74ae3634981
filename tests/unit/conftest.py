"""Unit tests: no model, no server, no browser, no tmux; the whole level runs in seconds.

The ``embedder`` fixture is a :class:`~HoloLoom.testing.HashEmbedder` here, so the shared
``loom`` and ``small_loom`` fixtures (tests/conftest.py) weave over hashed trigrams
instead of MiniLM. Loading the real model from a unit test fails, naming where such a
test belongs: ``tests/integration`` (the model, a whole loom with it),
``tests/contract`` (a backend's engine) or ``tests/e2e`` (CLI, HTTP, browser, tmux).
"""

from __future__ import annotations

import pytest

from HoloLoom import SentenceTransformerEmbedder
from HoloLoom.testing import HashEmbedder


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: SentenceTransformerEmbedder) -> None:
        raise AssertionError(
            "a unit test loaded the embedding model: use HoloLoom.testing.HashEmbedder (the `embedder` "
            "fixture), or move the test to tests/integration"
        )

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", refuse)
