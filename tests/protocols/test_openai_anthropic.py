"""OpenAI-speaking client → Anthropic provider: requests, responses and streams."""

# Literal wire text (SSE lines, JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import pytest

from junction_protocols.errors import ConversionError
from junction_protocols.openai_anthropic import (
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from junction_protocols.openai_anthropic_stream import AnthropicStreamToOpenAI
from junction_protocols.sse import SSEDecoder
from junction_protocols.usage import Usage

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


def convert(**body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return openai_request_to_anthropic({"model": "gpt-4o", **body}, upstream_model="claude-x")


def test_minimal_request_gets_model_and_default_max_tokens() -> None:
    assert convert() == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 4096,
    }


def test_system_and_developer_messages_are_hoisted_into_system() -> None:
    out = convert(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        ]
    )
    assert out["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in French."},
    ]
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_single_system_message_stays_a_string() -> None:
    out = convert(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert out["system"] == "S"


def test_multi_turn_and_sampling_parameters() -> None:
    out = convert(
        messages=[
            {"role": "user", "content": "1+1?"},
            {"role": "assistant", "content": "2"},
            {"role": "user", "content": "and 2+2?"},
        ],
        max_completion_tokens=50,
        max_tokens=10,
        temperature=1.7,
        top_p=0.9,
        stop="END",
        user="u-42",
        stream=True,
        stream_options={"include_usage": True},
        seed=7,
        frequency_penalty=0.5,
    )
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert out["max_tokens"] == 50
    assert out["temperature"] == 1.0  # clamped to Anthropic's range
    assert out["top_p"] == 0.9
    assert out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u-42"}
    assert out["stream"] is True
    for dropped in ("seed", "frequency_penalty", "stream_options", "user", "stop"):
        assert dropped not in out


def test_images_by_url_and_by_data_url() -> None:
    out = convert(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "low"},
                    },
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
        },
    ]


def test_pdf_file_part_becomes_a_document_block() -> None:
    out = convert(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBER",
                        },
                    }
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
        }
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}},
        {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAA"}},
        {"type": "image_url", "image_url": {"url": "ftp://host/a.png"}},
        {"type": "file", "file": {"file_id": "file-123"}},
    ],
)
def test_unsupported_content_parts_are_refused(part: dict[str, Any]) -> None:
    with pytest.raises(ConversionError) as info:
        convert(messages=[{"role": "user", "content": [part]}])
    assert info.value.param == "messages[0].content[0]"


def test_tool_calls_and_consecutive_tool_results() -> None:
    out = convert(
        messages=[
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "25C"}],
            },
            {"role": "user", "content": "Thanks, which is warmer?"},
        ],
        tools=[WEATHER],
        tool_choice="auto",
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"},
                {"type": "text", "text": "Thanks, which is warmer?"},
            ],
        },
    ]
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather of a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert out["tool_choice"] == {"type": "auto"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice_mapping(choice: Any, expected: dict[str, Any]) -> None:
    assert convert(tools=[WEATHER], tool_choice=choice)["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    assert convert(tools=[WEATHER], parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    assert convert(tools=[WEATHER], tool_choice="required", parallel_tool_calls=False)[
        "tool_choice"
    ] == {"type": "any", "disable_parallel_tool_use": True}


def test_allowed_tools_narrow_the_tool_list() -> None:
    other = {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}
    out = convert(
        tools=[WEATHER, other],
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required",
                "tools": [{"type": "function", "function": {"name": "other"}}],
            },
        },
    )
    assert [t["name"] for t in out["tools"]] == ["other"]
    assert out["tool_choice"] == {"type": "any"}


def test_tool_choice_without_tools_is_dropped() -> None:
    assert "tool_choice" not in convert(tool_choice="auto")


def test_invalid_tool_call_arguments_are_refused() -> None:
    bad = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    with pytest.raises(ConversionError) as info:
        convert(
            messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [bad]}]
        )
    assert info.value.param == "messages[1].tool_calls[0].function.arguments"


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("n", 2, "n"),
        ("logprobs", True, "logprobs"),
        ("top_logprobs", 3, "logprobs"),
        ("modalities", ["text", "audio"], "modalities"),
        ("functions", [{"name": "f"}], "functions"),
        ("response_format", {"type": "json_object"}, "response_format"),
    ],
)
def test_inexpressible_requests_are_refused_with_the_param(
    field: str, value: Any, param: str
) -> None:
    with pytest.raises(ConversionError) as info:
        convert(**{field: value})
    assert info.value.param == param


def test_json_schema_response_format_uses_structured_outputs() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    out = convert(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


ANTHROPIC_MESSAGE = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "Need the tool.", "signature": "sig"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 20},
}


def test_response_with_text_tool_use_thinking_and_cached_usage() -> None:
    out = anthropic_response_to_openai(ANTHROPIC_MESSAGE, model="my-model", created=1700000000)
    assert out == {
        "id": "chatcmpl-01XYZ",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "my-model",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                    "reasoning_content": "Need the tool.",
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "Need the tool.", "signature": "sig"}
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 90},
        },
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str | None, finish_reason: str) -> None:
    body = {"id": "msg_1", "content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}
    assert (
        anthropic_response_to_openai(body, model="m")["choices"][0]["finish_reason"]
        == finish_reason
    )


def test_response_without_text_has_null_content() -> None:
    body = {"id": "msg_1", "content": [], "stop_reason": "end_turn", "usage": {}}
    assert anthropic_response_to_openai(body, model="m")["choices"][0]["message"]["content"] is None


ANTHROPIC_SSE = b"""event: message_start
data: {"type":"message_start","message":{"id":"msg_01ABC","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}

event: ping
data: {"type":"ping"}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_A","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\\"Paris\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_B","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":\\"Rome\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}}

event: message_stop
data: {"type":"message_stop"}

"""


def run_stream(
    raw: bytes, include_usage: bool
) -> tuple[list[dict[str, Any]], AnthropicStreamToOpenAI]:
    translator = AnthropicStreamToOpenAI("my-model", include_usage, created=1)
    decoder = SSEDecoder()
    chunks: list[dict[str, Any]] = []
    for event in [*decoder.feed(raw), *decoder.close()]:
        chunks.extend(translator.feed(event.event or "", json.loads(event.data)))
    chunks.extend(translator.close())
    return chunks, translator


def test_stream_translates_text_thinking_and_parallel_tool_calls() -> None:
    chunks, translator = run_stream(ANTHROPIC_SSE, include_usage=False)
    assert {c["id"] for c in chunks} == {"chatcmpl-01ABC"}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "my-model" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": "Hmm."}
    # the thinking block's signature_delta
    assert deltas[2]["thinking_blocks"][0]["type"] == "thinking"
    del deltas[2]
    assert deltas[2] == {"content": "Checking"}
    assert deltas[3] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "toolu_A",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    assert deltas[4] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}
    assert deltas[5] == {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}
    assert deltas[6]["tool_calls"][0]["index"] == 1
    assert deltas[7] == {"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Rome"}'}}]}
    assert deltas[8] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all("usage" not in c for c in chunks)
    assert translator.usage == Usage(input_tokens=30, output_tokens=42, cached_input_tokens=5)
    assert translator.close() == []  # the end is sent once


def test_stream_usage_chunk_only_when_asked() -> None:
    chunks, _ = run_stream(ANTHROPIC_SSE, include_usage=True)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 30,
        "completion_tokens": 42,
        "total_tokens": 72,
        "prompt_tokens_details": {"cached_tokens": 5},
    }
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_cut_before_message_stop_still_closes_cleanly() -> None:
    head = ANTHROPIC_SSE.split(b"event: content_block_stop")[0]
    chunks, _ = run_stream(head, include_usage=False)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
