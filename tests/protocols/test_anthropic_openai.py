"""Anthropic-speaking client → OpenAI provider: requests, responses and streams."""

# Literal wire text (SSE lines, JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import pytest

from junction_protocols.anthropic_openai import (
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)
from junction_protocols.anthropic_openai_stream import OpenAIStreamToAnthropic
from junction_protocols.errors import ConversionError
from junction_protocols.sse import SSEDecoder
from junction_protocols.usage import Usage

WEATHER = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "cache_control": {"type": "ephemeral"},
}


def convert(**body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": "Hi"}])
    body.setdefault("max_tokens", 256)
    return anthropic_request_to_openai({"model": "claude-x", **body}, upstream_model="gpt-x")


def test_minimal_request() -> None:
    assert convert() == {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 256,
    }


def test_system_blocks_become_one_system_message() -> None:
    out = convert(
        system=[
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Answer in French."},
        ]
    )
    assert out["messages"][0] == {"role": "system", "content": "Be brief.\n\nAnswer in French."}


def test_parameters_and_dropped_fields() -> None:
    out = convert(
        temperature=0.3,
        top_p=0.8,
        top_k=40,
        stop_sequences=["END", "STOP"],
        metadata={"user_id": "u-1"},
        thinking={"type": "enabled", "budget_tokens": 2048},
        stream=True,
    )
    assert out["temperature"] == 0.3
    assert out["top_p"] == 0.8
    assert out["stop"] == ["END", "STOP"]
    assert out["user"] == "u-1"
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    assert "top_k" not in out
    assert "thinking" not in out


def test_images_and_documents() -> None:
    out = convert(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/x.jpg"},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBER",
                        },
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
                    },
                    {"type": "text", "text": "Describe."},
                ],
            }
        ]
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.jpg"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "document.pdf",
                        "file_data": "data:application/pdf;base64,JVBER",
                    },
                },
                {"type": "text", "text": "notes"},
                {"type": "text", "text": "Describe."},
            ],
        }
    ]


def test_tool_use_and_tool_results_become_tool_calls_and_tool_messages() -> None:
    out = convert(
        messages=[
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "use the tool", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "25C"}],
                        "is_error": False,
                    },
                    {"type": "text", "text": "Which is warmer?"},
                ],
            },
        ],
        tools=[WEATHER],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "25C"},
        {"role": "user", "content": "Which is warmer?"},
    ]
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    assert out["tool_choice"] == "required"
    assert out["parallel_tool_calls"] is False


def test_images_in_tool_results_move_to_a_user_message() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVB"},
    }
    out = convert(
        messages=[
            {"role": "user", "content": "Screenshot?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "ok"}, image],
                    }
                ],
            },
        ]
    )
    assert out["messages"][2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVB"}}],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_mapping(choice: dict[str, Any], expected: Any) -> None:
    out = convert(tools=[WEATHER], tool_choice=choice)
    assert out["tool_choice"] == expected
    assert "parallel_tool_calls" not in out


def test_server_tools_are_refused() -> None:
    with pytest.raises(ConversionError) as info:
        convert(tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert info.value.param == "tools.0"


def test_structured_output_becomes_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    out = convert(output_config={"format": {"type": "json_schema", "schema": schema}})
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }


OPENAI_COMPLETION = {
    "id": "chatcmpl-AbC123",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-x",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking.",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 12,
        "total_tokens": 112,
        "prompt_tokens_details": {"cached_tokens": 64},
    },
}


def test_response_with_text_tool_calls_and_cached_usage() -> None:
    assert openai_response_to_anthropic(OPENAI_COMPLETION, model="claude-alias") == {
        "id": "msg_AbC123",
        "type": "message",
        "role": "assistant",
        "model": "claude-alias",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_9", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 36,
            "output_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 64,
        },
    }


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: str, stop: str) -> None:
    body = {"choices": [{"message": {"content": "x"}, "finish_reason": finish}]}
    assert openai_response_to_anthropic(body, model="m")["stop_reason"] == stop


def test_reasoning_content_becomes_a_thinking_block() -> None:
    body = {
        "choices": [
            {"message": {"content": "4", "reasoning_content": "2+2"}, "finish_reason": "stop"}
        ]
    }
    assert openai_response_to_anthropic(body, model="m")["content"] == [
        {"type": "thinking", "thinking": "2+2", "signature": ""},
        {"type": "text", "text": "4"},
    ]


def test_malformed_tool_arguments_are_kept_not_lost() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    body = {
        "choices": [
            {"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ]
    }
    assert openai_response_to_anthropic(body, model="m")["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": {"_raw_arguments": "{oops"}}
    ]


OPENAI_SSE = b"""data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Let me "},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"check."},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Rome\\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80,"prompt_tokens_details":{"cached_tokens":20}}}

data: [DONE]

"""


def run_stream(raw: bytes) -> tuple[list[tuple[str, dict[str, Any]]], OpenAIStreamToAnthropic]:
    translator = OpenAIStreamToAnthropic("claude-alias")
    decoder = SSEDecoder()
    events: list[tuple[str, dict[str, Any]]] = []
    for event in [*decoder.feed(raw), *decoder.close()]:
        if event.data != "[DONE]":
            events.extend(translator.feed(json.loads(event.data)))
    events.extend(translator.close())
    return events, translator


def test_stream_follows_anthropic_event_order() -> None:
    events, translator = run_stream(OPENAI_SSE)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert (start["id"], start["model"], start["content"]) == ("msg_S1", "claude-alias", [])
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Let me "}
    assert events[5][1] == {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "call_A", "name": "get_weather", "input": {}},
    }
    partial = [
        d["delta"]["partial_json"]
        for n, d in events
        if d.get("index") == 1 and n == "content_block_delta"
    ]
    assert json.loads("".join(partial)) == {"city": "Paris"}
    assert events[9][1]["content_block"]["id"] == "call_B"
    assert events[10][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city":"Rome"}'}
    assert events[12][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 30,
            "output_tokens": 30,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 20,
        },
    }
    assert translator.usage == Usage(input_tokens=50, output_tokens=30, cached_input_tokens=20)
    assert translator.close() == []


def test_stream_reasoning_deltas_open_a_thinking_block() -> None:
    translator = OpenAIStreamToAnthropic("m")
    events = translator.feed(
        {"id": "x", "choices": [{"index": 0, "delta": {"reasoning_content": "think"}}]}
    )
    events += translator.feed(
        {"id": "x", "choices": [{"index": 0, "delta": {"content": "answer"}}]}
    )
    events += translator.close()
    blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert blocks == ["thinking", "text"]
    assert events[2][1]["delta"] == {"type": "thinking_delta", "thinking": "think"}


def test_empty_stream_still_produces_a_complete_message() -> None:
    events = OpenAIStreamToAnthropic("m").close()
    assert [n for n, _ in events] == ["message_start", "message_delta", "message_stop"]
    assert events[1][1]["delta"]["stop_reason"] == "end_turn"
