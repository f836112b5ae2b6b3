"""`POST /v1/responses` in-process: native to OpenAI providers, through chat to the others."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from junction_contracts import Pricing, Route
from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from junction_protocols.sse import SSEDecoder
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.engine.test_redaction_canary import EventChunks
from tests.support.routes import SECRET, FakeControl, deployment, model_route, route

PRICE = Pricing(input_per_mtok=2.0, output_per_mtok=10.0)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ"
    "/pLvAAAAAElFTkSuQmCC"
)


def _route() -> Route:
    anthropic = deployment("mock-claude", key=MOCK_KEY, ptype="anthropic", base_url="http://mock")
    return route(
        model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),), pricing=PRICE),
        model_route(name="claude", deployments=(anthropic,), pricing=PRICE),
        model_route(
            name="gem",
            deployments=(
                deployment("mock-gemini", key=MOCK_KEY, ptype="gemini", base_url="http://mock"),
            ),
            pricing=PRICE,
        ),
        model_route(
            name="compat",
            deployments=(deployment("mock-compat", key=MOCK_KEY, ptype="openai-compatible"),),
            pricing=PRICE,
        ),
        model_route(
            name="mixed",
            deployments=(
                deployment("mock-gpt+fault=500", key=MOCK_KEY, priority=0),
                deployment(
                    "mock-claude",
                    key=MOCK_KEY,
                    ptype="anthropic",
                    base_url="http://mock",
                    priority=1,
                ),
            ),
            pricing=PRICE,
        ),
        model_route(
            name="gpt-midstream",
            deployments=(deployment("mock-gpt+fault=midstream", key=MOCK_KEY),),
        ),
        model_route(
            name="claude-midstream",
            deployments=(
                deployment(
                    "mock-claude+fault=midstream",
                    key=MOCK_KEY,
                    ptype="anthropic",
                    base_url="http://mock",
                ),
            ),
        ),
        model_route(name="gpt-down", deployments=(deployment("mock-gpt+fault=500", key=MOCK_KEY),)),
    )


@pytest.fixture
async def engine() -> AsyncIterator[EngineHarness]:
    async with build_engine({hash_key(KEY): _route()}) as harness:
        yield harness


def events(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    decoder = SSEDecoder()
    return [(e.event, json.loads(e.data)) for e in decoder.feed(raw) + decoder.close()]


async def finished(engine: EngineHarness) -> list[dict[str, Any]]:
    await engine.app.state.engine.telemetry.flush()
    return [e for e in engine.control.events if e["kind"] == "finished"]


async def test_an_openai_provider_gets_the_request_as_sent_but_stateless(
    engine: EngineHarness,
) -> None:
    raw = b'{"model": "gpt", "input": "Hello there", "x_extra": {"a": 1}}'
    resp = await engine.client.post(
        "/v1/responses", content=raw, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "response"
    assert body["output"][0]["content"][0]["text"] == "Hello from mock-gpt! You said: Hello there"
    [sent] = await engine.upstream_requests()
    assert sent["path"] == "/v1/responses"
    assert sent["body"] == raw.decode().replace('"gpt"', '"mock-gpt"')[:-1] + ',"store":false}'
    [call] = await finished(engine)
    assert call["operation"] == "responses"
    assert (call["input_tokens"], call["output_tokens"]) == (
        body["usage"]["input_tokens"],
        body["usage"]["output_tokens"],
    )
    assert call["cost_usd"] == pytest.approx(
        (call["input_tokens"] * 2.0 + call["output_tokens"] * 10.0) / 1e6
    )


async def test_a_native_stream_is_relayed_with_its_usage_billed(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/responses", json={"model": "gpt", "input": "Hello there", "stream": True}
    )
    assert resp.status_code == 200
    out = events(resp.content)
    assert out[0][0] == "response.created"
    assert out[-1][0] == "response.completed"
    assert b"[DONE]" not in resp.content
    [sent] = await engine.upstream_requests()
    assert "stream_options" not in json.loads(sent["body"])  # not a Responses parameter
    [call] = await finished(engine)
    assert call["status"] == "success"
    assert call["output_tokens"] == out[-1][1]["response"]["usage"]["output_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("claude", "/v1/messages"),
        ("gem", "/v1beta/models/mock-gemini:generateContent"),
        ("compat", "/v1/chat/completions"),
    ],
)
async def test_other_providers_are_served_through_chat(
    engine: EngineHarness, model: str, path: str
) -> None:
    resp = await engine.client.post(
        "/v1/responses", json={"model": model, "input": "Hello there", "instructions": "Be brief."}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "response"
    assert body["model"] == model
    assert body["instructions"] == "Be brief."
    assert "You said: Hello there" in body["output"][0]["content"][0]["text"]
    [sent] = await engine.upstream_requests()
    assert sent["path"] == path
    [call] = await finished(engine)
    assert call["operation"] == "chat"
    assert call["input_tokens"] == body["usage"]["input_tokens"] > 0
    assert call["output_tokens"] == body["usage"]["output_tokens"] > 0
    assert call["cost_usd"] > 0


@pytest.mark.parametrize("model", ["claude", "gem", "compat"])
async def test_a_converted_stream_ends_with_the_completed_response_and_usage(
    engine: EngineHarness, model: str
) -> None:
    resp = await engine.client.post(
        "/v1/responses", json={"model": model, "input": "Hello there", "stream": True}
    )
    assert resp.status_code == 200
    out = events(resp.content)
    assert [d["sequence_number"] for _, d in out] == list(range(len(out)))
    name, data = out[-1]
    assert name == "response.completed"
    text = "".join(d["delta"] for n, d in out if n == "response.output_text.delta")
    assert text == data["response"]["output"][0]["content"][0]["text"]
    [call] = await finished(engine)
    assert call["status"] == "success"
    assert call["output_tokens"] == data["response"]["usage"]["output_tokens"] > 0


async def test_a_function_call_and_its_output_round_trip_through_anthropic(
    engine: EngineHarness,
) -> None:
    first = (
        await engine.client.post(
            "/v1/responses",
            json={"model": "claude", "input": "Weather in Paris?", "tools": [WEATHER]},
        )
    ).json()
    [call] = first["output"]
    assert call["type"] == "function_call"
    assert call["name"] == "get_weather"
    second = await engine.client.post(
        "/v1/responses",
        json={
            "model": "claude",
            "tools": [WEATHER],
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "type": "function_call",
                    "call_id": call["call_id"],
                    "name": "get_weather",
                    "arguments": call["arguments"],
                },
                {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "18C and sunny",
                },
            ],
        },
    )
    assert second.json()["output"][0]["content"][0]["text"] == "Tool said: 18C and sunny"
    sent = json.loads((await engine.upstream_requests())[-1]["body"])
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call["call_id"],
        "content": "18C and sunny",
    }


async def test_an_image_reaches_anthropic_as_an_image_block(engine: EngineHarness) -> None:
    content = [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": PNG},
    ]
    resp = await engine.client.post(
        "/v1/responses", json={"model": "claude", "input": [{"role": "user", "content": content}]}
    )
    assert resp.status_code == 200, resp.text
    sent = json.loads((await engine.upstream_requests())[-1]["body"])
    assert sent["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",", 1)[1]},
    }


async def test_a_model_with_a_non_openai_deployment_goes_through_chat_on_every_one(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post(
        "/v1/responses", json={"model": "mixed", "input": "Hello there"}
    )
    assert resp.status_code == 200, resp.text
    assert "mock-claude" in resp.json()["output"][0]["content"][0]["text"]
    paths = [r["path"] for r in await engine.upstream_requests()]
    assert paths == ["/v1/chat/completions", "/v1/messages"]  # the OpenAI one failed over


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("gpt", "store", True),
        ("claude", "store", True),
        ("gpt", "previous_response_id", "resp_1"),
        ("claude", "conversation", "conv_1"),
    ],
)
async def test_stateful_requests_are_refused_before_any_provider(
    engine: EngineHarness, model: str, field: str, value: object
) -> None:
    resp = await engine.client.post(
        "/v1/responses", json={"model": model, "input": "Hi", field: value}
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "response_storage_unsupported",
        field,
    )
    assert await engine.upstream_requests() == []


async def test_a_built_in_tool_is_refused_on_the_chat_path(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/responses", json={"model": "claude", "input": "Hi", "tools": [{"type": "web_search"}]}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsupported_tool"
    assert resp.json()["error"]["param"] == "tools[0]"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "claude"}, "missing_input"),
        ({"model": "claude", "input": "Hi", "stream": "yes"}, "invalid_stream"),
        ({"input": "Hi"}, "missing_model"),
        ({"model": "nope", "input": "Hi"}, "model_not_found"),
    ],
)
async def test_bad_requests_get_openai_errors(
    engine: EngineHarness, body: dict[str, Any], code: str
) -> None:
    resp = await engine.client.post("/v1/responses", json=body)
    assert 400 <= resp.status_code < 500
    assert resp.json()["error"]["code"] == code


async def test_a_provider_error_is_an_openai_error(engine: EngineHarness) -> None:
    resp = await engine.client.post("/v1/responses", json={"model": "gpt-down", "input": "Hi"})
    assert resp.status_code == 502
    assert resp.json()["error"]["type"] == "api_error"


@asynccontextmanager
async def event_by_event() -> AsyncIterator[EngineHarness]:
    """The engine with the mock's bodies handed over one event per read, as a network would."""
    mock_app = create_mock_app()
    control = FakeControl({hash_key(KEY): _route()})
    settings = EngineSettings(
        internal_secret=SECRET, control_url="http://control", first_byte_timeout=2.0
    )
    app = create_app(
        settings,
        upstream_transport=EventChunks(httpx.ASGITransport(app=mock_app)),
        control_transport=control.transport(),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://engine",
            headers={"authorization": f"Bearer {KEY}"},
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=mock_app), base_url="http://mock"
        ) as mock,
    ):
        yield EngineHarness(client=client, mock=mock, control=control, app=app)


@pytest.mark.parametrize("model", ["gpt-midstream", "claude-midstream"])
async def test_a_stream_that_breaks_ends_with_an_error_event_and_is_recorded_failed(
    model: str,
) -> None:
    async with event_by_event() as engine:
        resp = await engine.client.post(
            "/v1/responses", json={"model": model, "input": "Hi", "stream": True}
        )
        assert resp.status_code == 200
        out = events(resp.content)
        name, data = out[-1]
        assert name == "error"
        assert data["type"] == "error"
        assert data["sequence_number"] == max(d["sequence_number"] for _, d in out[:-1]) + 1
        assert "Partial answer" in [d.get("delta") for _, d in out]
        assert not any(n == "response.completed" for n, _ in out)
        [call] = await finished(engine)
        assert call["status"] == "failed"
