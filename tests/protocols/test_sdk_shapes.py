"""The official SDKs read what the translators write, streamed and not.

The converted bytes are served to the ``openai`` and ``anthropic`` SDKs through
a mock transport of their HTTP client (``httpx2``), so their own parsers and
stream accumulators judge the shapes.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from junction_protocols.convert import get_converter
from junction_protocols.sse import SSEDecoder

from .test_convert import ANTHROPIC_SSE

OPENAI_TOOL_SSE = (
    b"".join(
        b"data: " + json.dumps(chunk).encode() + b"\n\n"
        for chunk in [
            {
                "id": "chatcmpl-T",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "g",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "On it."},
                        "finish_reason": None,
                    }
                ],
            },
            {
                "id": "chatcmpl-T",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "g",
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "get_weather", "arguments": '{"city":'},
                                }
                            ]
                        },
                        "finish_reason": None,
                    }
                ],
            },
            {
                "id": "chatcmpl-T",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "g",
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]
                        },
                        "finish_reason": None,
                    }
                ],
            },
            {
                "id": "chatcmpl-T",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "g",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
            },
            {
                "id": "chatcmpl-T",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "g",
                "choices": [],
                "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
            },
        ]
    )
    + b"data: [DONE]\n\n"
)


def converted(client: str, provider: str, raw: bytes, include_usage: bool) -> bytes:
    stream = get_converter(client, provider).stream(model="alias", include_usage=include_usage)  # type: ignore[arg-type]
    decoder = SSEDecoder()
    events = [*decoder.feed(raw), *decoder.close()]
    return b"".join(stream.feed(e) for e in events) + stream.close()


def serve(body: bytes | dict[str, Any], *, sse: bool) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if sse:
            assert isinstance(body, bytes)
            return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def test_anthropic_sdk_accumulates_a_stream_converted_from_openai() -> None:
    raw = converted("anthropic", "openai", OPENAI_TOOL_SSE, include_usage=False)
    client = anthropic.Anthropic(
        api_key="test", base_url="http://junction", http_client=serve(raw, sse=True)
    )
    with client.messages.stream(
        model="alias", max_tokens=100, messages=[{"role": "user", "content": "Weather in Oslo?"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.id == "msg_T"
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text"
    assert message.content[0].text == "On it."
    tool = message.content[1]
    assert tool.type == "tool_use"
    assert (tool.id, tool.name, tool.input) == ("call_1", "get_weather", {"city": "Oslo"})
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 8)


def test_openai_sdk_reads_a_stream_converted_from_anthropic() -> None:
    raw = converted("openai", "anthropic", ANTHROPIC_SSE, include_usage=True)
    client = openai.OpenAI(
        api_key="test", base_url="http://junction/v1", http_client=serve(raw, sse=True)
    )
    chunks = list(
        client.chat.completions.create(
            model="alias",
            messages=[{"role": "user", "content": "Salut"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Bonjour"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 12


def test_openai_sdk_parses_a_converted_anthropic_response() -> None:
    body = {
        "id": "msg_9",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 1}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }
    converted_body = get_converter("openai", "anthropic").response(body, model="alias")
    client = openai.OpenAI(
        api_key="test", base_url="http://junction/v1", http_client=serve(converted_body, sse=False)
    )
    completion = client.chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "x"}]
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.arguments == '{"x":1}'  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_anthropic_sdk_parses_a_converted_openai_response() -> None:
    body = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "g",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi!"},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 4, "completion_tokens": 9, "total_tokens": 13},
    }
    converted_body = get_converter("anthropic", "openai").response(body, model="alias")
    client = anthropic.Anthropic(
        api_key="test", base_url="http://junction", http_client=serve(converted_body, sse=False)
    )
    message = client.messages.create(
        model="alias", max_tokens=9, messages=[{"role": "user", "content": "x"}]
    )
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hi!"


def test_sdks_raise_their_own_error_types_for_converted_errors() -> None:
    status, body = get_converter("anthropic", "openai").error(
        429, b'{"error":{"message":"Rate limit reached","type":"requests"}}'
    )
    client = anthropic.Anthropic(
        api_key="test",
        base_url="http://junction",
        max_retries=0,
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda r: httpx2.Response(status, json=body))
        ),
    )
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model="a", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.body == body
    assert "Rate limit reached" in str(info.value)
