"""Legacy `POST /v1/completions` in-process: native to OpenAI providers, through chat else."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from junction_contracts import Pricing, Route
from junction_engine.client_keys import hash_key
from junction_protocols.sse import SSEDecoder
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.support.routes import deployment, model_route, route

PRICE = Pricing(input_per_mtok=1.0, output_per_mtok=4.0)


def _route() -> Route:
    claude = deployment("mock-claude", key=MOCK_KEY, ptype="anthropic", base_url="http://mock")
    return route(
        model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),), pricing=PRICE),
        model_route(name="claude", deployments=(claude,), pricing=PRICE),
        model_route(
            name="compat",
            deployments=(deployment("mock-compat", key=MOCK_KEY, ptype="openai-compatible"),),
            pricing=PRICE,
        ),
    )


@pytest.fixture
async def engine() -> AsyncIterator[EngineHarness]:
    async with build_engine({hash_key(KEY): _route()}) as harness:
        yield harness


def data_lines(raw: bytes) -> list[str]:
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(raw) + decoder.close()]


async def finished(engine: EngineHarness) -> list[dict[str, Any]]:
    await engine.app.state.engine.telemetry.flush()
    return [e for e in engine.control.events if e["kind"] == "finished"]


async def test_an_openai_provider_gets_the_completions_request_as_sent(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post("/v1/completions", json={"model": "gpt", "prompt": "Hi there"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Hello from mock-gpt! You said: Hi there"
    [sent] = await engine.upstream_requests()
    assert sent["path"] == "/v1/completions"
    assert json.loads(sent["body"]) == {"model": "mock-gpt", "prompt": "Hi there"}
    [call] = await finished(engine)
    assert call["operation"] == "completions"
    assert call["input_tokens"] == body["usage"]["prompt_tokens"]
    assert call["output_tokens"] == body["usage"]["completion_tokens"]
    assert call["cost_usd"] == pytest.approx(
        (call["input_tokens"] * 1.0 + call["output_tokens"] * 4.0) / 1e6
    )


async def test_a_native_stream_is_billed_without_showing_the_usage_it_did_not_ask_for(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post(
        "/v1/completions", json={"model": "gpt", "prompt": "Hi there", "stream": True}
    )
    data = data_lines(resp.content)
    assert data[-1] == "[DONE]"
    assert all(json.loads(d)["choices"] for d in data[:-1])
    [call] = await finished(engine)
    assert call["output_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "path"), [("claude", "/v1/messages"), ("compat", "/v1/chat/completions")]
)
async def test_other_providers_answer_through_chat(
    engine: EngineHarness, model: str, path: str
) -> None:
    resp = await engine.client.post("/v1/completions", json={"model": model, "prompt": "Hi there"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "text_completion"
    assert body["model"] == model
    assert "You said: Hi there" in body["choices"][0]["text"]
    [sent] = await engine.upstream_requests()
    assert sent["path"] == path
    assert json.loads(sent["body"])["max_tokens"] == 16  # the completions API's default
    [call] = await finished(engine)
    assert call["input_tokens"] == body["usage"]["prompt_tokens"] > 0
    assert call["cost_usd"] > 0


@pytest.mark.parametrize("model", ["claude", "compat"])
async def test_a_converted_stream_gives_usage_when_asked(engine: EngineHarness, model: str) -> None:
    resp = await engine.client.post(
        "/v1/completions",
        json={
            "model": model,
            "prompt": "Hi there",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    data = data_lines(resp.content)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "You said: Hi there" in "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "claude"}, "missing_prompt"),
        ({"model": "claude", "prompt": ["a", "b"]}, "unsupported_parameter"),
        ({"model": "claude", "prompt": "a", "echo": True}, "unsupported_parameter"),
    ],
)
async def test_what_cannot_be_served_is_a_400(
    engine: EngineHarness, body: dict[str, Any], code: str
) -> None:
    resp = await engine.client.post("/v1/completions", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == code
    assert await engine.upstream_requests() == []
