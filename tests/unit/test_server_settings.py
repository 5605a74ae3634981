"""The API's settings, tokens and error mapping: no model, no server."""

from __future__ import annotations

import inspect

import pytest

import HoloLoom
from HoloLoom import ConfigurationError, HoloLoomError

pytest.importorskip("fastapi")

from HoloLoom.server.auth import TokenTable  # noqa: E402
from HoloLoom.server import errors as server_errors  # noqa: E402
from HoloLoom.server.errors import ERROR_STATUS, ApiError, status_for  # noqa: E402
from HoloLoom.server.settings import ServerSettings, is_loopback, parse_tokens  # noqa: E402

ALICE = "alice-secret-token-0001"
BOB = "bob-secret-token-000002"


def test_tokens_parse_from_env_and_file_and_never_show_in_repr(tmp_path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# operators\n{BOB}:bob,shared  # bob's\n")
    settings = ServerSettings.from_env({"HOLOLOOM_API_TOKENS": f"{ALICE}:alice", "HOLOLOOM_API_TOKENS_FILE": str(token_file),
                                        "HOLOLOOM_API_METRICS_TOKEN": "prometheus-scrape-token"})
    assert [sorted(g.namespaces) for g in settings.tokens] == [["alice"], ["bob", "shared"], ["@metrics"]]
    shown = repr(settings) + repr(settings.tokens) + str(settings.tokens)
    assert ALICE not in shown and BOB not in shown and "prometheus-scrape-token" not in shown
    assert all(g.label.startswith("token-") for g in settings.tokens)


@pytest.mark.parametrize("text", ["no-colon-here-at-all-xx", "short:alice", f"{ALICE}:", f"{ALICE} x:alice"])
def test_malformed_token_entries_are_refused_without_echoing_the_token(text: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_tokens(text, source="HOLOLOOM_API_TOKENS")
    assert ALICE not in str(err.value) and "entry 1" in str(err.value)


def test_no_tokens_means_loopback_only() -> None:
    ServerSettings(host="127.0.0.1").check_bind()
    ServerSettings(host="localhost").check_bind()
    ServerSettings(host="::1").check_bind()
    for host in ("0.0.0.0", "::", "10.1.2.3"):
        with pytest.raises(ConfigurationError, match="refusing to listen"):
            ServerSettings(host=host).check_bind()
    ServerSettings(host="0.0.0.0", tokens=tuple(parse_tokens(f"{ALICE}:alice", source="t"))).check_bind()
    assert is_loopback("127.0.0.2") and not is_loopback("0.0.0.0")


def test_bad_numbers_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="HOLOLOOM_API_PORT"):
        ServerSettings.from_env({"HOLOLOOM_API_PORT": "eighty"})
    with pytest.raises(ConfigurationError, match="max_texts"):
        ServerSettings(max_texts=0)


def test_token_table_grants_only_the_tokens_namespaces() -> None:
    settings = ServerSettings(tokens=tuple(parse_tokens(f"{ALICE}:alice;{BOB}:*", source="t")))
    table = TokenTable(settings, default_namespace="default")
    alice = table.principal_for(f"Bearer {ALICE}")
    assert alice.namespace(None) == "alice" and alice.namespace("alice") == "alice"
    with pytest.raises(ApiError) as err:
        alice.namespace("bob")
    assert err.value.status == 403
    assert table.principal_for(f"bearer {BOB}").namespace("anything") == "anything"
    for header in (None, "", "Basic abc", f"Bearer {ALICE}x", "Bearer "):
        with pytest.raises(ApiError) as err:
            table.principal_for(header)
        assert err.value.status == 401 and ALICE not in err.value.message


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def test_every_holoLoom_error_maps_to_a_documented_status() -> None:
    exported = [obj for obj in vars(HoloLoom).values() if inspect.isclass(obj) and issubclass(obj, HoloLoomError)]
    for cls in {*exported, *_all_subclasses(HoloLoomError)}:
        assert any(base in ERROR_STATUS for base in cls.__mro__), cls
    assert status_for(HoloLoom.InvalidQueryError("x")) == 422
    assert status_for(HoloLoom.NotFoundError("x")) == 404
    assert status_for(HoloLoom.StoreUnavailableError("x")) == 503
    assert status_for(HoloLoom.PartialWriteError("x", written=["a"], failed=["b"])) == 503
    assert status_for(HoloLoom.StoreError("x")) == 502
    # Bad input is never a server error.
    for cls in _all_subclasses(HoloLoom.ValidationError):
        assert status_for(cls("x")) == 422
    documented = inspect.getdoc(server_errors) or ""  # the status table in the module docstring
    for cls in ERROR_STATUS:
        assert cls.__name__.replace("Error", "") in documented.replace("Error", ""), cls
