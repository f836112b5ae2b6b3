"""``openai-compatible`` providers with the quirks of Ollama and vLLM (the mock's ``dialect``).

Usage may ride on the finish chunk (Ollama) or on every chunk (vLLM); error
bodies may hold a bare string (Ollama) or a top-level message (vLLM). Each
call must still be billed from the provider's own numbers, end cleanly, and
refuse in the client's own shape.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from junction_engine.client_keys import hash_key
from tests.support.routes import deployment, model_route, route

from .conftest import KEY, MOCK_KEY, EngineHarness, build_engine

HELLO = [{"role": "user", "content": "hello there friend"}]


def compat(model: str) -> Any:
    return deployment(model, key=MOCK_KEY, ptype="openai-compatible")


def dialect_route() -> Any:
    return route(
        model_route(name="plain", deployments=(compat("llama"),)),
        model_route(name="ollama", deployments=(compat("llama+dialect=ollama"),)),
        model_route(name="vllm", deployments=(compat("llama+dialect=vllm"),)),
        model_route(name="ollama-429", deployments=(compat("llama+dialect=ollama+fault=429"),)),
        model_route(name="vllm-404", deployments=(compat("llama+dialect=vllm+fault=404"),)),
    )


async def billed(harness: EngineHarness) -> list[tuple[int, int]]:
    await harness.app.state.engine.telemetry.flush()
    return [
        (int(str(ev["input_tokens"])), int(str(ev["output_tokens"])))
        for ev in harness.control.events
        if ev["kind"] == "finished"
    ]


def chunks_of(text: str) -> list[dict[str, Any]]:
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@pytest.mark.parametrize("dialect", ["ollama", "vllm"])
@pytest.mark.parametrize("asked", [True, False])
async def test_a_stream_is_billed_from_the_providers_usage_wherever_it_rides(
    dialect: str, asked: bool
) -> None:
    async with build_engine({hash_key(KEY): dialect_route()}) as harness:
        plain = await harness.client.post(
            "/v1/chat/completions", json={"model": "plain", "messages": HELLO}
        )
        body: dict[str, Any] = {"model": dialect, "messages": HELLO, "stream": True}
        if asked:
            body["stream_options"] = {"include_usage": True}
        streamed = await harness.client.post("/v1/chat/completions", json=body)
        usage = plain.json()["usage"]
        expected = (usage["prompt_tokens"], usage["completion_tokens"])
        assert await billed(harness) == [expected, expected]
    assert streamed.status_code == 200
    chunks = chunks_of(streamed.text)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == plain.json()["choices"][0]["message"]["content"]
    if not asked:
        # the usage the engine asked for on the client's behalf is not a chunk of its own
        assert all(c["choices"] for c in chunks)


async def test_an_anthropic_client_gets_usage_from_an_ollama_stream() -> None:
    async with build_engine({hash_key(KEY): dialect_route()}) as harness:
        streamed = await harness.client.post(
            "/v1/messages",
            json={"model": "ollama", "max_tokens": 50, "messages": HELLO, "stream": True},
        )
        ((input_tokens, output_tokens),) = await billed(harness)
    assert streamed.status_code == 200
    events = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")
    ]
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["usage"]["output_tokens"] == output_tokens > 0
    assert delta["usage"]["input_tokens"] == input_tokens > 0
    assert events[-1]["type"] == "message_stop"


async def test_an_ollama_string_error_is_refused_in_openai_shape() -> None:
    async with build_engine({hash_key(KEY): dialect_route()}) as harness:
        raw = await harness.mock.post(
            "/v1/chat/completions",
            json={"model": "llama+dialect=ollama+fault=429", "messages": HELLO},
            headers={"authorization": f"Bearer {MOCK_KEY}"},
        )
        resp = await harness.client.post(
            "/v1/chat/completions", json={"model": "ollama-429", "messages": HELLO}
        )
    assert isinstance(raw.json()["error"], str)  # the provider's own shape
    assert resp.status_code == 429
    error = resp.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert raw.json()["error"] in error["message"]


async def test_a_vllm_top_level_message_is_kept_in_the_clients_error() -> None:
    async with build_engine({hash_key(KEY): dialect_route()}) as harness:
        raw = await harness.mock.post(
            "/v1/chat/completions",
            json={"model": "llama+dialect=vllm+fault=404", "messages": HELLO},
            headers={"authorization": f"Bearer {MOCK_KEY}"},
        )
        openai_resp = await harness.client.post(
            "/v1/chat/completions", json={"model": "vllm-404", "messages": HELLO}
        )
        anthropic_resp = await harness.client.post(
            "/v1/messages", json={"model": "vllm-404", "max_tokens": 9, "messages": HELLO}
        )
    assert raw.json()["object"] == "error"
    assert raw.json()["code"] == 404
    # the provider's 404 is the gateway's problem (a wrong upstream model), not the client's
    assert openai_resp.status_code == anthropic_resp.status_code == 502
    assert raw.json()["message"] in openai_resp.json()["error"]["message"]
    assert raw.json()["message"] in anthropic_resp.json()["error"]["message"]
