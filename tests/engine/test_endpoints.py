"""The other client endpoints: Anthropic, Gemini, count_tokens, embeddings, images."""

from __future__ import annotations

import json

import pytest

from junction_contracts import DeploymentRoute, ProviderRoute
from junction_engine.client_keys import hash_key
from junction_protocols.sse import SSEDecoder
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.support.routes import deployment, model_route, route

ANTHROPIC = {"anthropic-version": "2023-06-01"}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hello gem"}]}]}


def sse_data(raw: bytes) -> list[str]:
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(raw) + decoder.close()]


@pytest.mark.parametrize("model", ["gpt", "claude", "gem"])
async def test_anthropic_client_reaches_every_provider(engine: EngineHarness, model: str) -> None:
    resp = await engine.client.post(
        "/v1/messages",
        headers=ANTHROPIC,
        json={"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["type"] == "message"
    assert body["content"][0]["text"].endswith("You said: hi")
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["output_tokens"] > 0


async def test_anthropic_beta_header_is_passed_on_to_anthropic(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/messages",
        headers={**ANTHROPIC, "anthropic-beta": "tools-2099-01-01"},
        json={"model": "claude", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 200
    [sent] = await engine.upstream_requests()
    assert sent["headers"]["anthropic-beta"] == "tools-2099-01-01"  # type: ignore[index]


async def test_provider_400_comes_back_in_the_clients_protocol(engine: EngineHarness) -> None:
    # the real Anthropic API requires max_tokens; the mock refuses like it does
    resp = await engine.client.post(
        "/v1/messages",
        headers=ANTHROPIC,
        json={"model": "claude", "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


async def test_anthropic_refusals_are_anthropic_shaped(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/messages",
        headers={"authorization": "", "x-api-key": "x"},
        json={"model": "claude", "messages": []},
    )
    assert resp.status_code == 401
    assert resp.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "the API key is not valid"},
    }


async def test_count_tokens_on_anthropic_and_gemini_providers(engine: EngineHarness) -> None:
    body = {"messages": [{"role": "user", "content": "three words here"}]}
    for model in ("claude", "gem"):
        resp = await engine.client.post(
            "/v1/messages/count_tokens", headers=ANTHROPIC, json={"model": model, **body}
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["input_tokens"] > 0
    paths = [r["path"] for r in await engine.upstream_requests()]
    assert paths == ["/v1/messages/count_tokens", "/v1beta/models/mock-gemini:countTokens"]


async def test_count_tokens_on_a_provider_without_it_is_a_clear_400(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/messages/count_tokens",
        headers=ANTHROPIC,
        json={"model": "gpt", "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400
    assert "count_tokens" in resp.json()["error"]["message"]
    assert await engine.upstream_requests() == []


async def test_embeddings_pass_through_to_openai_providers(engine: EngineHarness) -> None:
    resp = await engine.client.post("/v1/embeddings", json={"model": "gpt", "input": ["a", "b"]})
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert [d["index"] for d in data] == [0, 1]
    assert all(isinstance(x, float) for x in data[0]["embedding"])
    refused = await engine.client.post("/v1/embeddings", json={"model": "claude", "input": "a"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "unsupported_operation"


async def test_images_are_generated_and_counted(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/images/generations",
        json={"model": "gpt", "prompt": "a cat", "n": 2, "size": "256x256"},
    )
    assert resp.status_code == 200
    assert len(resp.json()["data"]) == 2
    metrics = (await engine.client.get("/metrics")).text
    assert 'junction_engine_images_total{model="gpt",size="256x256"} 2.0' in metrics


@pytest.mark.parametrize("model", ["gem", "gpt", "claude"])
async def test_gemini_client_plain_sse_and_array_streams(engine: EngineHarness, model: str) -> None:
    plain = await engine.client.post(f"/v1beta/models/{model}:generateContent", json=GEMINI_BODY)
    assert plain.status_code == 200, plain.text
    text = plain.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text.endswith("You said: hello gem")

    sse = await engine.client.post(
        f"/v1beta/models/{model}:streamGenerateContent?alt=sse", json=GEMINI_BODY
    )
    chunks = [json.loads(d) for d in sse_data(sse.content)]
    streamed = "".join(
        p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"]
    )
    assert streamed == text
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"

    array = await engine.client.post(
        f"/v1beta/models/{model}:streamGenerateContent", json=GEMINI_BODY
    )
    assert array.headers["content-type"].startswith("application/json")
    elements = array.json()
    assert isinstance(elements, list)
    assert (
        "".join(p.get("text", "") for c in elements for p in c["candidates"][0]["content"]["parts"])
        == text
    )


async def test_gemini_key_in_query_and_gemini_shaped_errors(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1beta/models/nope:generateContent?key=jk-bad",
        json=GEMINI_BODY,
        headers={"authorization": ""},
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["status"] == "UNAUTHENTICATED"
    missing = await engine.client.post("/v1beta/models/gem:generateContent", json={})
    assert missing.status_code == 400
    assert missing.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_direct_provider_model_name_reaches_that_deployment(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions",
        json={
            "model": "mock-anthropic/mock-claude",
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert resp.status_code == 200
    [sent] = await engine.upstream_requests()
    assert sent["path"] == "/v1/messages"


async def test_anthropic_passthrough_is_byte_for_byte_but_for_the_model(
    engine: EngineHarness,
) -> None:
    raw = (
        b'{"model":"claude", "max_tokens": 16,\n "messages":[{"role":"user","content":"hi"}],'
        b' "metadata": {"user_id": "u-1"}, "x_future_field": [1, 2.50, "\\u00e9"]}'
    )
    resp = await engine.client.post("/v1/messages", headers=ANTHROPIC, content=raw)
    assert resp.status_code == 200
    [sent] = await engine.upstream_requests()
    assert sent["body"] == raw.decode().replace('"claude"', '"mock-claude"')


async def test_openai_compatible_providers_get_their_extra_headers() -> None:

    base = deployment("mock-gpt", key=MOCK_KEY, ptype="openai-compatible")
    with_headers = DeploymentRoute(
        id=base.id,
        provider=ProviderRoute(
            id="p",
            name="vllm",
            type="openai-compatible",
            base_url="http://mock/v1",
            extra_headers={"x-tenant-route": "blue", "http-referer": "junction"},
        ),
        upstream_model=base.upstream_model,
        credentials=base.credentials,
    )
    routes = {hash_key(KEY): route(model_route(name="local", deployments=(with_headers,)))}
    async with build_engine(routes) as e:
        resp = await e.client.post(
            "/v1/chat/completions",
            json={"model": "local", "messages": [{"role": "user", "content": "x"}]},
        )
        assert resp.status_code == 200
        [sent] = await e.upstream_requests()
    headers = sent["headers"]
    assert headers["x-tenant-route"] == "blue"  # type: ignore[index]
    assert headers["http-referer"] == "junction"  # type: ignore[index]
    assert headers["authorization"] == f"Bearer {MOCK_KEY}"  # type: ignore[index]
