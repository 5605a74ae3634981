"""``hololoom serve`` as a real subprocess: Schemathesis over its OpenAPI, and MCP over
streamable HTTP behind the same bearer tokens."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("mcp")

pytestmark = [pytest.mark.slow]

ADMIN = "admin-token-served-00000001"
ALICE = "alice-token-served-0000002"
BOB = "bob-token-served-000000003"
# Schemathesis: examples per operation and seed; 10 operations x (coverage + fuzzing + stateful) > 500 cases.
MAX_EXAMPLES = 50
SEED = 1
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {**os.environ, "HOLOLOOM_HOME": str(home / "home"), "HOLOLOOM_ROUTING": "fixed", "HOLOLOOM_SEED": "5",
           "HOLOLOOM_API_TOKENS": f"{ADMIN}:*;{ALICE}:alice;{BOB}:bob", "HOLOLOOM_API_RATE_LIMIT": "0",
           "HF_HUB_OFFLINE": "1"}
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "HoloLoom.cli", "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("hololoom serve did not become ready:\n" + (home / "server.log").read_text()[-3000:])
        yield base, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert "Traceback" not in (home / "server.log").read_text()


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_errors_and_no_schema_violations(served) -> None:
    base, home = served
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if schemathesis is None:
        pytest.skip("schemathesis is not installed (it is in the 'dev' extra)")
    httpx.post(f"{base}/v1/memories", headers={"Authorization": f"Bearer {ADMIN}"},
               json={"memories": [{"text": "Schemathesis fuzzes the HoloLoom API."}]})
    reports = home / "schemathesis"
    proc = subprocess.run(
        [schemathesis, "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {ADMIN}",
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--checks", CHECKS,
         "--report", "json", "--report-dir", str(reports)],
        capture_output=True, text=True, timeout=540, cwd=home,  # its cache stays out of the checkout
    )
    report = json.loads(next(reports.glob("*.json")).read_text())
    summary = proc.stdout[-4000:]
    assert report["test_cases"]["generated"] >= 500, summary
    assert report["failures"] == [] and report["errors"] == [], summary
    assert report["test_cases"]["errored"] == 0 and proc.returncode == 0, summary
    assert ADMIN not in proc.stdout + proc.stderr  # schemathesis filters it; we never echo it
    (home / "schemathesis-summary.json").write_text(json.dumps(report["test_cases"]))


@pytest.mark.timeout(300)
async def test_mcp_over_http_uses_the_api_tokens(served) -> None:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    base, _ = served
    r = httpx.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "Unauthorized"

    async def session_for(token: str):
        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
        return client, streamable_http_client(f"{base}/mcp", http_client=client)

    client, transport = await session_for(ALICE)
    async with client, transport as (read, write, *_), ClientSession(read, write) as session:
        await session.initialize()
        names = {t.name for t in (await session.list_tools()).tools}
        assert {"remember", "recall", "ask", "forget", "feedback"} <= names
        stored = await session.call_tool("remember", {"text": "Alice's cat is called Ada."})
        assert not stored.is_error and stored.structured_content["namespace"] == "alice"
        hits = await session.call_tool("recall", {"query": "What is the cat called?"})
        assert "Ada" in hits.structured_content["memories"][0]["text"]
        refused = await session.call_tool("recall", {"query": "cat", "namespace": "bob"})
        assert refused.is_error and "may not use namespace 'bob'" in refused.content[0].text

    client, transport = await session_for(BOB)
    async with client, transport as (read, write, *_), ClientSession(read, write) as session:
        await session.initialize()
        hits = await session.call_tool("recall", {"query": "What is the cat called?"})
        assert all("Ada" not in m["text"] for m in hits.structured_content["memories"])


def test_serve_without_tokens_refuses_a_public_address() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLOLOOM_API_")}
    proc = subprocess.run([sys.executable, "-m", "HoloLoom.cli", "serve", "--host", "0.0.0.0", "--port", str(_free_port())],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "refusing to listen on 0.0.0.0" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.timeout(600)
def test_bench_http_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    if shutil.which("hey") is None:
        pytest.skip("the HTTP load benchmark needs 'hey' (apt-get install hey)")
    out = tmp_path / "http.json"
    proc = subprocess.run([sys.executable, "-m", "HoloLoom.cli", "bench", "http", "--memories", "30", "--clients", "4",
                           "--duration", "4", "--rounds", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=540, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HTTP / in-process" in proc.stdout
    result = json.loads(out.read_text())
    assert result["http"]["errors"] == 0 and result["http"]["requests"] > 0 and result["in_process"]["requests"] > 0
    assert len(result["http"]["round_rps"]) == 2 and result["ratio_http_over_in_process"]["rps"] > 0
