"""HoloLoom() takes its settings from HOLOLOOM_* variables; explicit arguments win."""

from __future__ import annotations

from pathlib import Path

import pytest

from HoloLoom import ConfigurationError, HoloLoom, Settings


def test_holoLoom_reads_the_environment_and_arguments_override_it(monkeypatch, tmp_path: Path, embedder) -> None:
    monkeypatch.setenv("HOLOLOOM_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("HOLOLOOM_NAMESPACE", "team-a")
    monkeypatch.setenv("HOLOLOOM_ROUTING", "fixed")
    monkeypatch.setenv("HOLOLOOM_SEED", "7")
    loom = HoloLoom(embedder=embedder)
    assert loom.settings.home == tmp_path / "from-env" and loom.settings.namespace == "team-a"
    assert loom.settings.routing == "fixed" and loom.settings.seed == 7
    loom = HoloLoom(tmp_path / "explicit", namespace="team-b", embedder=embedder)
    assert loom.settings.home == tmp_path / "explicit" and loom.settings.namespace == "team-b"
    assert loom.settings.routing == "fixed"  # what was not given still comes from the environment
    loom = HoloLoom(settings=Settings(home=tmp_path / "given"), embedder=embedder)
    assert loom.settings.home == tmp_path / "given" and loom.settings.namespace == "default"  # settings: no env


def test_an_empty_home_is_an_error_not_the_default(monkeypatch, tmp_path: Path, embedder) -> None:
    monkeypatch.setenv("HOLOLOOM_HOME", "")
    with pytest.raises(ConfigurationError, match="HOLOLOOM_HOME"):
        HoloLoom(embedder=embedder)
    with pytest.raises(ConfigurationError, match="HOLOLOOM_HOME"):
        Settings.from_env()
    assert HoloLoom(tmp_path, embedder=embedder).settings.home == tmp_path  # an explicit home is fine
    monkeypatch.setenv("HOLOLOOM_HOME", "  ")
    with pytest.raises(ConfigurationError):
        Settings.from_env()
    with pytest.raises(ConfigurationError):
        Settings(home="")  # type: ignore[arg-type]


def test_other_empty_variables_count_as_unset(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOLOLOOM_HOME", str(tmp_path))
    monkeypatch.setenv("HOLOLOOM_NAMESPACE", "")
    monkeypatch.setenv("HOLOLOOM_SEED", "")
    settings = Settings.from_env()
    assert settings.namespace == "default" and settings.seed is None
    monkeypatch.setenv("HOLOLOOM_SEED", "seven")
    with pytest.raises(ConfigurationError, match="HOLOLOOM_SEED"):
        Settings.from_env()
