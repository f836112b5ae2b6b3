"""Providers that misbehave in ways the mock does not: a swapped transport plays them.

Each handler answers like a real provider would on a bad day; the engine must
fail over before the first byte and never answer a client with a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from tests.engine.conftest import KEY, MOCK_KEY
from tests.support.routes import LOOPBACK, SECRET, FakeControl, deployment, model_route, route

Handler = Callable[[httpx.Request], httpx.Response]
GOOD_STREAM = (
    'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    '[{"index":0,"delta":{"content":"fine"},"finish_reason":null}]}\n\n'
    'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    '[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n"
)
GOOD_PLAIN = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def sse(text: str) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())


def engine_for(bad: Handler, **settings: object) -> tuple[httpx.AsyncClient, FakeControl, object]:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == "bad":
            return bad(request)
        return sse(GOOD_STREAM) if body.get("stream") else httpx.Response(200, json=GOOD_PLAIN)

    model = model_route(
        name="m",
        deployments=(
            deployment("bad", key=MOCK_KEY, priority=0),
            deployment("good", key=MOCK_KEY, priority=1),
        ),
    )
    control = FakeControl({hash_key(KEY): route(model)})
    app = create_app(
        replace(
            EngineSettings(internal_secret=SECRET, control_url="http://control", egress=LOOPBACK),
            **settings,
        ),  # type: ignore[arg-type]
        upstream_transport=httpx.MockTransport(handler),
        control_transport=control.transport(),
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://e",
        headers={"authorization": f"Bearer {KEY}"},
    )
    return client, control, app


BAD_STREAMS = {
    "opens with an error event": 'event: error\ndata: {"error":{"message":"overloaded"}}\n\n',
    "is empty": "",
}
GARBAGE = 'data: {"choices":[null]}\n\n'
NO_END = 'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":null}]}\n\n'


@pytest.mark.parametrize("case", list(BAD_STREAMS))
async def test_a_stream_that_fails_before_its_first_byte_fails_over(case: str) -> None:
    client, _, app = engine_for(lambda _r: sse(BAD_STREAMS[case]))
    async with client:
        resp = await client.post(
            "/v1/chat/completions",
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 200
    assert '"content":"fine"' in resp.text
    assert resp.text.rstrip().endswith("data: [DONE]")
    assert app.state.engine.forwarder.board.cooling("dep-bad-0")


async def test_garbage_through_a_translator_ends_with_an_error_not_a_crash() -> None:
    client, _, _ = engine_for(lambda _r: sse(GARBAGE))
    async with client:
        resp = await client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            json={
                "model": "m",
                "max_tokens": 5,
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
    assert resp.status_code == 200
    assert "event: error" in resp.text
    assert "message_stop" not in resp.text


@pytest.mark.parametrize("text", [GARBAGE, NO_END])
async def test_a_same_protocol_stream_without_an_end_never_ends_cleanly(text: str) -> None:
    client, _, _ = engine_for(lambda _r: sse(text))
    async with client:
        resp = await client.post(
            "/v1/chat/completions",
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        )
    assert "[DONE]" not in resp.text
    assert '"code":"upstream_error"' in resp.text


@pytest.mark.parametrize("body", [b"not json", b"[1,2]"])
async def test_a_malformed_plain_answer_fails_over(body: bytes) -> None:
    client, _, _ = engine_for(lambda _r: httpx.Response(200, content=body))
    async with client:
        resp = await client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 200
    assert resp.json()["content"][0]["text"] == "fine"


@pytest.mark.parametrize(
    "value", ["nan", "inf", "1e999", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "garbage"]
)
async def test_any_retry_after_value_is_survived(value: str) -> None:
    client, _, _ = engine_for(
        lambda _r: httpx.Response(
            429, headers={"retry-after": value}, json={"error": {"message": "slow down"}}
        )
    )
    async with client:
        resp = await client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 200


async def test_a_provider_echoing_our_key_and_host_does_not_leak_them() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "error": {
                    "message": f"key {request.headers['authorization'][7:]} at {request.url} "
                    f"(host {request.url.host}) is wrong"
                }
            },
        )

    client, _, _ = engine_for(echo)
    async with client:
        resp = await client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
        )
    assert resp.status_code == 400
    assert MOCK_KEY not in resp.text
    assert "http://mock" not in resp.text
    assert "[redacted]" in resp.json()["error"]["message"]


async def test_client_mistakes_that_once_crashed_are_clear_400s() -> None:
    client, _, _ = engine_for(lambda _r: httpx.Response(500))
    async with client:
        deep = await client.post(
            "/v1/chat/completions", content=b'{"model":"m","messages":' + b"[" * 100_000
        )
        assert deep.status_code == 400
        assert deep.json()["error"]["type"] == "invalid_request_error"
        surrogate = await client.post(
            "/v1/chat/completions",
            content=b'{"model":"\\ud800","messages":[{"role":"user","content":"x"}]}',
        )
        assert surrogate.status_code == 400  # a lone surrogate is no character
        assert surrogate.json()["error"]["type"] == "invalid_request_error"
        twice = await client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            content=b'{"model":"m","max_tokens":5,"messages":[],"model":"other"}',
        )
        assert twice.status_code == 400
        assert twice.json()["type"] == "error"  # in the caller's protocol
        assert "appears twice" in twice.json()["error"]["message"]


async def test_a_byte_order_mark_is_not_forwarded() -> None:
    seen: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json=GOOD_PLAIN)

    client, _, _ = engine_for(record)
    async with client:
        resp = await client.post(
            "/v1/chat/completions",
            content=(
                "\ufeff" + '{"model":"m","messages":[{"role":"user","content":"x"}]}'
            ).encode(),
        )
    assert resp.status_code == 200
    assert seen[0].startswith(b"{")
