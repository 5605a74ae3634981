"""The public surface is what HoloLoom/__init__.py exports; this fails when it drifts."""

import HoloLoom
from HoloLoom import errors


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in HoloLoom.__all__ if n != "__version__"]
    assert names == sorted(names, key=str.lower)
    for name in HoloLoom.__all__:
        assert hasattr(HoloLoom, name), name


def test_every_error_is_a_holoLoom_error_and_exported() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.HoloLoomError)
        assert getattr(HoloLoom, name) is cls
    assert issubclass(errors.ValidationError, ValueError)
    assert "pip install 'HoloLoom[neo4j]'" in str(errors.MissingDependencyError("Neo4j backend", "neo4j"))
