"""OpenAI client to an OpenAI provider: the request path, in-process."""

from __future__ import annotations

import json

from junction_protocols.sse import SSEDecoder
from tests.engine.conftest import MOCK_KEY, EngineHarness

HELLO = {"role": "user", "content": "Hello there"}


def events(raw: bytes) -> list[str]:
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(raw) + decoder.close()]


async def test_plain_call_reaches_the_provider_with_the_upstream_model(
    engine: EngineHarness,
) -> None:
    raw = (
        b'{"model": "gpt", "messages": [{"role":"user","content":"Hello there"}],'
        b' "x_extra": {"a": 1}}'
    )
    resp = await engine.client.post(
        "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert "Hello there" in body["choices"][0]["message"]["content"]
    [sent] = await engine.upstream_requests()
    # byte for byte, but for the model name; unknown fields survive
    assert sent["body"] == raw.decode().replace('"gpt"', '"mock-gpt"')
    assert sent["headers"]["authorization"] == f"Bearer {MOCK_KEY}"  # type: ignore[index]


async def test_stream_relays_every_chunk_and_ends_with_done(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions", json={"model": "gpt", "messages": [HELLO], "stream": True}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    data = events(resp.content)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["choices"] for c in chunks), "the usage chunk the gateway asked for leaked"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "Hello there" in text
    [sent] = await engine.upstream_requests()
    assert json.loads(sent["body"])["stream_options"] == {"include_usage": True}  # type: ignore[arg-type]


async def test_stream_keeps_the_usage_chunk_when_the_client_asks(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions",
        json={
            "model": "gpt",
            "messages": [HELLO],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    chunks = [json.loads(d) for d in events(resp.content)[:-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_failover_to_the_next_priority_on_5xx(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions", json={"model": "flaky", "messages": [HELLO]}
    )
    assert resp.status_code == 200
    models = [json.loads(r["body"])["model"] for r in await engine.upstream_requests()]  # type: ignore[arg-type]
    assert models == ["mock-gpt+fault=500", "mock-backup"]


async def test_failover_on_429_and_the_limited_deployment_cools_down(engine: EngineHarness) -> None:
    for _ in range(2):
        resp = await engine.client.post(
            "/v1/chat/completions", json={"model": "limited", "messages": [HELLO]}
        )
        assert resp.status_code == 200
    models = [json.loads(r["body"])["model"] for r in await engine.upstream_requests()]  # type: ignore[arg-type]
    # the second call skips the credential that is honouring Retry-After
    assert models == ["mock-gpt+fault=429+retry_after=7", "mock-after-limit", "mock-after-limit"]


async def test_timeout_before_first_byte_fails_over(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions", json={"model": "slow", "messages": [HELLO]}
    )
    assert resp.status_code == 200
    assert json.loads((await engine.upstream_requests())[-1]["body"])["model"] == "mock-fast"  # type: ignore[arg-type]


async def test_every_deployment_failing_is_a_502_in_openai_shape(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions", json={"model": "broken", "messages": [HELLO]}
    )
    assert resp.status_code == 502
    error = resp.json()["error"]
    assert error["code"] == "upstream_error"
    assert MOCK_KEY not in resp.text
    assert "http://mock" not in resp.text


async def test_provider_refusing_our_key_is_502_without_the_key(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions", json={"model": "badkey", "messages": [HELLO]}
    )
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "upstream_auth_failed"
    assert "invalid-provider-key" not in resp.text


async def test_models_lists_the_route(engine: EngineHarness) -> None:
    resp = await engine.client.get("/v1/models")
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} >= {"gpt", "claude", "gem", "flaky"}
    assert all(m["object"] == "model" for m in body["data"])


async def test_a_cached_route_does_no_control_call(engine: EngineHarness) -> None:
    for _ in range(5):
        await engine.client.get("/v1/models")
    assert engine.control.calls == 1
