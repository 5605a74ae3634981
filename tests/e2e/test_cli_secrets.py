"""`hololoom add` and `hololoom stats --json` with server credentials in the environment: no secret shown."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ..secret_values import ENV, assert_no_secret


def test_stats_json_holds_no_secret(home, embedder, monkeypatch) -> None:
    from HoloLoom.cli import app

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    added = runner.invoke(app, ["add", "--home", str(home), "--text", "Leland is a town in North Carolina."])
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, ["stats", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["shards"] == 1
    assert_no_secret(result.output)
