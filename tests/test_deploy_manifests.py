"""The Compose and Kubernetes files, validated offline.

Kubernetes: every document against the strict schemas (an unknown field is an
error) of the minimum version the file states and of the newest one vendored
(tests/deploy_schemas/, rebuilt by vendor_k8s.py), then what issue 9 asks of
it: per-pod engine upstreams, disruption budgets, scrape annotations, non-root
read-only containers with resources, the migration Job, the spool on a volume.
Compose: against the compose-spec JSON schema (vendored, with its license),
then the wiring: Redis, health checks, start conditions, secrets only from the
environment, the migrate and first-admin steps, which also run here for real.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy/k8s/junction.yaml"
COMPOSE = ROOT / "deploy/docker/compose.yaml"
SCHEMAS = ROOT / "tests/deploy_schemas"
K8S_VERSIONS = ("1.30", "1.37")  # the stated minimum and the newest vendored


def _k8s() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(K8S.read_text()) if d]


def _by_name() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in _k8s()}


def _pod_templates() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in _k8s()
        if d["kind"] in ("Deployment", "Job")
    }


@cache
def _schema(version: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"k8s-{version}.json").read_text())
    return loaded


def _k8s_errors(doc: dict[str, Any], version: str) -> list[str]:
    schema = _schema(version)
    kind = schema["kinds"].get(f"{doc['apiVersion']} {doc['kind']}")
    if kind is None:
        return [f"{doc['apiVersion']} {doc['kind']} has no schema in Kubernetes {version}"]
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]}
    )
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def test_the_stated_minimum_version_is_the_one_validated() -> None:
    header = K8S.read_text().split("\n", 1)[0]
    assert f"Kubernetes {K8S_VERSIONS[0]} or newer" in header


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_k8s_document_matches_the_strict_schema(version: str) -> None:
    docs = _k8s()
    assert len(docs) >= 10
    problems = {
        f"{d['kind']}/{d['metadata']['name']}": errors
        for d in docs
        if (errors := _k8s_errors(d, version))
    }
    assert problems == {}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_schema_check_catches_a_misspelt_field(version: str) -> None:
    """A validator that accepts anything would pass the test above."""
    engine = copy.deepcopy(_by_name()[("Deployment", "junction-engine")])
    container = engine["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    container["resources"]["requests"]["cpu"] = ["500m"]
    errors = _k8s_errors(engine, version)
    assert any("readinesProbe" in e for e in errors), errors
    assert any("resources/requests/cpu" in e for e in errors), errors


def test_each_engine_pod_is_its_own_caddy_upstream() -> None:
    by_name = _by_name()
    service = by_name[("Service", "junction-engine")]["spec"]
    assert service["clusterIP"] == "None"  # headless: DNS lists every ready pod
    assert not service.get("publishNotReadyAddresses", False)
    engine = by_name[("Deployment", "junction-engine")]["spec"]["template"]
    assert service["selector"].items() <= engine["metadata"]["labels"].items()
    [port] = service["ports"]
    [caddy] = _pod_templates()["junction-caddy"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in caddy["env"]}
    assert env["JUNCTION_ENGINE_DISCOVERY"] == "dns"
    assert env["JUNCTION_ENGINE_DNS_NAME"] == "junction-engine"
    assert env["JUNCTION_ENGINE_DNS_PORT"] == str(port["port"])
    assert (ROOT / "caddy/engines/dns.caddy").is_file()
    # a pod leaves Caddy's DNS answer (refreshed every 5 s) before it stops listening
    [container] = engine["spec"]["containers"]
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 5
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("app", ["junction-control", "junction-engine", "junction-caddy"])
def test_control_engines_and_caddy_have_a_disruption_budget(app: str) -> None:
    by_name = _by_name()
    pdb = by_name[("PodDisruptionBudget", app)]["spec"]
    deployment = by_name[("Deployment", app)]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["maxUnavailable"] == 1
    assert deployment["replicas"] >= 2  # a budget of one pod would block every drain


def test_engine_metrics_are_scraped() -> None:
    template = _pod_templates()["junction-engine"]
    annotations = template["metadata"]["annotations"]
    [container] = template["spec"]["containers"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]


@pytest.mark.parametrize(
    "workload", ["junction-migrate", "junction-control", "junction-engine", "junction-caddy"]
)
def test_every_container_is_non_root_read_only_and_bounded(workload: str) -> None:
    spec = _pod_templates()[workload]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["serviceAccountName"] == "junction"
    volumes = {v["name"] for v in spec["volumes"]}
    for container in spec.get("initContainers", []) + spec["containers"]:
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["requests"]["memory"]
        assert container["resources"]["limits"]["memory"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts
        assert set(mounts.values()) <= volumes


def test_migrations_run_once_in_a_job_and_never_in_serve() -> None:
    by_name = _by_name()
    config = by_name[("ConfigMap", "junction-config")]["data"]
    assert config["JUNCTION_MIGRATE_ON_START"] == "false"
    job = by_name[("Job", "junction-migrate")]["spec"]["template"]["spec"]
    [migrate] = job["containers"]
    assert migrate["command"] == ["junction-control", "migrate"]
    assert {"configMapRef": {"name": "junction-config"}} in migrate["envFrom"]
    assert "JUNCTION_DATABASE_URL" in {e["name"] for e in migrate["env"]}
    for name in ("junction-control", "junction-engine"):
        [container] = _pod_templates()[name]["spec"]["containers"]
        assert "command" not in container  # the image's own `serve`
        assert {"configMapRef": {"name": "junction-config"}} in container["envFrom"]


def test_the_engine_spool_is_on_a_volume() -> None:
    spec = _pod_templates()["junction-engine"]["spec"]
    [container] = spec["containers"]
    spool = {e["name"]: e.get("value") for e in container["env"]}["JUNCTION_SPOOL_DIR"]
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == spool]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume


def test_control_gets_redis_so_revocations_are_announced() -> None:
    config = _by_name()[("ConfigMap", "junction-config")]["data"]
    assert config["JUNCTION_REDIS_URL"].startswith("redis://")


# Compose ---------------------------------------------------------------------

# top-level keys the spec gained after the vendored schema was cut
NEWER_THAN_SCHEMA = {"name"}
ONE_SHOT = {"migrate", "bootstrap-admin"}
SECRET_WORDS = ("PASSWORD", "SECRET", "MASTER_KEY", "DATABASE_URL")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_matches_the_compose_spec_schema() -> None:
    compose = _compose()
    for key in NEWER_THAN_SCHEMA:
        assert isinstance(compose.pop(key, ""), str)
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in jsonschema_rs.Draft201909Validator(schema).iter_errors(compose)
    ]
    assert errors == []
    assert (SCHEMAS / "LICENSE.compose-spec").is_file()


def test_compose_every_redis_user_has_redis() -> None:
    services = _compose()["services"]
    for name in ("control", "engine"):
        assert services[name]["environment"]["JUNCTION_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_compose_services_are_health_checked_and_started_in_order() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert service["healthcheck"]["test"][0] == "CMD", name
        for dependency, rule in service.get("depends_on", {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule == {"condition": wanted}, (name, dependency)
    control = services["control"]["depends_on"]
    assert control["migrate"] == {"condition": "service_completed_successfully"}
    assert services["control"]["environment"]["JUNCTION_MIGRATE_ON_START"] == "false"
    assert services["migrate"]["command"] == ["junction-control", "migrate"]
    assert "/readyz" in " ".join(services["engine"]["healthcheck"]["test"])
    assert services["caddy"]["environment"]["JUNCTION_ENGINE_DISCOVERY"] == "dns"
    assert services["caddy"]["environment"]["JUNCTION_ENGINE_DNS_NAME"] == "engine"


def test_compose_hard_codes_no_secret() -> None:
    services = _compose()["services"]
    seen = 0
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if any(word in key for word in SECRET_WORDS):
                seen += 1
                # only from the environment, and refusing to start without it
                assert re.search(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (name, key)
    assert seen >= 8


def _compose_command(service: str) -> list[str]:
    """The service's command as the container's shell gets it (Compose unescapes $$)."""
    command: list[str] = _compose()["services"][service]["command"]
    return [part.replace("$$", "$") for part in command]


def test_compose_migrate_and_first_admin_steps_run_and_repeat(tmp_path: Path) -> None:
    """The two one-shot commands, run as Compose would; the second `up` passes again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        JUNCTION_VAR_DIR=str(tmp_path / "var"),
        JUNCTION_MIGRATE_ON_START="false",
        JUNCTION_ADMIN_EMAIL="admin@example.com",
        JUNCTION_ADMIN_PASSWORD="a long enough passphrase for the first admin",
    )

    def run(service: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _compose_command(service),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )

    for attempt in (1, 2):
        migrated = run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        admin = run("bootstrap-admin")
        assert admin.returncode == 0, (attempt, admin.stdout, admin.stderr)
        assert ("already exists" in admin.stdout) is (attempt == 2), admin.stdout
        assert env["JUNCTION_ADMIN_PASSWORD"] not in admin.stdout + admin.stderr
    # a real failure still fails the step
    env["JUNCTION_ADMIN_EMAIL"] = "not an email"
    broken = run("bootstrap-admin")
    assert broken.returncode != 0, broken.stdout
