"""Offline checks of the deployment files (no Docker engine or cluster runs here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from junction_engine.settings import EngineSettings
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("dockerfile", sorted((DEPLOY / "docker").glob("*.Dockerfile")))
def test_dockerfile_copies_only_paths_that_exist(dockerfile: Path) -> None:
    sources = []
    for line in dockerfile.read_text().splitlines():
        m = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        if m:
            sources += m.group(1).split()
    assert sources, "a Dockerfile that copies nothing is not checked"
    for src in sources:
        assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src} does not exist"


def test_k8s_manifests_match_the_contract() -> None:
    docs = _docs(DEPLOY / "k8s/junction.yaml")
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    engine = by_name[("Deployment", "junction-engine")]["spec"]["template"]["spec"]
    [container] = engine["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["containerPort"] == 8090
    env = {e["name"] for e in container["env"]}
    assert "JUNCTION_INTERNAL_SECRET" in env
    assert "JUNCTION_DATABASE_URL" not in env  # the data plane never sees the database
    hpa = by_name[("HorizontalPodAutoscaler", "junction-engine")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "junction-engine"
    internal = by_name[("Service", "junction-control-internal")]
    assert internal["spec"]["ports"][0]["port"] == 8082
    for doc in docs:
        assert doc["apiVersion"]
        assert doc["kind"]
        assert doc["metadata"]["name"]


def test_compose_file_parses_and_wires_the_planes() -> None:
    [compose] = _docs(DEPLOY / "docker/compose.yaml")
    services = compose["services"]
    assert services["engine"]["environment"]["JUNCTION_CONTROL_URL"] == "http://control:8082"
    assert "JUNCTION_DATABASE_URL" in services["control"]["environment"]
    assert "JUNCTION_DATABASE_URL" not in services["engine"]["environment"]


def test_caddyfile_is_valid() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy")
        return
    out = subprocess.run(
        [caddy, "validate", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def _adapted_caddyfile(env: dict[str, str] | None = None) -> dict[str, Any]:
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy")
    out = subprocess.run(
        [caddy, "adapt", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, out.stderr
    config: dict[str, Any] = json.loads(out.stdout)
    return config


def _engine_proxy(config: dict[str, Any]) -> dict[str, Any]:
    """The reverse_proxy handler whose upstreams are the engines (the one health-checked)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("handler") == "reverse_proxy" and "health_checks" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    [proxy] = found
    return proxy


SECOND = 1_000_000_000  # Caddy's JSON durations are nanoseconds


def test_caddy_bounds_slow_clients_without_cutting_streams() -> None:
    config = _adapted_caddyfile()
    [server] = config["apps"]["http"]["servers"].values()
    assert server["read_header_timeout"] == 10 * SECOND  # slowloris
    assert server["idle_timeout"] == 120 * SECOND  # keep-alive
    # a stalled body is the engine's to answer (408 in the caller's protocol): when
    # Caddy cuts it, the engine it was sent to counts as failed and leaves rotation
    assert server["read_timeout"] > EngineSettings().body_timeout_seconds * SECOND
    assert "write_timeout" not in server  # it would cut every stream that outlasts it
    transport = _engine_proxy(config)["transport"]
    assert transport["dial_timeout"] == 3 * SECOND
    # one read from an engine may wait as long as its longest call, and then some
    assert transport["read_timeout"] > EngineSettings().total_timeout * SECOND
    assert transport["write_timeout"] == 60 * SECOND


def test_caddy_timeouts_follow_the_environment() -> None:
    config = _adapted_caddyfile(
        {
            "JUNCTION_CADDY_READ_HEADER_TIMEOUT": "2s",
            "JUNCTION_CADDY_READ_BODY_TIMEOUT": "5m",
            "JUNCTION_CADDY_IDLE_TIMEOUT": "30s",
            "JUNCTION_CADDY_ENGINE_READ_TIMEOUT": "31m",
            "JUNCTION_CADDY_ENGINE_WRITE_TIMEOUT": "2m",
        }
    )
    [server] = config["apps"]["http"]["servers"].values()
    assert server["read_header_timeout"] == 2 * SECOND
    assert server["read_timeout"] == 300 * SECOND
    assert server["idle_timeout"] == 30 * SECOND
    transport = _engine_proxy(config)["transport"]
    assert transport["read_timeout"] == 31 * 60 * SECOND
    assert transport["write_timeout"] == 120 * SECOND


def test_every_shipped_deployment_runs_the_one_caddyfile() -> None:
    """Local run, Docker and Kubernetes all get the timeouts above, from the same file.

    Only where the engines are differs, and that is not a second Caddyfile: the
    one Caddyfile imports caddy/engines/<JUNCTION_ENGINE_DISCOVERY>.caddy, a
    list of addresses (`make run`) or a DNS name (Compose, Kubernetes), and
    every deployment ships both files beside it and picks one that exists.
    """
    run_py = (DEPLOY / "local/run.py").read_text()
    assert '"caddy/Caddyfile"' in run_py
    assert '"JUNCTION_ENGINE_DISCOVERY": "static"' in run_py
    dockerfile = (DEPLOY / "docker/caddy.Dockerfile").read_text()
    assert "COPY caddy/Caddyfile /etc/caddy/Caddyfile" in dockerfile
    assert "COPY caddy/engines /etc/caddy/engines" in dockerfile
    assert (
        "import engines/{$JUNCTION_ENGINE_DISCOVERY:static}.caddy"
        in (ROOT / "caddy/Caddyfile").read_text()
    )
    [compose] = _docs(DEPLOY / "docker/compose.yaml")
    caddy_service = compose["services"]["caddy"]
    assert caddy_service["build"]["dockerfile"] == "deploy/docker/caddy.Dockerfile"
    assert "docker build -f deploy/docker/caddy.Dockerfile -t junction-caddy" in dockerfile
    docs = _docs(DEPLOY / "k8s/junction.yaml")
    [caddy] = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "junction-caddy"
    ]
    [container] = caddy["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("junction-caddy:")
    k8s_env = {e["name"]: e.get("value") for e in container["env"]}
    for discovery in (
        k8s_env["JUNCTION_ENGINE_DISCOVERY"],
        caddy_service["environment"]["JUNCTION_ENGINE_DISCOVERY"],
    ):
        assert (ROOT / "caddy/engines" / f"{discovery}.caddy").is_file()


def test_caddy_probes_each_listed_engine_and_ejects_failures() -> None:
    """`ENGINES=3 make run`: three upstreams, each checked on /readyz (503 = not ready)."""
    engines = "127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003"
    proxy = _engine_proxy(_adapted_caddyfile({"JUNCTION_ENGINE_UPSTREAMS": engines}))
    assert [u["dial"] for u in proxy["upstreams"]] == engines.split()
    active = proxy["health_checks"]["active"]
    assert active["uri"] == "/readyz"
    assert active["interval"] == 5 * SECOND
    assert active["timeout"] == 2 * SECOND
    passive = proxy["health_checks"]["passive"]
    assert passive["fail_duration"] == 10 * SECOND
    assert passive["max_fails"] == 1
    # a refused dial is tried on another replica, not surfaced
    assert proxy["load_balancing"]["try_duration"] == 5 * SECOND
    assert proxy["load_balancing"]["selection_policy"]["policy"] == "least_conn"


def test_caddy_finds_engines_in_dns_with_the_same_proxy_settings() -> None:
    """Kubernetes and Compose: one upstream per A record of the engines' name."""
    static = _engine_proxy(_adapted_caddyfile())
    dns = _engine_proxy(
        _adapted_caddyfile(
            {
                "JUNCTION_ENGINE_DISCOVERY": "dns",
                "JUNCTION_ENGINE_DNS_NAME": "junction-engine",
                "JUNCTION_ENGINE_DNS_PORT": "8090",
            }
        )
    )
    assert dns["dynamic_upstreams"] == {
        "source": "a",
        "name": "junction-engine",
        "port": "8090",
        "refresh": 5 * SECOND,
    }
    assert "upstreams" not in dns
    # Caddy runs no active checks on dynamic upstreams: the readiness probe
    # keeps a not-ready pod out of DNS, and the passive checks stay
    assert "active" not in dns["health_checks"]
    assert dns["health_checks"]["passive"] == static["health_checks"]["passive"]
    for same in ("transport", "load_balancing", "flush_interval"):
        assert dns[same] == static[same], same


def test_an_unknown_engine_discovery_is_refused() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy")
        return
    out = subprocess.run(
        [caddy, "adapt", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "JUNCTION_ENGINE_DISCOVERY": "consul"},
    )
    assert out.returncode != 0
    assert "engines/consul.caddy" in out.stderr
