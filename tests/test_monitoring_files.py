"""The shipped monitoring: alert rules, the Grafana dashboard, and the way in for Prometheus.

promtool (Debian's prometheus package) checks and unit-tests the rules and
checks every dashboard query as PromQL; each metric the rules and the
dashboard name must be one a real scrape of the engine or the control
process exposes; and the Kubernetes NetworkPolicy must let Prometheus reach
both services' metrics ports.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import subprocess
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, CallEvent, batch
from junction_control.app import create_admin_app, create_internal_app
from junction_control.db import Database
from junction_control.metrics import ControlMetrics
from junction_control.settings import ControlSettings
from junction_control.usage.reaper import run_reaper
from junction_control.usage.upkeep import run_upkeep
from junction_engine.client_keys import hash_key
from tests.control.test_metrics_families import one_pass
from tests.engine.conftest import KEY, build_engine
from tests.engine.test_metrics_families import chain_route, chat
from tests.support.metrics_text import samples

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy/prometheus"
DASHBOARD = ROOT / "deploy/grafana/junction.json"
K8S = ROOT / "deploy/k8s/junction.yaml"
#: series Prometheus makes itself (not scraped from a service)
MADE_BY_PROMETHEUS = {"up"}

promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian: apt-get install prometheus)",
)


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )


def rule_exprs() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels, "the dashboard has no panels"
    exprs = []
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} queries nothing"
        exprs += [t["expr"] for t in panel["targets"]]
    return exprs


def concrete(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in, as Grafana sends it."""
    return expr.replace("$__rate_interval", "5m").replace("$model", ".*").replace("$instance", ".*")


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label names, functions and strings aside)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', concrete(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text))
    return {n for n in names if n.lower() not in _KEYWORDS}


def test_the_name_extraction_sees_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(junction_control_x_bucket{route=~"a"}'
        '[5m]))) > 1 and on (instance) up{job="j"} == 1 unless time() - junction_y > 3'
    )
    assert metric_names(expr) == {"junction_control_x_bucket", "up", "junction_y"}


@promtool
def test_promtool_accepts_the_alert_rules() -> None:
    checked = run_promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


@promtool
def test_the_alerts_fire_on_the_series_they_are_for() -> None:
    tested = run_promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


@promtool
def test_promtool_accepts_the_example_prometheus_config() -> None:
    checked = run_promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool checks PromQL in rule files: each query becomes a recording rule
    rules = [
        {"record": f"junction:dashboard_query_{n}", "expr": concrete(expr)}
        for n, expr in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = run_promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # and the check is real: a broken query is refused
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum("}]}]})
    )
    assert run_promtool("check", "rules", str(path)).returncode != 0


async def engine_scrape() -> str:
    async with build_engine({hash_key(KEY): chain_route()}) as e:
        assert await chat(e, "gpt") == 200
        assert await chat(e, "gpt", stream=True) == 200
        assert await chat(e, "chain") == 200
        stranger = {"authorization": "Bearer jk-not-a-key"}
        refused = await e.client.post("/v1/chat/completions", json={}, headers=stranger)
        assert refused.status_code == 401
        return (await e.client.get("/metrics")).text


async def control_scrape(tmp_path: Path) -> str:
    settings = ControlSettings.from_env(
        environ={
            "JUNCTION_DATABASE_URL": f"sqlite:///{tmp_path / 'junction.db'}",
            "JUNCTION_VAR_DIR": str(tmp_path / "var"),
        },
        env_file=None,
    )
    database = Database(settings.database_url)
    await database.migrate()
    metrics = ControlMetrics()
    admin = create_admin_app(settings, database=database, metrics=metrics)
    internal = create_internal_app(settings, database=database, metrics=metrics)
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=admin), base_url="http://a") as a,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=internal), base_url="http://i"
            ) as i,
        ):
            assert (await a.get("/api/v1/health")).status_code == 200
            resolve = json.dumps({"token_hash": secrets.token_hex(32)}).encode()
            path = "/internal/v1/route/resolve"
            headers = sign(settings.internal_secret, "POST", path, resolve)
            assert (await i.post(path, content=resolve, headers=headers)).status_code == 404
            event = CallEvent(
                id=secrets.token_hex(16),
                kind="started",
                call_id=secrets.token_hex(16),
                at=time.time() - 3,
                tenant_id="no-such-tenant",
                token_id="tok",
                model="m",
            )
            body = json.dumps(batch([event])).encode()
            headers = sign(settings.internal_secret, "POST", TELEMETRY_PATH, body)
            assert (await i.post(TELEMETRY_PATH, content=body, headers=headers)).status_code == 202
            await one_pass(partial(run_reaper, database, timedelta(minutes=30)), metrics, "reaper")
            await one_pass(partial(run_upkeep, database, timedelta(days=30)), metrics, "rollup")
            return (await i.get("/metrics")).text
    finally:
        await database.dispose()


def test_every_metric_the_rules_and_the_dashboard_name_is_exposed(tmp_path: Path) -> None:
    exposed = set(samples(asyncio.run(engine_scrape())))
    exposed |= set(samples(asyncio.run(control_scrape(tmp_path))))
    from_rules = {n for e in rule_exprs() for n in metric_names(e)}
    from_dashboard = {n for e in dashboard_exprs() for n in metric_names(e)}
    assert len(from_rules) >= 10
    assert len(from_dashboard) >= 25
    unknown = sorted((from_rules | from_dashboard) - exposed - MADE_BY_PROMETHEUS)
    assert unknown == []


# Kubernetes: can Prometheus get in? -------------------------------------------


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def admitted(pod: dict[str, str], peer: dict[str, str], port: int, *, same_namespace: bool) -> bool:
    """Whether the manifests' NetworkPolicies let a `peer` pod reach `pod` on `port`."""
    docs = [d for d in yaml.safe_load_all(K8S.read_text()) if d]
    policies = [
        d["spec"]
        for d in docs
        if d["kind"] == "NetworkPolicy" and _matches(d["spec"]["podSelector"], pod)
    ]
    if not any("Ingress" in p.get("policyTypes", ["Ingress"]) for p in policies):
        return True  # no policy isolates the pod
    for policy in policies:
        for rule in policy.get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            for source in rule.get("from", []):
                if "podSelector" in source and not _matches(source["podSelector"], peer):
                    continue
                if "namespaceSelector" not in source and not same_namespace:
                    continue
                if "podSelector" in source or "namespaceSelector" in source:
                    return True
    return False


PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}


@pytest.mark.parametrize(
    ("workload", "port_name"), [("junction-engine", "http"), ("junction-control", "internal")]
)
def test_prometheus_may_scrape_each_service_on_its_annotated_port(
    workload: str, port_name: str
) -> None:
    docs = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(K8S.read_text())
        if d and d["kind"] == "Deployment"
    }
    template = docs[workload]["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    ports = {p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == ports[port_name]
    labels = template["metadata"]["labels"]
    # Prometheus usually runs in a namespace of its own
    assert admitted(labels, PROMETHEUS_POD, ports[port_name], same_namespace=False)


def test_the_policy_check_still_keeps_strangers_out_of_the_internal_api() -> None:
    control = {"app.kubernetes.io/name": "junction-control"}
    stranger = {"app.kubernetes.io/name": "something-else"}
    assert not admitted(control, stranger, 8082, same_namespace=True)
    assert not admitted(control, PROMETHEUS_POD, 8081, same_namespace=False)
    assert admitted(
        control, {"app.kubernetes.io/name": "junction-engine"}, 8082, same_namespace=True
    )
