"""Offline checks of the deployment files (no Docker engine or cluster runs here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

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
