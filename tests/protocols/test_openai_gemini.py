"""OpenAI-speaking client → Gemini provider: requests, responses and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from junction_protocols.errors import ConversionError
from junction_protocols.openai_gemini import (
    GeminiStreamToOpenAI,
    gemini_response_to_openai,
    openai_request_to_gemini,
)
from junction_protocols.usage import Usage

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


# -- requests -------------------------------------------------------------------------------


def test_plain_request_with_system_prompt_and_sampling() -> None:
    body = {
        "model": "gemini-pro",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Weather?"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 100,
        "stop": "END",
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.1,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u-1",
    }
    assert openai_request_to_gemini(body) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "Weather?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in English."}]},
        "generationConfig": {
            "temperature": 0.2,
            "topP": 0.9,
            "presencePenalty": 0.5,
            "frequencyPenalty": 0.1,
            "seed": 7,
            "maxOutputTokens": 100,
            "stopSequences": ["END"],
        },
    }


def test_max_completion_tokens_wins_over_max_tokens_and_null_fields_are_absent() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "temperature": None,
        "logit_bias": None,
        "n": 1,
    }
    assert openai_request_to_gemini(body)["generationConfig"] == {"maxOutputTokens": 20}


def test_n_becomes_candidate_count() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "n": 3}
    assert openai_request_to_gemini(body)["generationConfig"] == {"candidateCount": 3}


def test_images_data_url_inline_and_http_url_file_data() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.jpg?s=1", "detail": "high"},
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/img"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                    {
                        "type": "file",
                        "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a"},
                    },
                ],
            }
        ]
    }
    assert openai_request_to_gemini(body)["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
        {"fileData": {"fileUri": "https://example.com/cat.jpg?s=1", "mimeType": "image/jpeg"}},
        {"fileData": {"fileUri": "https://example.com/img"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGR"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
    ]


def test_tools_keep_full_json_schema_and_tool_choice_maps_to_calling_config() -> None:
    body = {
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    out = openai_request_to_gemini(body)
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather of a city",
                    "parametersJsonSchema": WEATHER_TOOL["function"]["parameters"],
                }
            ]
        }
    ]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        ("none", {"mode": "NONE"}),
        ("auto", {"mode": "AUTO"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(tool_choice: Any, config: dict[str, Any]) -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": tool_choice,
    }
    assert openai_request_to_gemini(body)["toolConfig"] == {"functionCallingConfig": config}


def test_allowed_tools_auto_keeps_only_the_allowed_declarations() -> None:
    other = {"type": "function", "function": {"name": "get_time"}}
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": [WEATHER_TOOL, other],
        "tool_choice": {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "auto",
                "tools": [{"type": "function", "function": other["function"]}],
            },
        },
    }
    out = openai_request_to_gemini(body)
    assert out["tools"] == [{"functionDeclarations": [{"name": "get_time"}]}]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


def test_parallel_tool_calls_and_results_map_back_to_function_names() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        "extra_content": {"google": {"thought_signature": "c2ln"}},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
            {
                "role": "tool",
                "tool_call_id": "call_b",
                "content": [{"type": "text", "text": "sunny"}],
            },
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
    }
    assert openai_request_to_gemini(body)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2ln",
                },
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
            ],
        },
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]


def test_json_response_formats() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "additionalProperties": False,
    }
    base = {"messages": [{"role": "user", "content": "x"}]}
    json_object = openai_request_to_gemini({**base, "response_format": {"type": "json_object"}})
    assert json_object["generationConfig"] == {"responseMimeType": "application/json"}
    json_schema = openai_request_to_gemini(
        {
            **base,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": schema, "strict": True},
            },
        }
    )
    assert json_schema["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


def test_reasoning_effort_becomes_thinking_budget() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low"}
    assert openai_request_to_gemini(body)["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"response_format": {"type": "grammar"}}, "response_format"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "tool", "tool_call_id": "call_x", "content": "42"}]},
            "messages[0].tool_call_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].tool_calls[0]",
        ),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]"),
    ],
)
def test_unsupported_requests_raise_conversion_error(body: dict[str, Any], param: str) -> None:
    request = {"messages": [{"role": "user", "content": "x"}], **body}
    with pytest.raises(ConversionError) as info:
        openai_request_to_gemini(request)
    assert info.value.param == param


# -- whole responses ------------------------------------------------------------------------


def test_plain_response_with_usage() -> None:
    gemini = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Hello"}, {"text": " world"}]},
                "finishReason": "STOP",
                "safetyRatings": [],
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "totalTokenCount": 15,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "abc123",
    }
    out = gemini_response_to_openai(gemini, model="my-model")
    assert out["id"] == "chatcmpl-abc123"
    assert out["object"] == "chat.completion"
    assert out["model"] == "my-model"
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello world", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def test_thoughts_cached_tokens_and_reasoning_usage() -> None:
    gemini = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Let me think", "thought": True}, {"text": "42"}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 60,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 30,
            "totalTokenCount": 132,
        },
    }
    out = gemini_response_to_openai(gemini, model="m")
    assert out["choices"][0]["message"]["content"] == "42"
    assert out["choices"][0]["message"]["reasoning_content"] == "Let me think"
    assert out["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 32,
        "total_tokens": 132,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }


def test_parallel_function_calls_become_tool_calls_with_generated_ids() -> None:
    gemini = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "c2ln",
                        },
                        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                        {"functionCall": {"id": "fc-9", "name": "get_time", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "responseId": "r1",
    }
    choice = gemini_response_to_openai(gemini, model="m")["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_r1_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            "extra_content": {"google": {"thought_signature": "c2ln"}},
        },
        {
            "id": "call_r1_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
        },
        {"id": "fc-9", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]


@pytest.mark.parametrize(
    ("gemini_reason", "openai_reason"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("OTHER", "stop"),
        ("SOME_FUTURE_REASON", "stop"),
    ],
)
def test_finish_reasons(gemini_reason: str, openai_reason: str) -> None:
    gemini = {
        "candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": gemini_reason}]
    }
    assert (
        gemini_response_to_openai(gemini, model="m")["choices"][0]["finish_reason"] == openai_reason
    )


def test_blocked_prompt_is_an_empty_content_filter_choice() -> None:
    gemini = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    out = gemini_response_to_openai(gemini, model="m")
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": None},
            "logprobs": None,
            "finish_reason": "content_filter",
        }
    ]
    assert out["usage"]["prompt_tokens"] == 4


def test_several_candidates_become_several_choices() -> None:
    gemini = {
        "candidates": [
            {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"},
            {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS", "index": 1},
        ]
    }
    choices = gemini_response_to_openai(gemini, model="m")["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]


# -- streams --------------------------------------------------------------------------------


def _deltas(chunks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    return [
        (c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c["choices"]
    ]


def test_streamed_text_then_usage_chunk() -> None:
    stream = GeminiStreamToOpenAI("my-model", include_usage=True, created=1700000000)
    events = [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "rid",
        },
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {
                "promptTokenCount": 7,
                "candidatesTokenCount": 2,
                "totalTokenCount": 9,
            },
            "responseId": "rid",
        },
    ]
    chunks = [c for e in events for c in stream.feed(e)] + stream.close()
    assert chunks[0] == {
        "id": "chatcmpl-rid",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "my-model",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
        "usage": None,
    }
    assert _deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        ({}, "stop"),
    ]
    assert chunks[-1] == {
        "id": "chatcmpl-rid",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "my-model",
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }
    assert stream.usage == Usage(input_tokens=7, output_tokens=2)
    assert stream.finish_reason == "stop"


def test_stream_without_include_usage_sends_no_usage_fields() -> None:
    stream = GeminiStreamToOpenAI("m", include_usage=False)
    chunks = stream.feed(
        {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]}
    )
    chunks += stream.close()
    assert all("usage" not in c for c in chunks)
    assert _deltas(chunks)[-1] == ({}, "stop")


def test_streamed_function_calls_arrive_whole_as_tool_call_deltas() -> None:
    stream = GeminiStreamToOpenAI("m", include_usage=False)
    chunks = stream.feed(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Checking.", "thoughtSignature": "dGV4dA=="},
                            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                        ],
                    }
                }
            ],
        }
    )
    chunks += stream.feed(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 20,
                "candidatesTokenCount": 10,
                "thoughtsTokenCount": 5,
            },
        }
    )
    assert _deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        (
            {
                "content": "Checking.",
                "thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "dGV4dA=="}],
            },
            None,
        ),
        (
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ]
            },
            None,
        ),
        (
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                    }
                ]
            },
            None,
        ),
        ({}, "tool_calls"),
    ]
    assert stream.finish_reason == "tool_calls"
    assert stream.usage == Usage(input_tokens=20, output_tokens=15, reasoning_tokens=5)


def test_streamed_thoughts_become_reasoning_content() -> None:
    stream = GeminiStreamToOpenAI("m", include_usage=False)
    chunks = stream.feed(
        {"candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}]}}]}
    )
    assert _deltas(chunks)[1] == ({"reasoning_content": "hmm"}, None)


def test_streamed_safety_stop_and_blocked_prompt() -> None:
    stream = GeminiStreamToOpenAI("m", include_usage=False)
    chunks = stream.feed({"candidates": [{"finishReason": "SAFETY"}]})
    assert _deltas(chunks) == [({"role": "assistant", "content": ""}, None), ({}, "content_filter")]

    blocked = GeminiStreamToOpenAI("m", include_usage=False)
    chunks = blocked.feed({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})
    assert _deltas(chunks)[-1] == ({}, "content_filter")
    assert blocked.finish_reason == "content_filter"


def test_stream_cut_before_the_final_chunk_invents_no_finish_reason() -> None:
    stream = GeminiStreamToOpenAI("m", include_usage=True)
    chunks = stream.feed({"candidates": [{"content": {"parts": [{"text": "partial"}]}}]})
    chunks += stream.close()
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks if c["choices"])
    assert stream.finish_reason is None
    assert stream.close() == []


def test_stream_chunks_are_json_serialisable() -> None:
    stream = GeminiStreamToOpenAI("m")
    chunks = stream.feed(
        {"candidates": [{"content": {"parts": [{"text": "é"}]}, "finishReason": "STOP"}]}
    )
    for chunk in chunks + stream.close():
        assert json.loads(json.dumps(chunk)) == chunk
