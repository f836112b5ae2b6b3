"""The converter registry: all nine pairs, streams end to end, failures and errors."""

# Literal wire text (SSE lines, JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import pytest

from junction_protocols.convert import PROTOCOLS, get_converter, wants_usage
from junction_protocols.sse import SSEDecoder, SSEEvent
from junction_protocols.streams import StreamConverter
from junction_protocols.usage import Usage

ANTHROPIC_SSE = b"""event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}

event: ping
data: {"type": "ping"}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bonjour"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}

event: message_stop
data: {"type":"message_stop"}

"""

OPENAI_SSE = b"""data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

data: [DONE]

"""

GEMINI_SSE = b"""data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hal"}]},"index":0}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1,"totalTokenCount":8},"modelVersion":"gemini-x","responseId":"r1"}

data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2,"totalTokenCount":9},"modelVersion":"gemini-x","responseId":"r1"}

"""

UPSTREAM = {"openai": OPENAI_SSE, "anthropic": ANTHROPIC_SSE, "gemini": GEMINI_SSE}


def events_of(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return [*decoder.feed(raw), *decoder.close()]


def pump(stream: StreamConverter, raw: bytes) -> bytes:
    return b"".join(stream.feed(e) for e in events_of(raw)) + stream.close()


def client_text(protocol: str, raw: bytes) -> str:
    """The answer text a client of ``protocol`` reads from its stream."""
    text = []
    for event in events_of(raw):
        if event.data == "[DONE]":
            continue
        data = json.loads(event.data)
        if protocol == "openai":
            text += [c["delta"].get("content") or "" for c in data["choices"]]
        elif protocol == "anthropic":
            if data["type"] == "content_block_delta" and data["delta"]["type"] == "text_delta":
                text.append(data["delta"]["text"])
        else:
            for candidate in data.get("candidates", []):
                text += [p.get("text", "") for p in candidate["content"]["parts"]]
    return "".join(text)


EXPECTED_TEXT = {"openai": "Hello", "anthropic": "Bonjour", "gemini": "Hallo"}
EXPECTED_USAGE = {
    "openai": Usage(input_tokens=9, output_tokens=2),
    "anthropic": Usage(input_tokens=12, output_tokens=3),
    "gemini": Usage(input_tokens=7, output_tokens=2),
}


@pytest.mark.parametrize("client", PROTOCOLS)
@pytest.mark.parametrize("provider", PROTOCOLS)
def test_every_pair_streams_text_usage_and_finish_reason(client: str, provider: str) -> None:
    stream = get_converter(client, provider).stream(model="alias", include_usage=True)  # type: ignore[arg-type]
    out = pump(stream, UPSTREAM[provider])
    assert client_text(client, out) == EXPECTED_TEXT[provider]
    assert stream.usage == EXPECTED_USAGE[provider]
    assert stream.finish_reason == "stop"
    assert not stream.failed
    assert out.endswith(b"data: [DONE]\n\n") == (client == "openai")
    if client == "anthropic":
        assert events_of(out)[-1].event == "message_stop"


@pytest.mark.parametrize("client", PROTOCOLS)
@pytest.mark.parametrize("provider", PROTOCOLS)
def test_every_pair_converts_a_simple_request_and_response(client: str, provider: str) -> None:
    converter = get_converter(client, provider)  # type: ignore[arg-type]
    requests: dict[str, dict[str, Any]] = {
        "openai": {"model": "alias", "messages": [{"role": "user", "content": "Hi"}]},
        "anthropic": {
            "model": "alias",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Hi"}],
        },
        "gemini": {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
    }
    responses: dict[str, dict[str, Any]] = {
        "openai": {
            "id": "chatcmpl-1",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Yo"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        },
        "anthropic": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "Yo"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
        "gemini": {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Yo"}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 3,
                "candidatesTokenCount": 1,
                "totalTokenCount": 4,
            },
        },
    }
    request = converter.request(requests[client], upstream_model="up", stream=False)
    if client == provider:
        assert request == requests[client]
    elif provider == "openai":
        assert request["model"] == "up"
        assert request["messages"][-1]["content"] == "Hi"
    elif provider == "anthropic":
        assert request["model"] == "up"
        assert request["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]}
        ]
    else:
        assert request["contents"][-1]["parts"] == [{"text": "Hi"}]
    response = converter.response(responses[provider], model="alias")
    if client == "openai":
        assert response["choices"][0]["message"]["content"] == "Yo"
    elif client == "anthropic":
        assert response["content"] == [{"type": "text", "text": "Yo"}]
    else:
        assert response["candidates"][0]["content"]["parts"] == [{"text": "Yo"}]


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError):
        get_converter("openai", "cohere")  # type: ignore[arg-type]


def test_identity_stream_reencodes_events_faithfully() -> None:
    stream = get_converter("anthropic", "anthropic").stream(model="alias", include_usage=False)
    out = pump(stream, ANTHROPIC_SSE)
    assert events_of(out) == events_of(ANTHROPIC_SSE)  # ping included, names and data intact


def test_identity_openai_stream_asks_upstream_for_usage_but_hides_it_unless_asked() -> None:
    converter = get_converter("openai", "openai")
    body = {"model": "m", "messages": [], "stream": True}
    assert converter.request(body, upstream_model="m", stream=True)["stream_options"] == {
        "include_usage": True
    }
    assert "stream_options" not in body  # the client's body is not mutated
    hidden = converter.stream(model="m", include_usage=False)
    out = pump(hidden, OPENAI_SSE)
    assert b'"prompt_tokens"' not in out
    assert hidden.usage == Usage(input_tokens=9, output_tokens=2)
    assert out.count(b"[DONE]") == 1
    shown = converter.stream(model="m", include_usage=True)
    assert b'"prompt_tokens":9' in pump(shown, OPENAI_SSE)


def test_openai_client_on_anthropic_gets_usage_chunk_only_when_asked() -> None:
    converter = get_converter("openai", "anthropic")
    without = [
        e.data
        for e in events_of(pump(converter.stream(model="a", include_usage=False), ANTHROPIC_SSE))
    ]
    with_usage = [
        e.data
        for e in events_of(pump(converter.stream(model="a", include_usage=True), ANTHROPIC_SSE))
    ]
    assert not any('"prompt_tokens"' in d for d in without)
    assert json.loads(with_usage[-2])["usage"]["prompt_tokens"] == 12


def test_streamed_requests_set_the_providers_stream_flags() -> None:
    openai_body = {"model": "a", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    assert (
        get_converter("openai", "anthropic").request(openai_body, upstream_model="c", stream=True)[
            "stream"
        ]
        is True
    )
    anthropic_body = {
        "model": "a",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    out = get_converter("anthropic", "openai").request(
        anthropic_body, upstream_model="g", stream=True
    )
    assert (out["stream"], out["stream_options"]) == (True, {"include_usage": True})
    out = get_converter("anthropic", "openai").request(
        anthropic_body, upstream_model="g", stream=False
    )
    assert "stream" not in out


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (
            "openai",
            [
                SSEEvent(
                    data='{"error":{"message":"upstream timed out","type":"timeout_error","param":null,"code":"upstream_error"}}'
                )
            ],
        ),
        (
            "anthropic",
            [
                SSEEvent(
                    data='{"type":"error","error":{"type":"timeout_error","message":"upstream timed out"}}',
                    event="error",
                )
            ],
        ),
        (
            "gemini",
            [
                SSEEvent(
                    data='{"error":{"code":504,"message":"upstream timed out","status":"DEADLINE_EXCEEDED"}}'
                )
            ],
        ),
    ],
)
def test_fail_midway_sends_one_error_event_in_the_clients_protocol(
    client: str, expected: list[SSEEvent]
) -> None:
    stream = get_converter(client, "anthropic").stream(model="a", include_usage=False)  # type: ignore[arg-type]
    head = b"".join(stream.feed(e) for e in events_of(ANTHROPIC_SSE)[:4])
    assert client_text(client, head) == "Bonjour"
    tail = stream.fail("upstream timed out", status=504)
    assert events_of(tail) == expected
    assert stream.failed
    assert stream.error == "upstream timed out"
    assert stream.close() == b""  # no [DONE] / message_stop after a failure
    assert stream.feed(events_of(ANTHROPIC_SSE)[-1]) == b""
    assert stream.usage.input_tokens == 12  # usage seen so far is kept


def test_upstream_error_event_becomes_the_clients_error() -> None:
    stream = get_converter("openai", "anthropic").stream(model="a", include_usage=False)
    raw = ANTHROPIC_SSE.split(b"event: content_block_stop")[0] + (
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    out = pump(stream, raw)
    last = json.loads(events_of(out)[-1].data)
    assert last == {
        "error": {
            "message": "Overloaded",
            "type": "overloaded_error",
            "param": None,
            "code": "upstream_error",
        }
    }
    assert b"[DONE]" not in out
    assert stream.failed


def test_openai_upstream_error_chunk_reaches_an_anthropic_client_redacted() -> None:
    stream = get_converter("anthropic", "openai").stream(model="a", include_usage=False)
    raw = b'data: {"error":{"message":"bad key sk-abcdefghijklmnopqrstuvwxyz","type":"server_error"}}\n\n'
    out = pump(stream, raw)
    (event,) = events_of(out)
    assert event.event == "error"
    assert "sk-abcdefghij" not in event.data


def test_malformed_upstream_event_fails_a_translated_stream() -> None:
    stream = get_converter("anthropic", "openai").stream(model="a", include_usage=False)
    out = stream.feed(SSEEvent(data="{truncated"))
    assert events_of(out)[0].event == "error"
    assert stream.failed


@pytest.mark.parametrize(
    ("client", "provider", "status", "body", "expected_status", "expected"),
    [
        (
            "openai",
            "anthropic",
            429,
            b'{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}',
            429,
            {
                "error": {
                    "message": "Slow down",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
        ),
        (
            "anthropic",
            "openai",
            400,
            b'{"error":{"message":"Invalid \'messages\'","type":"invalid_request_error","param":"messages","code":null}}',
            400,
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "Invalid 'messages'"},
            },
        ),
        (
            "openai",
            "openai",
            401,
            b'{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnopqrstu","type":"invalid_request_error"}}',
            502,
            {
                "error": {
                    "message": "Incorrect API key provided: [redacted-key]",
                    "type": "api_error",
                    "param": None,
                    "code": "upstream_auth_error",
                }
            },
        ),
        (
            "openai",
            "anthropic",
            529,
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            503,
            {
                "error": {
                    "message": "Overloaded",
                    "type": "service_unavailable_error",
                    "param": None,
                    "code": "upstream_overloaded",
                }
            },
        ),
        (
            "anthropic",
            "anthropic",
            529,
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
        (
            "gemini",
            "openai",
            500,
            b"<html>oops</html>",
            500,
            {
                "error": {
                    "code": 500,
                    "message": "the provider returned a non-JSON error page",
                    "status": "INTERNAL",
                }
            },
        ),
    ],
)
def test_provider_errors_map_to_client_errors(
    client: str,
    provider: str,
    status: int,
    body: bytes,
    expected_status: int,
    expected: dict[str, Any],
) -> None:
    converter = get_converter(client, provider)  # type: ignore[arg-type]
    assert converter.error(status, body) == (expected_status, expected)


def test_only_openai_clients_choose_whether_usage_is_streamed() -> None:
    assert wants_usage("openai", {"stream_options": {"include_usage": True}})
    assert not wants_usage("openai", {"stream": True})
    assert not wants_usage("openai", {"stream_options": None})
    assert wants_usage("anthropic", {})
    assert wants_usage("gemini", {})


def test_openai_client_on_gemini_sees_no_usage_fields_unless_asked() -> None:
    out = pump(get_converter("openai", "gemini").stream(model="a", include_usage=False), GEMINI_SSE)
    chunks = [json.loads(e.data) for e in events_of(out) if e.data != "[DONE]"]
    assert chunks
    assert all("usage" not in c for c in chunks)
    out = pump(get_converter("openai", "gemini").stream(model="a", include_usage=True), GEMINI_SSE)
    last = json.loads(events_of(out)[-2].data)
    assert (last["choices"], last["usage"]["prompt_tokens"]) == ([], 7)
