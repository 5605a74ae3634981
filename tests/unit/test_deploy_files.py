"""The deployment files agree with each other and with the code (parsed, no Docker needed;
tests/docker/ starts them for real)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.production.yml").read_text())
SERVICES = COMPOSE["services"]


def _variables(text: str) -> set[str]:
    return set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))


def test_env_example_lists_every_variable_the_compose_file_reads() -> None:
    used = _variables((ROOT / "docker-compose.production.yml").read_text())
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert used <= listed, used - listed
    doc = (ROOT / "PRODUCTION_DEPLOYMENT.md").read_text()
    assert all(name in doc for name in listed), [n for n in listed if n not in doc]


def test_services_restart_persist_and_check_health() -> None:
    assert set(SERVICES) == {"hololoom", "dashboard", "neo4j", "qdrant", "prometheus", "grafana"}
    for name, service in SERVICES.items():
        assert service["restart"] == "unless-stopped", name
    for name in ("neo4j", "qdrant", "dashboard"):
        assert SERVICES[name]["healthcheck"]["test"], name
    named = set(COMPOSE["volumes"])
    for name in ("hololoom", "neo4j", "qdrant", "prometheus", "grafana"):
        volumes = [v.split(":")[0] for v in SERVICES[name]["volumes"]]
        assert named & set(volumes), name
    assert SERVICES["hololoom"]["environment"]["HOLOLOOM_BACKEND"] == "${HOLOLOOM_BACKEND:-hybrid}"
    assert set(SERVICES["hololoom"]["depends_on"]) == {"neo4j", "qdrant"}


def test_secrets_have_no_defaults_and_ports_default_to_loopback() -> None:
    text = (ROOT / "docker-compose.production.yml").read_text()
    for secret in ("HOLOLOOM_API_TOKENS", "HOLOLOOM_METRICS_TOKEN", "NEO4J_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert re.search(r"\$\{" + secret + r":\?", text), secret
        assert not re.search(r"\$\{" + secret + r":-", text), secret
    for service in SERVICES.values():
        for port in service.get("ports", []):
            assert port.startswith("${HOLOLOOM_BIND_ADDRESS:-127.0.0.1}:"), port


def test_prometheus_scrapes_the_api_with_the_token_file_its_command_writes() -> None:
    prom = yaml.safe_load((ROOT / "config/prometheus.production.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["static_configs"][0]["targets"] == ["hololoom:8000"] and job["metrics_path"] == "/metrics"
    token_file = job["authorization"]["credentials_file"]
    assert token_file in " ".join(SERVICES["prometheus"]["command"])
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./config/prometheus.production.yml"


def test_grafana_mounts_the_dashboards_where_its_provider_looks() -> None:
    provider = yaml.safe_load(next((ROOT / "config/grafana/provisioning/dashboards").glob("*.yml")).read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["grafana"]["volumes"]}
    assert mounts[path] == "./config/grafana/dashboards"
    assert list((ROOT / "config/grafana/dashboards").glob("*.json"))
    assert SERVICES["grafana"]["environment"]["PROMETHEUS_URL"] == "http://prometheus:9090"


def test_dockerfile_is_multi_stage_non_root_offline_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile.production").read_text()
    assert text.count("FROM ${BASE_IMAGE}") == 2 and "COPY --from=build" in text
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "\nUSER hololoom" in text and "HOLOLOOM_HOME=/data" in text and 'VOLUME ["/data"]' in text
    assert "HF_HUB_OFFLINE=1" in text and "HEALTHCHECK" in text and "/healthz" in text
