"""Shared fixtures: one real embedder per test session, temporary homes, small real stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from HoloLoom import HoloLoom, SentenceTransformerEmbedder, Settings  # noqa: E402

CORPUS = [
    {"title": "Maximum Overdrive", "text": "Maximum Overdrive is a 1986 American horror film written and directed by Stephen King. It was filmed in and around Wilmington and Leland, North Carolina."},
    {"title": "Leland, North Carolina", "text": "Leland is a town in Brunswick County, North Carolina, United States. Several films were shot in Leland."},
    {"title": "Stephen King", "text": "Stephen King is an American author of horror, supernatural fiction, suspense and fantasy novels."},
    {"title": "Haymo of Faversham", "text": "Haymo of Faversham was an English Franciscan and scholar. He lectured at the University of Paris during the Recovery of Aristotle."},
    {"title": "Recovery of Aristotle", "text": "The Recovery of Aristotle was the period when the works of Aristotle were translated into Latin in Western Europe."},
    {"title": "Demon algorithm", "text": "The demon algorithm is a Monte Carlo method for sampling members of a microcanonical ensemble."},
    {"title": "Paris", "text": "Paris is the capital of France and home of the University of Paris."},
    {"title": "Wilmington, North Carolina", "text": "Wilmington is a port city in North Carolina known for its film studios."},
]


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder.shared()
    emb.embed_sync(["warm up"])
    return emb


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
async def loom(home: Path, embedder: SentenceTransformerEmbedder):
    # Fixed routing: stage tests check exact pass counts; learned routing has its own tests.
    async with HoloLoom(settings=Settings(home=home, routing="fixed"), embedder=embedder) as lm:
        yield lm


@pytest.fixture
async def small_loom(loom: HoloLoom) -> HoloLoom:
    from HoloLoom import Document

    await loom.add([Document(text=p["text"], title=p["title"]) for p in CORPUS])
    return loom


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Docker tests run last: the image preparation scripts/test.sh starts in the background
    (tests/docker/prepare.sh) then overlaps the rest of the suite instead of adding to it."""
    docker = [item for item in items if item.get_closest_marker("docker")]
    if docker:
        items[:] = [item for item in items if not item.get_closest_marker("docker")] + docker
