"""OpenTelemetry spans of the engine, exported over OTLP/HTTP to a real receiver on loopback.

The engine runs in-process with the mock LLM as its provider; the spans leave
through the SDK's batch processor and OTLP/HTTP exporter (flushed when the
app shuts down) and are decoded from protobuf by `tests.support.otlp`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from junction_tracing.settings import TracingSettings
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.routes import SECRET

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
PARENT = f"00-{TRACE_ID}-{CLIENT_SPAN}-01"
CANARY_PROMPT = "canary-prompt-3e9a51 tell me a secret"
SERVER, CLIENT = 2, 3  # OTLP span kinds
ERROR = 2  # OTLP status code


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as found:
        yield found


def _tracing(receiver: OtlpReceiver) -> TracingSettings:
    return TracingSettings(endpoint=receiver.traces_url, service_name="junction-engine")


def _values(spans: list[ReceivedSpan]) -> list[str]:
    return [
        json.dumps(v) if not isinstance(v, str) else v for s in spans for v in s.attributes.values()
    ]


def _no_secret_in(receiver: OtlpReceiver) -> None:
    """No attribute, and no byte of any export, holds the prompt or a key."""
    values = _values(receiver.spans)
    for secret in (CANARY_PROMPT, "canary-prompt", KEY, MOCK_KEY, KEY[:8]):
        assert not any(secret in v for v in values), secret
        assert not any(secret.encode() in raw for raw in receiver.raw), secret


async def test_a_failover_is_one_trace_under_the_clients_traceparent(
    receiver: OtlpReceiver,
) -> None:
    async with build_engine(tracing=_tracing(receiver)) as engine:
        answer = await engine.client.post(
            "/v1/chat/completions",
            json={"model": "flaky", "messages": [{"role": "user", "content": CANARY_PROMPT}]},
            headers={"traceparent": PARENT, "tracestate": "rojo=00f067aa0ba902b7"},
        )
        assert answer.status_code == 200, answer.text
        sent = await engine.upstream_requests()
    # the app's shutdown flushed the batch processor

    [trace_id] = receiver.traces()
    assert trace_id == TRACE_ID
    [call] = [s for s in receiver.spans if s.kind == SERVER]
    assert call.parent_id == CLIENT_SPAN
    assert call.name == "chat flaky"
    assert call.service == "junction-engine"
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.request.model"] == "flaky"
    assert call.attributes["gen_ai.response.model"] == "mock-backup"
    assert call.attributes["junction.call.status"] == "success"
    assert call.attributes["junction.attempts"] == 2
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["gen_ai.usage.input_tokens"] > 0
    assert call.attributes["gen_ai.usage.output_tokens"] > 0
    assert call.attributes["junction.tenant.id"]

    [lookup] = receiver.named("route lookup")
    assert lookup.parent_id == call.span_id
    assert lookup.attributes["junction.route.found"] is True
    # the control plane's resolve continues the trace under the lookup span
    [resolve] = engine.control.resolve_headers
    assert resolve["traceparent"] == f"00-{TRACE_ID}-{lookup.span_id}-01"

    attempts = sorted(
        (s for s in receiver.spans if s.kind == CLIENT),
        key=lambda s: s.attributes["junction.attempt.number"],
    )
    assert [a.parent_id for a in attempts] == [call.span_id, call.span_id]
    first, second = attempts
    assert first.attributes["junction.deployment.id"] == "dep-mock-gpt+fault=500-0"
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "mock-gpt+fault=500"
    assert first.attributes["http.response.status_code"] == 500
    assert first.attributes["junction.attempt.outcome"] == "failed"
    assert first.status_code == ERROR
    assert "junction.retry_reason" not in first.attributes
    assert second.attributes["junction.deployment.id"] == "dep-mock-backup-1"
    assert second.attributes["junction.attempt.outcome"] == "answered"
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["junction.retry_reason"] == first.attributes["error.type"]

    # each provider request named its own attempt's span as the parent, in the client's trace
    assert [r["headers"]["traceparent"] for r in sent] == [
        f"00-{TRACE_ID}-{first.span_id}-01",
        f"00-{TRACE_ID}-{second.span_id}-01",
    ]
    assert all(r["headers"]["tracestate"] == "rojo=00f067aa0ba902b7" for r in sent)
    _no_secret_in(receiver)


async def test_each_call_is_its_own_trace_and_a_stream_records_ttft_and_tokens(
    receiver: OtlpReceiver,
) -> None:
    async with build_engine(tracing=_tracing(receiver)) as engine:
        for _ in range(2):
            async with engine.client.stream(
                "POST",
                "/v1/messages",
                json={
                    "model": "claude",
                    "max_tokens": 16,
                    "stream": True,
                    "messages": [{"role": "user", "content": CANARY_PROMPT}],
                },
            ) as answer:
                assert answer.status_code == 200
                body = b"".join([chunk async for chunk in answer.aiter_bytes()])
            assert b"message_stop" in body
        await engine.app.state.engine.telemetry.flush()
        events = [e for e in engine.control.events if e["kind"] == "finished"]

    traces = receiver.traces()
    assert len(traces) == 2
    # the call's record carries the trace id of its spans
    assert {e["trace_id"] for e in events} == set(traces)
    for spans in traces.values():
        [call] = [s for s in spans if s.kind == SERVER]
        assert call.parent_id == ""  # no traceparent came: the call is the trace's root
        [stream] = [s for s in spans if s.name == "stream"]
        assert stream.parent_id == call.span_id
        assert stream.attributes["junction.ttft_ms"] > 0
        assert stream.attributes["gen_ai.usage.output_tokens"] > 0
        assert stream.attributes["junction.stream.complete"] is True
        [attempt] = [s for s in spans if s.kind == CLIENT]
        assert attempt.attributes["gen_ai.provider.name"] == "anthropic"
        assert call.attributes["junction.ttft_ms"] == stream.attributes["junction.ttft_ms"]
    _no_secret_in(receiver)


async def test_a_refused_call_is_a_span_with_its_error_code(receiver: OtlpReceiver) -> None:
    async with build_engine(tracing=_tracing(receiver)) as engine:
        answer = await engine.client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": [{"role": "user", "content": CANARY_PROMPT}]},
            headers={"authorization": "Bearer jk-not-a-known-key", "traceparent": PARENT},
        )
        assert answer.status_code == 401

    [call] = [s for s in receiver.spans if s.kind == SERVER]
    assert call.trace_id == TRACE_ID
    assert call.attributes["error.type"] == "invalid_api_key"
    assert call.attributes["http.response.status_code"] == 401
    assert call.attributes["junction.call.status"] == "refused"
    [lookup] = receiver.named("route lookup")
    assert lookup.attributes["junction.route.found"] is False
    values = _values(receiver.spans)
    assert not any("jk-not-a-known-key" in v for v in values)


_SERVE_ONE = """
import asyncio, json, sys
import httpx
from junction_contracts import Route
from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.support.routes import FakeControl, deployment, model_route, route

TRACING_PACKAGES = ("opentelemetry", "junction_tracing", "junction_engine")
env = json.loads(sys.argv[1])
settings = EngineSettings.from_env(env, env_file=None)

async def main() -> None:
    secret = settings.internal_secret
    gpt = deployment("mock-gpt", key="mock-provider-key", secret=secret)
    routes = {hash_key("jk-k"): route(model_route(name="gpt", deployments=(gpt,)))}
    control = FakeControl(routes, secret)
    app = create_app(
        settings,
        upstream_transport=httpx.ASGITransport(app=create_mock_app()),
        control_transport=control.transport(),
    )
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://engine"
    ) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": "Bearer jk-k"},
        )
        assert answer.status_code == 200, answer.text
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in TRACING_PACKAGES)
        tracing = app.state.engine.tracing
        trace_api = sys.modules.get("opentelemetry.trace")
        global_provider = getattr(trace_api, "_TRACER_PROVIDER", None) is not None
        print(json.dumps(
            {"tracing": tracing is not None, "loaded": loaded, "global_provider": global_provider}
        ))

asyncio.run(main())
"""


_TRACING_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter",
    "opentelemetry.proto",
    "junction_engine.tracing",
    "junction_tracing.provider",
)


def _serve_one(env: dict[str, str]) -> dict[str, Any]:
    base = {"JUNCTION_INTERNAL_SECRET": SECRET.decode(), "JUNCTION_CONTROL_URL": "http://control"}
    out = subprocess.run(
        [sys.executable, "-c", _SERVE_ONE, json.dumps(base | env)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def _loaded_by_redis_alone() -> set[str]:
    # redis-py imports OpenTelemetry's metrics SDK on its own when it is installed
    code = (
        "import sys, json, redis.asyncio\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_with_no_endpoint_the_engine_loads_no_tracing_module_of_its_own() -> None:
    found = _serve_one({"OTEL_SERVICE_NAME": "quiet-engine"})

    assert found["tracing"] is False
    assert found["global_provider"] is False
    loaded = set(found["loaded"])
    # no OpenTelemetry module beyond what importing redis loads: no SDK tracer, no exporter
    assert {m for m in loaded if m.startswith("opentelemetry")} <= _loaded_by_redis_alone()
    tracing_modules = {m for m in loaded if m.startswith(_TRACING_MODULES)}
    assert tracing_modules == set()


def test_with_an_endpoint_the_sdk_is_loaded_and_the_engine_traces(
    receiver: OtlpReceiver,
) -> None:
    # the check above can fail: the same request with an endpoint loads the SDK
    found = _serve_one({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base_url})

    assert found["tracing"] is True
    assert found["global_provider"] is False  # the engine's provider is its own
    assert {"opentelemetry.sdk.trace", "junction_engine.tracing"} <= set(found["loaded"])
    assert receiver.posts == ["/v1/traces"]
    [call] = [s for s in receiver.spans if s.kind == SERVER]
    assert call.name == "chat gpt"


async def test_a_client_that_does_not_sample_gets_no_span_but_keeps_its_trace_upstream(
    receiver: OtlpReceiver,
) -> None:
    unsampled = f"00-{TRACE_ID}-{CLIENT_SPAN}-00"
    async with build_engine(tracing=_tracing(receiver)) as engine:
        answer = await engine.client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
            headers={"traceparent": unsampled},
        )
        assert answer.status_code == 200
        [sent] = await engine.upstream_requests()

    # the default sampler follows the client's flag: nothing recorded, nothing exported
    assert receiver.spans == []
    version, trace_id, _span, flags = sent["headers"]["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "00")


async def test_without_tracing_the_control_plane_gets_no_trace_context() -> None:
    async with build_engine() as engine:
        answer = await engine.client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
            headers={"traceparent": PARENT},
        )
        assert answer.status_code == 200, answer.text
    [resolve] = engine.control.resolve_headers
    assert "traceparent" not in resolve
