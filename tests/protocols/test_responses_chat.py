"""OpenAI Responses API client → Chat Completions: requests and plain responses."""

# Literal wire text (JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import pytest

from junction_protocols.errors import ConversionError
from junction_protocols.responses_chat import (
    StatefulRequest,
    UnsupportedTool,
    chat_response_to_responses,
    check_stateless,
    responses_request_to_chat,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "strict": True,
}


def convert(**body: Any) -> dict[str, Any]:
    body.setdefault("input", "Hi")
    return responses_request_to_chat({"model": "gpt-4o", **body})


def test_text_input_and_instructions_become_system_and_user_messages() -> None:
    assert convert(input="Hello", instructions="Be brief.") == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
        ],
    }


def test_input_items_become_chat_messages_in_order() -> None:
    body = json.loads(
        """{"input": [
        {"role": "developer", "content": "Answer in French."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is in this picture?"},
            {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
        ]},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "A cat.", "annotations": []}]}
    ]}"""
    )
    assert convert(**body)["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        },
        {"role": "assistant", "content": "A cat."},
    ]


def test_function_calls_and_outputs_round_trip_as_tool_calls_and_tool_messages() -> None:
    body = json.loads(
        """{"input": [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}", "status": "completed"},
        {"type": "function_call", "id": "fc_2", "call_id": "call_b", "name": "get_weather", "arguments": "{\\"city\\":\\"Oslo\\"}"},
        {"type": "function_call_output", "call_id": "call_a", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "3C"}]}
    ]}"""
    )
    assert convert(**body)["messages"] == [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "3C"},
    ]


def test_a_function_call_after_assistant_text_joins_that_turn() -> None:
    out = convert(
        input=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Let me look."},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        ]
    )
    assert out["messages"][1] == {
        "role": "assistant",
        "content": "Let me look.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }


def test_reasoning_items_are_dropped() -> None:
    out = convert(
        input=[
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert out["messages"] == [{"role": "user", "content": "Hi"}]


def test_flat_function_tools_become_nested_chat_tools() -> None:
    out = convert(
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert out["parallel_tool_calls"] is False


def test_parallel_tool_calls_without_tools_is_not_sent() -> None:
    assert "parallel_tool_calls" not in convert(parallel_tool_calls=True)


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_string_tool_choices_are_kept(choice: str) -> None:
    assert convert(tools=[WEATHER], tool_choice=choice)["tool_choice"] == choice


def test_allowed_tools_choice_maps_to_its_chat_form() -> None:
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "get_weather"}],
    }
    assert convert(tools=[WEATHER], tool_choice=choice)["tool_choice"] == {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        },
    }


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "computer_use_preview"},
    ],
)
def test_built_in_tools_are_refused_clearly(tool: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedTool) as info:
        convert(tools=[WEATHER, tool])
    assert info.value.param == "tools[1]"
    assert tool["type"] in info.value.message


def test_sampling_limits_reasoning_and_identity_fields_map() -> None:
    out = convert(
        max_output_tokens=50,
        temperature=0.2,
        top_p=0.9,
        reasoning={"effort": "low", "summary": "auto"},
        user="u-1",
        safety_identifier="s-1",
        metadata={"team": "a"},
        truncation="auto",
        include=["reasoning.encrypted_content"],
    )
    assert out == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "safety_identifier": "s-1",
        "reasoning_effort": "low",
    }


def test_structured_output_formats_become_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    out = convert(
        text={
            "format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True},
            "verbosity": "low",
        }
    )
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }
    assert out["verbosity"] == "low"
    assert convert(text={"format": {"type": "json_object"}})["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in convert(text={"format": {"type": "text"}})


def test_a_stream_asks_the_chat_stream_for_usage() -> None:
    out = convert(stream=True)
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("store", True),
        ("previous_response_id", "resp_1"),
        ("conversation", "conv_1"),
        ("background", True),
    ],
)
def test_stateful_requests_are_refused(field: str, value: object) -> None:
    with pytest.raises(StatefulRequest) as info:
        convert(**{field: value})
    assert info.value.param == field
    with pytest.raises(StatefulRequest):
        check_stateless({field: value})


def test_store_false_and_absent_are_stateless() -> None:
    check_stateless({"store": False})
    check_stateless({})


def test_item_references_need_storage() -> None:
    with pytest.raises(StatefulRequest):
        convert(input=[{"type": "item_reference", "id": "msg_1"}])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": 3}, "input"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0]"),
        (
            {
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}
                ]
            },
            "input[0].content[0]",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0]",
        ),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format"),
        ({"instructions": ["x"]}, "instructions"),
    ],
)
def test_what_chat_cannot_express_is_refused_with_its_param(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(ConversionError) as info:
        convert(**body)
    assert info.value.param == param


def test_inline_files_pass_as_chat_file_parts() -> None:
    part = {
        "type": "input_file",
        "filename": "a.pdf",
        "file_data": "data:application/pdf;base64,JVBERi0=",
    }
    out = convert(input=[{"role": "user", "content": [part]}])
    assert out["messages"][0]["content"] == [
        {"type": "file", "file": {"file_data": part["file_data"], "filename": "a.pdf"}}
    ]


CHAT_TEXT = json.loads(
    """{"id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1741476542, "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!", "refusal": null},
                 "logprobs": null, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
              "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}}}"""
)


def test_a_text_answer_becomes_a_completed_response_with_one_message() -> None:
    request = {
        "model": "demo",
        "input": "Hi",
        "instructions": "Be brief.",
        "metadata": {"team": "a"},
        "max_output_tokens": 64,
    }
    out = chat_response_to_responses(CHAT_TEXT, request=request, model="demo")
    assert out["id"] == "resp_AbC123"
    assert out["object"] == "response"
    assert out["created_at"] == 1741476542
    assert out["status"] == "completed"
    assert out["model"] == "demo"
    assert out["store"] is False
    assert (out["instructions"], out["metadata"], out["max_output_tokens"]) == (
        "Be brief.",
        {"team": "a"},
        64,
    )
    [message] = out["output"]
    assert message["type"] == "message"
    assert message["id"].startswith("msg_")
    assert (message["role"], message["status"]) == ("assistant", "completed")
    assert message["content"] == [
        {"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello there!"}
    ]
    assert out["usage"] == {
        "input_tokens": 19,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 29,
    }


def test_tool_calls_become_function_call_items() -> None:
    chat = json.loads(
        """{"id": "chatcmpl-T", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
          "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Oslo\\"}"}}]}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}"""
    )
    out = chat_response_to_responses(chat, request={"tools": [WEATHER]}, model="m")
    [call] = out["output"]
    assert call["type"] == "function_call"
    assert call["id"].startswith("fc_")
    assert (call["call_id"], call["name"], call["arguments"], call["status"]) == (
        "call_1",
        "get_weather",
        '{"city":"Oslo"}',
        "completed",
    )
    assert out["tools"] == [WEATHER]
    assert out["status"] == "completed"


def test_reasoning_and_refusal_are_kept_as_their_own_item_and_part() -> None:
    chat = {
        "id": "chatcmpl-R",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": "I cannot help.",
                    "reasoning_content": "Thinking it over.",
                },
            }
        ],
    }
    out = chat_response_to_responses(chat, request={}, model="m")
    reasoning, message = out["output"]
    assert reasoning["type"] == "reasoning"
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Thinking it over."}]
    assert message["content"] == [{"type": "refusal", "refusal": "I cannot help."}]


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_a_cut_answer_is_an_incomplete_response(finish: str, reason: str) -> None:
    chat = {**CHAT_TEXT, "choices": [{**CHAT_TEXT["choices"][0], "finish_reason": finish}]}
    out = chat_response_to_responses(chat, request={}, model="m")
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": reason}
    assert out["completed_at"] is None
