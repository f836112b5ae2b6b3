"""Spans of the internal API (route resolve, telemetry ingest), exported to a real OTLP receiver."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, batch
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.settings import ControlSettings
from tests.support.otlp import OtlpReceiver

from .conftest import PROVIDER_KEY, RESOLVE_PATH, Demo, signed_post
from .test_telemetry import finished, started

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
SERVER = 2


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as found:
        yield found


async def test_resolve_and_ingest_are_spans_at_the_receiver(
    receiver: OtlpReceiver, control_env: dict[str, str], database: Database, demo: Demo
) -> None:
    env = control_env | {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url}
    settings = ControlSettings.from_env(environ=env, env_file=None)
    assert settings.tracing.endpoint == receiver.traces_url
    app = create_internal_app(settings, database=database)
    secret = settings.internal_secret
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client,
    ):
        found = await signed_post(client, secret, RESOLVE_PATH, {"token_hash": demo.token_hash})
        assert found.status_code == 200
        unknown = await signed_post(client, secret, RESOLVE_PATH, {"token_hash": "0" * 64})
        assert unknown.status_code == 404
        events = [started(demo, "call-t1"), finished(demo, "call-t1")]
        ingested = await signed_post(client, secret, TELEMETRY_PATH, batch(events))
        assert ingested.status_code == 202
    # the lifespan's end flushed the batch processor

    assert {s.service for s in receiver.spans} == {"junction-control"}
    resolves = list(receiver.named("route resolve"))
    assert sorted(s.attributes["http.response.status_code"] for s in resolves) == [200, 404]
    hit = next(s for s in resolves if s.attributes["http.response.status_code"] == 200)
    assert hit.kind == SERVER
    assert hit.attributes["junction.route.found"] is True
    assert hit.attributes["junction.tenant.id"] == demo.tenant_id
    miss = next(s for s in resolves if s.attributes["http.response.status_code"] == 404)
    assert miss.attributes["junction.route.found"] is False
    [ingest] = receiver.named("telemetry ingest")
    assert ingest.attributes["http.response.status_code"] == 202
    assert ingest.attributes["junction.telemetry.events"] == 2
    assert ingest.attributes["junction.telemetry.accepted"] == 2
    # neither the token, its hash nor the provider key is in any export
    for secret_text in (demo.raw_token, demo.token_hash, PROVIDER_KEY):
        assert not any(secret_text.encode() in raw for raw in receiver.raw)


async def test_a_callers_traceparent_is_the_parent_of_the_resolve_span(
    receiver: OtlpReceiver, control_env: dict[str, str], database: Database, demo: Demo
) -> None:
    env = control_env | {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.traces_url}
    settings = ControlSettings.from_env(environ=env, env_file=None)
    app = create_internal_app(settings, database=database)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client,
    ):
        payload = json.dumps({"token_hash": demo.token_hash}).encode()
        headers = sign(settings.internal_secret, "POST", RESOLVE_PATH, payload)
        headers |= {"content-type": "application/json", "traceparent": PARENT}
        answer = await client.post(RESOLVE_PATH, content=payload, headers=headers)
        assert answer.status_code == 200

    [span] = receiver.named("route resolve")
    assert (span.trace_id, span.parent_id) == (TRACE_ID, "b7ad6b7169203331")


def test_with_no_endpoint_the_internal_app_loads_no_tracing_module(
    control_env: dict[str, str],
) -> None:
    code = (
        "import json, sys\n"
        "from junction_control.app import create_internal_app\n"
        "from junction_control.settings import ControlSettings\n"
        "settings = ControlSettings.from_env(environ=json.loads(sys.argv[1]), env_file=None)\n"
        "app = create_internal_app(settings)\n"
        "mods = ('opentelemetry.sdk.trace', 'opentelemetry.exporter', "
        "'junction_control.internal.tracing', 'junction_tracing.provider')\n"
        "print(json.dumps({'tracing': app.state.context.tracing is not None,\n"
        "  'loaded': sorted(m for m in sys.modules if m.startswith(mods))}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(control_env)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"tracing": False, "loaded": []}
