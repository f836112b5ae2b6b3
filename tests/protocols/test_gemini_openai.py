"""Gemini-speaking client → OpenAI provider: requests, responses and streams."""

from __future__ import annotations

from typing import Any

import pytest

from junction_protocols.errors import ConversionError
from junction_protocols.gemini_openai import (
    OpenAIStreamToGemini,
    gemini_request_to_openai,
    openai_response_to_gemini,
)
from junction_protocols.usage import Usage

WEATHER = {
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING", "example": "Paris"},
            "days": {"type": "INTEGER", "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": "3"},
        },
        "required": ["city"],
        "propertyOrdering": ["city", "days", "tags"],
    },
}


def _convert(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    return gemini_request_to_openai(body, upstream_model="gpt-4o", stream=stream)


# -- requests -------------------------------------------------------------------------------


def test_plain_request_with_system_instruction_and_generation_config() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo!"}]},
            {"role": "user", "parts": [{"text": "Weather?"}]},
        ],
        "generationConfig": {
            "temperature": 0.3,
            "topP": 0.8,
            "maxOutputTokens": 64,
            "stopSequences": ["END"],
            "candidateCount": 1,
            "seed": 3,
            "thinkingConfig": {"thinkingBudget": 0},
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    assert _convert(body) == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Weather?"},
        ],
        "temperature": 0.3,
        "top_p": 0.8,
        "max_completion_tokens": 64,
        "seed": 3,
        "stop": ["END"],
    }


def test_streaming_request_asks_for_usage() -> None:
    out = _convert({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}, stream=True)
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}


def test_images_and_audio_parts() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Describe"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                    {
                        "fileData": {
                            "mimeType": "image/jpeg",
                            "fileUri": "https://example.com/a.jpg",
                        }
                    },
                    {"inlineData": {"mimeType": "audio/mpeg", "data": "SUQz"}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
                ],
            }
        ]
    }
    assert _convert(body)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER"}},
            ],
        }
    ]


def test_openapi_parameters_become_json_schema_and_tool_config_maps() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "Weather?"}]}],
        "tools": [{"functionDeclarations": [WEATHER]}],
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
        },
    }
    out = _convert(body)
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "examples": ["Paris"]},
                        "days": {"type": ["integer", "null"]},
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                    },
                    "required": ["city"],
                },
            },
        }
    ]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_parameters_json_schema_passes_through_untouched() -> None:
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "additionalProperties": False,
    }
    body = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "search", "parametersJsonSchema": schema}]}],
    }
    assert _convert(body)["tools"] == [
        {"type": "function", "function": {"name": "search", "parameters": schema}}
    ]


@pytest.mark.parametrize(
    ("config", "tool_choice"),
    [
        ({"mode": "NONE"}, "none"),
        ({"mode": "AUTO"}, "auto"),
        ({"mode": "ANY"}, "required"),
        (
            {"mode": "ANY", "allowedFunctionNames": ["a", "b"]},
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [
                        {"type": "function", "function": {"name": "a"}},
                        {"type": "function", "function": {"name": "b"}},
                    ],
                },
            },
        ),
        ({"mode": "VALIDATED"}, "auto"),
    ],
)
def test_function_calling_modes(config: dict[str, Any], tool_choice: Any) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}]}],
        "toolConfig": {"functionCallingConfig": config},
    }
    assert _convert(body)["tool_choice"] == tool_choice


def test_function_calls_and_responses_get_ids_and_tool_messages() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Paris and Rome?"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "thinking...", "thought": True},
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
                    {"text": "And tomorrow?"},
                ],
            },
        ]
    }
    assert _convert(body)["messages"] == [
        {"role": "user", "content": "Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "And tomorrow?"},
    ]


def test_function_response_ids_are_matched_when_given() -> None:
    body = {
        "contents": [
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"id": "x1", "name": "f", "args": {}}},
                    {"functionCall": {"id": "x2", "name": "f", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"id": "x2", "name": "f", "response": {"v": 2}}}],
            },
        ]
    }
    assert _convert(body)["messages"][1] == {
        "role": "tool",
        "tool_call_id": "x2",
        "content": '{"v": 2}',
    }


def test_json_output_formats() -> None:
    base = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    plain = _convert({**base, "generationConfig": {"responseMimeType": "application/json"}})
    assert plain["response_format"] == {"type": "json_object"}
    schema = {"type": "OBJECT", "properties": {"a": {"type": "NUMBER"}}}
    typed = _convert(
        {
            **base,
            "generationConfig": {"responseMimeType": "application/json", "responseSchema": schema},
        }
    )
    assert typed["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "response",
            "schema": {"type": "object", "properties": {"a": {"type": "number"}}},
        },
    }


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"cachedContent": "cachedContents/abc"}, "cachedContent"),
        ({"generationConfig": {"topK": 40}}, "generationConfig.topK"),
        ({"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
        (
            {"generationConfig": {"responseModalities": ["IMAGE"]}},
            "generationConfig.responseModalities",
        ),
        ({"generationConfig": {"responseMimeType": "text/x.enum"}}, "generationConfig"),
        ({"tools": [{"googleSearch": {}}]}, "tools[0]"),
        (
            {"contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/a.png"}}]}]},
            "contents[0].parts[0]",
        ),
        (
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [
                            {
                                "fileData": {
                                    "mimeType": "image/png",
                                    "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
                                }
                            }
                        ],
                    }
                ]
            },
            "contents[0].parts[0]",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
                ]
            },
            "contents[0].parts[0]",
        ),
        (
            {"contents": [{"role": "model", "parts": [{"executableCode": {"code": "print(1)"}}]}]},
            "contents[0].parts[0]",
        ),
    ],
)
def test_unsupported_requests_raise_conversion_error(extra: dict[str, Any], param: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], **extra}
    with pytest.raises(ConversionError) as info:
        _convert(body)
    assert info.value.param == param


# -- whole responses ------------------------------------------------------------------------


def test_plain_response_with_usage_and_model_version() -> None:
    openai = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 40,
            "total_tokens": 52,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 30},
        },
    }
    assert openai_response_to_gemini(openai, model="gemini-alias") == {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Hello"}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 12,
            "candidatesTokenCount": 10,
            "thoughtsTokenCount": 30,
            "cachedContentTokenCount": 8,
            "totalTokenCount": 52,
        },
        "modelVersion": "gemini-alias",
        "responseId": "chatcmpl-1",
    }


def test_tool_calls_and_reasoning_become_parts() -> None:
    openai = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "need weather",
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    candidate = openai_response_to_gemini(openai, model="m")["candidates"][0]
    assert candidate == {
        "content": {
            "role": "model",
            "parts": [
                {"text": "need weather", "thought": True},
                {
                    "functionCall": {
                        "name": "get_weather",
                        "args": {"city": "Paris"},
                        "id": "call_9",
                    }
                },
            ],
        },
        "finishReason": "STOP",
        "index": 0,
    }


@pytest.mark.parametrize(
    ("openai_reason", "gemini_reason"),
    [
        ("stop", "STOP"),
        ("length", "MAX_TOKENS"),
        ("content_filter", "SAFETY"),
        ("tool_calls", "STOP"),
        ("odd", "OTHER"),
    ],
)
def test_finish_reasons(openai_reason: str, gemini_reason: str) -> None:
    openai = {"choices": [{"message": {"content": "x"}, "finish_reason": openai_reason}]}
    assert (
        openai_response_to_gemini(openai, model="m")["candidates"][0]["finishReason"]
        == gemini_reason
    )


def test_malformed_tool_arguments_are_reported_not_invented() -> None:
    openai = {
        "choices": [
            {
                "message": {
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{oops"},
                        }
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    candidate = openai_response_to_gemini(openai, model="m")["candidates"][0]
    assert candidate["finishReason"] == "MALFORMED_FUNCTION_CALL"
    assert candidate["content"]["parts"] == [{"text": ""}]


# -- streams --------------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s1",
        "object": "chat.completion.chunk",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


USAGE_CHUNK = {
    "id": "chatcmpl-s1",
    "object": "chat.completion.chunk",
    "choices": [],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}


def test_streamed_text_with_final_chunk_carrying_finish_and_usage() -> None:
    stream = OpenAIStreamToGemini("gemini-alias")
    chunks: list[dict[str, Any]] = []
    for event in [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({}, "stop"),
        USAGE_CHUNK,
    ]:
        chunks += stream.feed(event)
    chunks += stream.close()
    assert chunks == [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}],
            "modelVersion": "gemini-alias",
            "responseId": "chatcmpl-s1",
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "index": 0}],
            "modelVersion": "gemini-alias",
            "responseId": "chatcmpl-s1",
        },
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": ""}]},
                    "index": 0,
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 3,
                "totalTokenCount": 8,
            },
            "modelVersion": "gemini-alias",
            "responseId": "chatcmpl-s1",
        },
    ]
    assert stream.usage == Usage(input_tokens=5, output_tokens=3)
    assert stream.finish_reason == "stop"


def test_streamed_tool_call_fragments_are_sent_as_one_whole_function_call() -> None:
    stream = OpenAIStreamToGemini("m")
    chunks: list[dict[str, Any]] = []
    for event in [
        _chunk({"role": "assistant", "content": None, "reasoning_content": "hmm"}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "now", "arguments": "{}"},
                    }
                ]
            }
        ),
        _chunk({}, "tool_calls"),
    ]:
        chunks += stream.feed(event)
    assert chunks == [
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "hmm", "thought": True}]},
                    "index": 0,
                }
            ],
            "modelVersion": "m",
            "responseId": "chatcmpl-s1",
        }
    ]
    chunks = stream.feed(USAGE_CHUNK) + stream.close()
    assert chunks == [
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "functionCall": {
                                    "name": "get_weather",
                                    "args": {"city": "Paris"},
                                    "id": "call_a",
                                }
                            },
                            {"functionCall": {"name": "now", "args": {}, "id": "call_b"}},
                        ],
                    },
                    "index": 0,
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 3,
                "totalTokenCount": 8,
            },
            "modelVersion": "m",
            "responseId": "chatcmpl-s1",
        }
    ]
    assert stream.finish_reason == "tool_calls"


def test_stream_without_usage_chunk_flushes_on_close() -> None:
    stream = OpenAIStreamToGemini("m")
    chunks = stream.feed(_chunk({"content": "x"}, "length")) + stream.close()
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert "usageMetadata" not in chunks[-1]
    assert stream.close() == []


def test_streamed_malformed_arguments_end_with_malformed_function_call() -> None:
    stream = OpenAIStreamToGemini("m")
    stream.feed(
        _chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{bad"}}
                ]
            }
        )
    )
    stream.feed(_chunk({}, "tool_calls"))
    final = stream.feed(USAGE_CHUNK)
    assert final[0]["candidates"][0]["finishReason"] == "MALFORMED_FUNCTION_CALL"


def test_stream_cut_before_finish_sends_no_finish_reason() -> None:
    stream = OpenAIStreamToGemini("m")
    stream.feed(_chunk({"content": "partial"}))
    assert stream.close() == []
    assert stream.finish_reason is None
