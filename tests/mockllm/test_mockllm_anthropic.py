"""Anthropic wire format, over raw HTTP and through the official ``anthropic`` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest

from .wire import ANTHROPIC_HEADERS, KEY, TIME_SCHEMA, WEATHER_ARGS, WEATHER_SCHEMA, sse_events

MESSAGES = "/v1/messages"
USER_HI = [{"role": "user", "content": "hi there"}]
TOOLS = [
    {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA},
    {"name": "get_time", "description": "Time", "input_schema": TIME_SCHEMA},
]


async def create(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    payload = {"model": "claude-mock", "max_tokens": 100, **body}
    return await client.post(
        MESSAGES, headers={**ANTHROPIC_HEADERS, **(headers or {})}, json=payload
    )


async def test_message_object_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/messages — Create a Message (response body)."""
    response = await create(client, messages=USER_HI, system="Be nice.")
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    body = response.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["id"].startswith("msg_")
    assert body["model"] == "claude-mock"
    assert body["content"] == [
        {"type": "text", "text": "Hello from claude-mock! You said: hi there"}
    ]
    assert body["stop_reason"] == "end_turn"
    assert body["stop_sequence"] is None
    assert body["usage"] == {
        "input_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 7,
    }


async def test_missing_version_header_is_400(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/versioning — the anthropic-version header is required."""
    response = await client.post(
        MESSAGES,
        headers={"x-api-key": KEY},
        json={"model": "claude-mock", "max_tokens": 5, "messages": USER_HI},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "anthropic-version" in body["error"]["message"]


async def test_missing_max_tokens_is_400(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/messages — max_tokens is required."""
    response = await client.post(
        MESSAGES, headers=ANTHROPIC_HEADERS, json={"model": "claude-mock", "messages": USER_HI}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }


@pytest.mark.parametrize("key", [None, "invalid-key"])
async def test_missing_or_invalid_key_is_authentication_error(
    client: httpx.AsyncClient, key: str | None
) -> None:
    """https://docs.anthropic.com/en/api/errors — 401 authentication_error, with request-id."""
    headers = {"anthropic-version": "2023-06-01"} | ({"x-api-key": key} if key else {})
    response = await client.post(
        MESSAGES,
        headers=headers,
        json={"model": "claude-mock", "max_tokens": 5, "messages": USER_HI},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["type"] == "authentication_error"
    assert body["request_id"] == response.headers["request-id"]


async def test_beta_header_is_echoed(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/beta-headers — lets tests see the header was passed on."""
    response = await create(
        client, {"anthropic-beta": "prompt-caching-2024-07-31"}, messages=USER_HI
    )
    assert response.headers["x-mock-anthropic-beta"] == "prompt-caching-2024-07-31"
    assert "x-mock-anthropic-beta" not in (await create(client, messages=USER_HI)).headers


async def test_stream_follows_the_documented_event_flow(client: httpx.AsyncClient) -> None:
    """Event types and basic streaming request.

    https://docs.anthropic.com/en/api/messages-streaming
    """
    response = await create(client, messages=USER_HI, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    payloads = [json.loads(data) for _, data in events]
    assert all(name == payload["type"] for (name, _), payload in zip(events, payloads, strict=True))
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = payloads[0]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert payloads[1]["content_block"] == {"type": "text", "text": ""}
    deltas = [p["delta"] for p in payloads if p["type"] == "content_block_delta"]
    assert {d["type"] for d in deltas} == {"text_delta"}
    assert "".join(d["text"] for d in deltas) == "Hello from claude-mock! You said: hi there"
    message_delta = payloads[-2]
    assert message_delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert message_delta["usage"]["output_tokens"] == 7


async def test_tools_produce_a_tool_use_block(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/docs/build-with-claude/tool-use — tool_use content block."""
    body = (
        await create(client, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
    ).json()
    assert body["stop_reason"] == "tool_use"
    (block,) = body["content"]
    assert block["type"] == "tool_use"
    assert block["id"].startswith("toolu_")
    assert block["name"] == "get_weather"
    assert block["input"] == WEATHER_ARGS


async def test_tool_choice_picks_the_named_tool_or_none(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/docs/build-with-claude/tool-use#forcing-tool-use"""
    forced = await create(
        client, messages=USER_HI, tools=TOOLS, tool_choice={"type": "tool", "name": "get_time"}
    )
    assert forced.json()["content"][0]["input"] == {"zone": "mock"}
    plain = await create(client, messages=USER_HI, tools=TOOLS, tool_choice={"type": "none"})
    assert plain.json()["content"][0]["type"] == "text"


async def test_streamed_tool_input_arrives_as_input_json_deltas(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/messages-streaming#input-json-delta"""
    response = await create(
        client, messages=[{"role": "user", "content": "parallel"}], tools=TOOLS, stream=True
    )
    payloads = [json.loads(data) for _, data in sse_events(response.text)]
    starts = [p for p in payloads if p["type"] == "content_block_start"]
    assert [s["content_block"]["name"] for s in starts] == ["get_weather", "get_time"]
    assert all(s["content_block"]["input"] == {} for s in starts)
    first = [p["delta"] for p in payloads if p["type"] == "content_block_delta" and p["index"] == 0]
    assert {d["type"] for d in first} == {"input_json_delta"}
    assert len(first) >= 3
    assert json.loads("".join(d["partial_json"] for d in first)) == WEATHER_ARGS
    assert payloads[-2]["delta"]["stop_reason"] == "tool_use"


async def test_tool_result_gets_an_echo(client: httpx.AsyncClient) -> None:
    """Tool_result content blocks.

    https://docs.anthropic.com/en/docs/build-with-claude/tool-use
    """
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "sunny"}],
                }
            ],
        },
    ]
    body = (await create(client, messages=messages, tools=TOOLS)).json()
    assert body["content"] == [{"type": "text", "text": "Tool said: sunny"}]


async def test_thinking_adds_a_signed_thinking_block(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking — thinking blocks."""
    thinking = {"type": "enabled", "budget_tokens": 1024}
    body = (await create(client, messages=USER_HI, thinking=thinking)).json()
    first, second = body["content"]
    assert first["type"] == "thinking"
    assert first["thinking"]
    assert first["signature"]
    assert second["type"] == "text"
    stream = await create(client, messages=USER_HI, thinking=thinking, stream=True)
    payloads = [json.loads(data) for _, data in sse_events(stream.text)]
    block_zero = [
        p["delta"]["type"]
        for p in payloads
        if p["type"] == "content_block_delta" and p["index"] == 0
    ]
    assert set(block_zero[:-1]) == {"thinking_delta"}
    assert block_zero[-1] == "signature_delta"
    assert payloads[1]["content_block"]["type"] == "thinking"


async def test_stop_sequences_and_max_tokens_end_the_reply(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/messages — stop_reason stop_sequence / max_tokens."""
    stopped = (await create(client, messages=USER_HI, stop_sequences=["You"])).json()
    assert stopped["stop_reason"] == "stop_sequence"
    assert stopped["stop_sequence"] == "You"
    assert stopped["content"][0]["text"] == "Hello from claude-mock!"
    limited = (await create(client, messages=USER_HI, max_tokens=2)).json()
    assert limited["stop_reason"] == "max_tokens"
    assert limited["usage"]["output_tokens"] == 2


async def test_cache_tokens_are_reported_when_asked(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching — cache usage fields."""
    headers = {
        "x-mock-input-tokens": "100",
        "x-mock-cached-tokens": "60",
        "x-mock-cache-write-tokens": "30",
    }
    usage = (await create(client, headers, messages=USER_HI)).json()["usage"]
    assert usage["cache_read_input_tokens"] == 60
    assert usage["cache_creation_input_tokens"] == 30
    assert usage["input_tokens"] == 10


async def test_count_tokens(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/messages-count-tokens"""
    response = await client.post(
        "/v1/messages/count_tokens",
        headers=ANTHROPIC_HEADERS,
        json={"model": "claude-mock", "system": "one two", "messages": USER_HI},
    )
    assert response.status_code == 200
    assert response.json() == {"input_tokens": 4}


async def test_models_list_in_anthropic_shape(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/models-list"""
    body = (await client.get("/v1/models", headers=ANTHROPIC_HEADERS)).json()
    assert body["has_more"] is False
    assert body["first_id"] == "gpt-mock"
    assert {"type", "id", "display_name", "created_at"} == set(body["data"][0])


# --- the official SDK -------------------------------------------------------------
# This SDK ships its own HTTP stack (no httpx ASGI transport), so it talks to the
# mock on a real port.


@pytest.fixture
async def sdk(live_url: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url=live_url, max_retries=0) as client:
        yield client


async def test_sdk_parses_a_message(sdk: anthropic.AsyncAnthropic) -> None:
    """https://docs.anthropic.com/en/api/messages — via anthropic-sdk-python."""
    message = await sdk.messages.create(
        model="claude-mock", max_tokens=50, messages=[{"role": "user", "content": "hi there"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from claude-mock! You said: hi there"
    assert message.usage.output_tokens == 7


async def test_sdk_stream_helper_builds_the_final_message(sdk: anthropic.AsyncAnthropic) -> None:
    """https://docs.anthropic.com/en/api/messages-streaming — the SDK's accumulating stream."""
    async with sdk.messages.stream(
        model="claude-mock",
        max_tokens=50,
        messages=[{"role": "user", "content": "parallel"}],
        tools=TOOLS,  # type: ignore[arg-type]
    ) as stream:
        message = await stream.get_final_message()
    assert message.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in message.content if b.type == "tool_use"] == [
        ("get_weather", WEATHER_ARGS),
        ("get_time", {"zone": "mock"}),
    ]


async def test_sdk_streams_thinking(sdk: anthropic.AsyncAnthropic) -> None:
    """https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#streaming-thinking"""
    async with sdk.messages.stream(
        model="claude-mock",
        max_tokens=50,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
        message = await stream.get_final_message()
    assert text == "Hello from claude-mock! You said: hi"
    assert message.content[0].type == "thinking"
    assert message.content[0].signature


async def test_sdk_counts_tokens(sdk: anthropic.AsyncAnthropic) -> None:
    """https://docs.anthropic.com/en/api/messages-count-tokens — via the SDK."""
    counted = await sdk.messages.count_tokens(
        model="claude-mock", messages=[{"role": "user", "content": "a b c"}]
    )
    assert counted.input_tokens == 3


async def test_sdk_raises_typed_errors(sdk: anthropic.AsyncAnthropic) -> None:
    """https://docs.anthropic.com/en/api/errors — HTTP errors map to SDK exceptions."""
    messages: Any = [{"role": "user", "content": "x"}]
    with pytest.raises(anthropic.AuthenticationError):
        await sdk.messages.create(model="claude-mock+fault=badkey", max_tokens=5, messages=messages)
    with pytest.raises(anthropic.RateLimitError) as limited:
        await sdk.messages.create(
            model="claude-mock+fault=429+retry_after=3", max_tokens=5, messages=messages
        )
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        await sdk.messages.create(
            model="claude-mock+fault=overloaded", max_tokens=5, messages=messages
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": overloaded.value.request_id,
    }


async def test_bearer_key_is_accepted_as_the_sdk_sends_it(client: httpx.AsyncClient) -> None:
    """Recent anthropic-sdk-python releases send ``Authorization: Bearer`` instead of x-api-key."""
    response = await client.post(
        MESSAGES,
        headers={"authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"},
        json={"model": "claude-mock", "max_tokens": 5, "messages": USER_HI},
    )
    assert response.status_code == 200
