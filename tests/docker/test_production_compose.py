"""docker-compose.production.yml, started for real: build, up, use over HTTP, down, up, nothing lost.

Runs the commands PRODUCTION_DEPLOYMENT.md gives (plus the stand-in override and a
throwaway env file), on images tests/docker/prepare.sh builds from Debian packages.
Skips, saying why, only where Docker Engine cannot run; any other failure fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("HOLOLOOM_DOCKER_STATE", "/tmp/hololoom-docker-e2e"))
# One compose project per test process: two suites sharing a Docker daemon (developers on
# one machine) must not stop or remove each other's containers and volumes.
PROJECT = f"hololoom-e2e-{os.getpid()}"
IMAGE = os.environ.get("HOLOLOOM_TEST_IMAGE", "hololoom:e2e")
COMPOSE_FILES = ["-f", "docker-compose.production.yml", "-f", "tests/docker/compose.standins.yml"]
# What PRODUCTION_DEPLOYMENT.md tells an operator to run; the test runs each of them.
DOC_COMMANDS = [
    "docker build -f Dockerfile.production -t hololoom:latest .",
    "docker-compose -f docker-compose.production.yml config -q",
    "docker-compose -f docker-compose.production.yml up -d",
    "curl -fsS http://127.0.0.1:8000/readyz",
    "docker-compose -f docker-compose.production.yml down",
]


def _prepare() -> None:
    """Wait for the background preparation scripts/test.sh started, or run it now."""
    pid = os.environ.get("HOLOLOOM_DOCKER_PREPARE_PID")
    started = time.monotonic()
    if pid:
        while _alive(int(pid)) and time.monotonic() - started < 1500:
            time.sleep(2)
        rc_text = (STATE / "prepare.rc").read_text().strip() if (STATE / "prepare.rc").exists() else "1"
        log = STATE.parent / "hololoom-docker-prepare.log"
        output = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    else:
        proc = subprocess.run(["bash", "tests/docker/prepare.sh"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
        rc_text, output = str(proc.returncode), (proc.stdout + proc.stderr)[-3000:]
    (STATE / "prepare-wait-seconds").write_text(f"{time.monotonic() - started:.0f}")
    if rc_text == "3":
        pytest.skip(f"Docker Engine cannot run on this machine:\n{output}")
    assert rc_text == "0", f"tests/docker/prepare.sh failed (rc={rc_text}):\n{output}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by scripts/test.sh) is finished
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Compose:
    def __init__(self, env_file: Path) -> None:
        self.base = ["docker-compose", "-p", PROJECT, "--env-file", str(env_file)]

    def __call__(self, *args: str, files: list[str] = COMPOSE_FILES, timeout: float = 600) -> str:
        proc = subprocess.run([*self.base, *files, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"docker-compose {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    def logs(self) -> str:
        proc = subprocess.run([*self.base, *COMPOSE_FILES, "logs", "--no-color", "--tail", "40"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        return proc.stdout[-8000:]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    _prepare()
    tokens = {ns: secrets.token_urlsafe(24) for ns in ("alice", "bob", "metrics")}
    ports = {name: _free_port() for name in ("api", "dashboard", "prometheus", "grafana")}
    env_file = tmp_path_factory.mktemp("compose") / "env"
    env_file.write_text("\n".join([
        f"HOLOLOOM_API_TOKENS={tokens['alice']}:alice;{tokens['bob']}:bob",
        f"HOLOLOOM_METRICS_TOKEN={tokens['metrics']}",
        f"NEO4J_PASSWORD={secrets.token_urlsafe(16)}",
        f"GRAFANA_ADMIN_PASSWORD={secrets.token_urlsafe(16)}",
        f"HOLOLOOM_IMAGE={IMAGE}",
        f"HOLOLOOM_API_PORT={ports['api']}",
        f"HOLOLOOM_DASHBOARD_PORT={ports['dashboard']}",
        f"PROMETHEUS_PORT={ports['prometheus']}",
        f"GRAFANA_PORT={ports['grafana']}",
        "NEO4J_HEAP_MAX=768m",
        "HOLOLOOM_API_RATE_LIMIT=100000/minute",
    ]) + "\n")
    compose = Compose(env_file)
    compose("down", "-v", "--remove-orphans")  # leftovers of an interrupted run
    timings: dict[str, float] = {}
    try:
        yield compose, tokens, ports, timings
    finally:
        compose("down", "-v", "--remove-orphans")
        (STATE / "e2e-timings.json").write_text(json.dumps(timings, indent=2))
        _stop_our_dockerd()


def _stop_our_dockerd() -> None:
    """Stop dockerd if prepare.sh started it (its images stay cached on disk)."""
    pid_file = STATE / "dockerd.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        pid_file.unlink()
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)


def _wait_ready(client: httpx.Client, compose: Compose, timeout: float = 300) -> float:
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        try:
            r = client.get("/readyz")
            if r.status_code == 200:
                return time.monotonic() - started
            last = r.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(2)
    pytest.fail(f"API not ready after {timeout} s ({last}); logs:\n{compose.logs()}")


def _prometheus_sees_us(port: int, timeout: float = 90) -> dict:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": 'hololoom_http_requests_total{route="/v1/weave"}'})
            result = r.json()["data"]["result"]
            up = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": 'up{job="hololoom"}'}).json()
            if result and up["data"]["result"] and up["data"]["result"][0]["value"][1] == "1":
                return {"series": result, "up": up["data"]["result"]}
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(3)
    pytest.fail("Prometheus never scraped the API's /metrics")


def test_deployment_doc_gives_the_commands_this_test_runs() -> None:
    doc = (ROOT / "PRODUCTION_DEPLOYMENT.md").read_text()
    for command in DOC_COMMANDS:
        assert command in doc, command


def test_production_compose_file_validates_unchanged(stack) -> None:
    compose = stack[0]
    compose("config", "-q", files=["-f", "docker-compose.production.yml"])


def test_compose_stack_serves_isolates_scrapes_and_keeps_memories_across_down_up(stack) -> None:
    compose, tokens, ports, timings = stack
    auth = {ns: {"Authorization": f"Bearer {tok}"} for ns, tok in tokens.items()}
    started = time.monotonic()
    compose("up", "-d", "hololoom", "dashboard", "prometheus")
    timings["up_seconds"] = time.monotonic() - started
    with httpx.Client(base_url=f"http://127.0.0.1:{ports['api']}", timeout=120) as client:
        timings["ready_seconds"] = _wait_ready(client, compose)
        assert client.get("/v1/stats").status_code == 401  # auth is on in compose

        # 100 memories for alice (two requests), 3 for bob.
        alice_ids: list[str] = []
        for batch in range(2):
            memories = [{"text": f"Project note {i}: the Lisbon office ships release {i} on day {i % 28 + 1}.",
                         "metadata": {"n": i}} for i in range(batch * 50, batch * 50 + 50)]
            r = client.post("/v1/memories", json={"namespace": "alice", "memories": memories}, headers=auth["alice"])
            assert r.status_code == 200, r.text
            alice_ids += r.json()["ids"]
        r = client.post("/v1/memories", headers=auth["bob"], json={"memories": [
            {"text": "Bob's secret: the Oslo office ships nothing in winter."},
            {"text": "Bob keeps a note on the Lisbon office too."},
            {"text": "Release calendars live with Bob in Oslo."}]})
        assert r.status_code == 200, r.text
        bob_ids = r.json()["ids"]
        assert len(set(alice_ids)) == 100 and len(bob_ids) == 3

        # Weave and feedback.
        r = client.post("/v1/weave", json={"namespace": "alice", "query": "When does the Lisbon office ship release 7?"},
                        headers=auth["alice"])
        assert r.status_code == 200, r.text
        spacetime = r.json()
        assert spacetime["namespace"] == "alice" and spacetime["context"] and spacetime["stages"]
        r = client.post("/v1/feedback", json={"namespace": "alice", "spacetime_id": spacetime["id"], "useful": True},
                        headers=auth["alice"])
        assert r.status_code == 200, r.text
        assert client.post("/v1/feedback", json={"namespace": "bob", "spacetime_id": spacetime["id"], "useful": False},
                           headers=auth["bob"]).status_code == 404  # another tenant's weave does not exist for bob

        # Two tokens, two namespaces: nothing crosses.
        for ns, ids in (("alice", set(alice_ids)), ("bob", set(bob_ids))):
            r = client.post("/v1/recall", json={"namespace": ns, "query": "Which office ships releases?", "limit": 20},
                            headers=auth[ns])
            assert r.status_code == 200, r.text
            found = {item["shard"]["id"] for item in r.json()["items"]}
            assert found and found <= ids, ns
            assert {item["shard"]["namespace"] for item in r.json()["items"]} == {ns}
        for path, body in (("/v1/recall", {"namespace": "alice", "query": "Lisbon"}),
                           ("/v1/memories", {"namespace": "alice", "memories": [{"text": "Bob was here."}]})):
            r = client.post(path, json=body, headers=auth["bob"])
            assert r.status_code == 403 and r.json()["error"]["type"] == "Forbidden"
        assert client.delete("/v1/namespaces/alice", headers=auth["bob"]).status_code == 403
        assert client.get("/v1/stats", headers=auth["alice"]).json()["namespaces"] == {"alice": 100}

        # /metrics: closed to tenants, scraped by the Prometheus container with the metrics token.
        assert client.get("/metrics", headers=auth["alice"]).status_code == 403
        assert b"hololoom_http_requests_total" in client.get("/metrics", headers=auth["metrics"]).content
        _prometheus_sees_us(ports["prometheus"])
        assert httpx.get(f"http://127.0.0.1:{ports['dashboard']}/", timeout=30).status_code == 200

    # down, up: every acknowledged memory is still there.
    started = time.monotonic()
    compose("down")
    compose("up", "-d", "hololoom", "dashboard", "prometheus")
    with httpx.Client(base_url=f"http://127.0.0.1:{ports['api']}", timeout=120) as client:
        timings["ready_again_seconds"] = _wait_ready(client, compose)
        timings["down_up_seconds"] = time.monotonic() - started
        for ns, ids in (("alice", alice_ids), ("bob", bob_ids)):
            for memory_id in ids:
                r = client.get(f"/v1/memories/{memory_id}", params={"namespace": ns}, headers=auth[ns])
                assert r.status_code == 200, (ns, memory_id, r.text)
        stats = client.get("/v1/stats", headers=auth["alice"]).json()
        assert stats["namespaces"] == {"alice": 100} and stats["backend"] == "hybrid"
        r = client.post("/v1/weave", json={"namespace": "alice", "query": "When does the Lisbon office ship release 7?"},
                        headers=auth["alice"])
        assert r.status_code == 200 and r.json()["context"]


def test_image_runs_as_non_root_with_data_on_a_volume(stack) -> None:
    docker = shutil.which("docker") or "docker"
    inspect = subprocess.run([docker, "image", "inspect", IMAGE], capture_output=True, text=True, timeout=60)
    if inspect.returncode != 0:
        pytest.skip(f"image {IMAGE} not built here: {inspect.stderr.strip()}")
    config = json.loads(inspect.stdout)[0]["Config"]
    assert config["User"] == "hololoom"
    assert "/data" in (config.get("Volumes") or {})
    assert "HOLOLOOM_HOME=/data" in config["Env"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
